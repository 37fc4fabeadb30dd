"""A saved plan is applied exactly as it was made (found by review: `apply --plan F --target X`
ran every step of F and exited 0, and `--rotate X` with a saved plan rotated nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpctl.cli.main import main


@pytest.mark.parametrize(
    "flags",
    [
        ["--target", "altinn-sync"],
        ["--rotate", "altinn-sync"],
        ["--revoke", "some-kid"],
        ["--revoke-previous"],
        ["--remove-foreign-kids", "altinn-sync"],
    ],
    ids=lambda flags: flags[0],
)
def test_flags_that_shape_a_fresh_plan_are_refused_with_a_saved_one(
    project: Path, tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "plan.json"
    assert main(["plan", "--manifests", str(project), "--out", str(saved)]) == 0
    capsys.readouterr()
    code = main(
        ["apply", "--manifests", str(project), "--plan", str(saved), "--auto-approve", *flags]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert f"{flags[0]} shape a fresh plan and cannot change a saved one" in err
    assert "nothing was written" in err
    # nothing was applied: the same saved plan still applies cleanly afterwards
    assert main(["apply", "--manifests", str(project), "--plan", str(saved), "--auto-approve"]) == 0
