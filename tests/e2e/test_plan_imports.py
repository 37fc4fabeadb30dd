"""What a drift check that finds nothing does not import: deepdiff (about 10 ms of start-up).

Through the real CLI in fresh interpreters, on a copy of the example project with an empty
`.mpctl/` (the embedded emulator): apply, then `mpctl plan` lists every module it loaded. With
nothing to change deepdiff is never imported; with a changed description it is, so the check
can see it. Must not assert times (benchmarks/startup.py measures them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "manifests"
RUN_AS_DASH_M = """
import runpy, sys
sys.argv = ["mpctl", *sys.argv[1:]]
try:
    runpy.run_module("mpctl", run_name="__main__", alter_sys=True)
finally:
    print("\\n".join(sorted(sys.modules)), file=sys.stderr)
"""


def _mpctl(cwd: Path, *arguments: str) -> tuple[int, str, set[str]]:
    """Exit code, stdout and every module of `mpctl ARGUMENTS` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_AS_DASH_M, *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )
    modules = {line for line in done.stderr.split() if line.isidentifier() or "." in line}
    assert "mpctl.cli.main" in modules, done.stderr[-2000:]
    return done.returncode, done.stdout, modules


def _deepdiff(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m == "deepdiff" or m.startswith("deepdiff."))


def test_a_plan_without_changes_never_imports_deepdiff_and_one_with_a_change_does(
    tmp_path: Path,
) -> None:
    shutil.copytree(EXAMPLE_PROJECT, tmp_path / "manifests")
    (tmp_path / ".mpctl").mkdir()
    code, out, _ = _mpctl(tmp_path, "apply", "--auto-approve")
    assert code == 0, out[-2000:]

    code, out, modules = _mpctl(tmp_path, "plan")
    assert code == 0, out[-2000:]
    assert "No changes" in out
    assert _deepdiff(modules) == []

    resources = tmp_path / "manifests" / "resources"
    changed = next(p for p in sorted(resources.glob("*.yaml")) if "description:" in p.read_text())
    text = changed.read_text()
    changed.write_text(text.replace("description: ", "description: Changed. ", 1))
    code, out, modules = _mpctl(tmp_path, "plan")
    assert code == 0, out[-2000:]
    assert "1 to update" in out
    assert "deepdiff" in _deepdiff(modules)
