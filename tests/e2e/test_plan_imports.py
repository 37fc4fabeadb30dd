"""What a drift check that finds nothing does not import: deepdiff (about 10 ms of start-up).

Through the real CLI in fresh interpreters (test_validate_start's `_imported_by`), on a copy
of the example project with an empty `.mpctl/` (the embedded emulator): apply, then `mpctl
plan` lists every module it loaded. With nothing to change deepdiff is never imported; with a
changed description it is, so the check can see it. Must not assert times
(benchmarks/startup.py measures them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.unit.cli.test_validate_start import _imported_by

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "manifests"


def _deepdiff(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m == "deepdiff" or m.startswith("deepdiff."))


def test_a_plan_without_changes_never_imports_deepdiff_and_one_with_a_change_does(
    tmp_path: Path,
) -> None:
    shutil.copytree(EXAMPLE_PROJECT, tmp_path / "manifests")
    (tmp_path / ".mpctl").mkdir()
    _imported_by(["apply", "--auto-approve"], tmp_path)  # it asserts exit code 0

    modules, out = _imported_by(["plan"], tmp_path)
    assert "No changes" in out
    assert _deepdiff(modules) == []

    resources = tmp_path / "manifests" / "resources"
    changed = next(p for p in sorted(resources.glob("*.yaml")) if "description:" in p.read_text())
    text = changed.read_text()
    changed.write_text(text.replace("description: ", "description: Changed. ", 1))
    modules, out = _imported_by(["plan"], tmp_path)
    assert "1 to update" in out
    assert "deepdiff" in _deepdiff(modules)
