"""`mpctl --help` and every `mpctl <cmd> --help`: the text reviewed in the snapshots, each listed
command's summary equal to the loaded command's own, and a bare start that stays light.

The snapshots in `help_snapshots.json` are the help as reviewed; regenerate them only
on purpose (`MPCTL_UPDATE_HELP=1 pytest tests/unit/cli/test_help.py`) and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperCommand, TyperGroup

from mpctl.cli.app import COMMANDS, LazyCommand, LazyCommands, app, build_command
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
    ("init",),
    ("show",),
    ("graph",),
    ("output",),
    ("fmt",),
    ("state",),
    ("state", "list"),
    ("state", "show"),
    ("keys",),
    ("keys", "create"),
    ("keys", "export"),
    ("keys", "revoke"),
    ("emulator",),
    ("emulator", "serve"),
    ("emulator", "issue-certificate"),
    ("emulator", "reset"),
    ("gitops",),
    ("gitops", "plan"),
    ("gitops", "apply"),
    ("gitops", "drift"),
    ("audit",),
    ("audit", "push"),
)
EXAMPLE_PROJECT = Path(__file__).resolve().parents[3] / "manifests"
REMOTE_SIDE = ("mpctl.emulator", "httpx", "mpctl.verify", "mpctl.remote", "mpctl.apply", "uvicorn")
HEAVY_MODULES = ("mpctl.emulator", "httpx", "rich", "mpctl.verify", "jinja2", "cryptography")
LOADED_BY_RUN = """
import runpy, sys
sys.argv = ["mpctl", *sys.argv[1:]]
try:
    runpy.run_module("mpctl", run_name="__main__")
except SystemExit as exit:
    assert exit.code == 0, exit.code
print("\\n".join(sorted(sys.modules)), file=sys.stderr)
"""


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


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda entry: entry.name)
@pytest.mark.parametrize("limit", [20, 45, 74, 200])
def test_the_listed_summary_is_the_commands_own(entry: LazyCommand, limit: int) -> None:
    """`mpctl --help` lists a command from its entry: the text its loaded command would give."""
    stand_in = TyperCommand(entry.name, help=entry.summary)
    loaded = build_command(entry)
    assert stand_in.get_short_help_str(limit) == loaded.get_short_help_str(limit)
    assert loaded.hidden == entry.hidden


def test_the_root_lists_every_command_without_loading_one() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    commands = root.commands
    assert isinstance(commands, LazyCommands)
    assert list(commands) == [entry.name for entry in COMMANDS]
    assert all(name in commands for name in ("validate", "keys", "audit"))
    assert dict.__len__(commands) == 0, "listing names must not build any command"
    assert commands.get("nosuch") is None
    assert isinstance(commands.get("keys"), TyperGroup)
    assert dict.__len__(commands) == 1


def _modules_loaded_by(arguments: list[str], cwd: Path) -> set[str]:
    """Every module a fresh interpreter holds after `mpctl ARGUMENTS` (which must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED_BY_RUN, *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stderr.split())
    assert "mpctl.cli.app" in loaded, "the check must see the modules of the run"
    return loaded


def _among(loaded: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(n for n in loaded if any(n == p or n.startswith(p + ".") for p in packages))


def test_help_alone_loads_no_heavy_module(tmp_path: Path) -> None:
    """`mpctl --help` in a fresh interpreter: no emulator, httpx, rich, verify, jinja2, crypto."""
    loaded = _modules_loaded_by(["--help"], tmp_path)
    assert _among(loaded, HEAVY_MODULES) == []
    assert _among(loaded, ("mpctl.cli.commands",)) == []


@pytest.mark.parametrize(
    "arguments", [["validate"], ["validate", "--help"], ["plan", "--help"]], ids=" ".join
)
def test_validate_and_light_help_load_no_remote_side(arguments: list[str], tmp_path: Path) -> None:
    """validate of the example project, and plan's help, never load the network side."""
    shutil.copytree(EXAMPLE_PROJECT, tmp_path / "manifests")
    loaded = _modules_loaded_by(arguments, tmp_path)
    assert _among(loaded, REMOTE_SIDE) == []
    commands = _among(loaded, ("mpctl.cli.commands",))
    assert commands == ["mpctl.cli.commands", f"mpctl.cli.commands.{arguments[0]}"]
