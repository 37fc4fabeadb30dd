"""`mpctl --help` and every `mpctl <cmd> --help`: the same text as before commands loaded lazily,
each listed command's summary equal to the loaded command's own, and a bare start that stays light.

The snapshots in `help_snapshots.json` were taken from the eagerly wired app; regenerate them only
on purpose (`MPCTL_UPDATE_HELP=1 pytest tests/unit/cli/test_help.py`) and review the diff.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from mpctl.cli.main import main

SNAPSHOTS = Path(__file__).with_name("help_snapshots.json")
COMMAND_PATHS = (
    (),
    ("validate",),
    ("plan",),
    ("apply",),
    ("verify",),
    ("import",),
    ("explain",),
    ("readiness",),
    ("schemas",),
    ("keys",),
    ("keys", "create"),
    ("keys", "export"),
    ("keys", "revoke"),
    ("emulator",),
    ("emulator", "serve"),
    ("emulator", "issue-certificate"),
    ("gitops",),
    ("gitops", "plan"),
    ("gitops", "apply"),
    ("gitops", "drift"),
    ("audit",),
    ("audit", "push"),
)
HEAVY_MODULES = ("mpctl.emulator", "httpx", "rich", "mpctl.verify", "jinja2", "cryptography")


def _help_text(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    code = main([*path, "--help"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _key(path: tuple[str, ...]) -> str:
    return " ".join(("mpctl", *path))


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERMINAL_WIDTH", "80")
    monkeypatch.setattr(sys, "argv", ["mpctl"])


def test_update_snapshots_only_on_purpose(capsys: pytest.CaptureFixture[str]) -> None:
    if os.environ.get("MPCTL_UPDATE_HELP") != "1":
        pytest.skip("set MPCTL_UPDATE_HELP=1 to rewrite the help snapshots")
    texts = {_key(path): _help_text(path, capsys) for path in COMMAND_PATHS}
    SNAPSHOTS.write_text(json.dumps(texts, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=_key)
def test_help_is_unchanged(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    snapshots = json.loads(SNAPSHOTS.read_text(encoding="utf-8"))
    assert _help_text(path, capsys) == snapshots[_key(path)]


def test_every_command_has_a_snapshot() -> None:
    snapshots = json.loads(SNAPSHOTS.read_text(encoding="utf-8"))
    assert sorted(snapshots) == sorted(_key(path) for path in COMMAND_PATHS)
