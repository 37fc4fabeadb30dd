"""Write (or check) the README's command reference from the CLI itself.

Every command and option, with its help text, between the README's `cli-reference` markers:
the README cannot fall behind the code, because `tests/unit/test_readme_documents_cli.py` runs
this with `--check`. The prose sections of the README explain; this block lists.

    .venv/bin/python scripts/cli_reference.py          # rewrite the block
    .venv/bin/python scripts/cli_reference.py --check  # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

from mpctl.cli.app import COMMANDS, app, build_command

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- cli-reference:start (scripts/cli_reference.py writes this block) -->"
END = "<!-- cli-reference:end -->"


def _commands(command: _click.Command, path: str) -> Iterator[tuple[str, _click.Command]]:
    if command.hidden:
        return
    if not isinstance(command, TyperGroup):
        yield path, command
        return
    for name, child in command.commands.items():
        yield from _commands(child, f"{path} {name}")


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped, `<…>` shown rather than taken for HTML."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return "`" + " ".join(text.split()).replace("|", "\\|") + "`"


def _section(path: str, command: _click.Command) -> list[str]:
    context = _click.Context(command, info_name=path)
    arguments = " ".join(
        (parameter.metavar or parameter.name or "").upper()
        for parameter in command.params
        if isinstance(parameter, TyperArgument)
    )
    summary = (command.help or "").split("\n\n", 1)[0]
    lines = [f"**`mpctl {path}{' ' + arguments if arguments else ''}`**: {_cell(summary)}", ""]
    rows = []
    for parameter in command.params:
        if not isinstance(parameter, TyperOption) or parameter.hidden:
            continue
        record = parameter.get_help_record(context)
        if record is not None:
            rows.append(f"| {_code(record[0])} | {_cell(record[1])} |")
    if rows:
        lines += ["| option | meaning |", "|---|---|", *rows]
    return [*lines, ""]


def reference() -> str:
    """The whole block, markers included."""
    root = _click.Context(_click_root(), info_name="mpctl")
    global_options = [
        f"| {_code(record[0])} | {_cell(record[1])} |"
        for parameter in root.command.params
        if isinstance(parameter, TyperOption) and (record := parameter.get_help_record(root))
    ]
    lines = [START, "", "Options before the command (`mpctl -v plan`):", ""]
    lines += ["| option | meaning |", "|---|---|", *global_options, ""]
    for entry in COMMANDS:
        for path, command in _commands(build_command(entry), entry.name):
            lines += _section(path, command)
    return "\n".join([*lines, END])


def _click_root() -> _click.Command:
    import typer  # noqa: PLC0415

    return typer.main.get_command(app)


def _replaced(text: str, block: str) -> str:
    before, found, rest = text.partition(START)
    if not found or END not in rest:
        raise SystemExit(f"{README}: add the lines {START!r} and {END!r} where the block goes")
    return before + block + rest.split(END, 1)[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the block is stale")
    check = parser.parse_args(argv).check
    text = README.read_text(encoding="utf-8")
    updated = _replaced(text, reference())
    if check:
        if updated != text:
            print("README.md's command reference is stale: run scripts/cli_reference.py")
            return 1
        return 0
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
