"""Help that teaches (issue 14): `-h`, an example per command, whole summaries, metavars that
say what a value is, and shell completion that knows the lazily loaded commands."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer import _click
from typer.core import TyperGroup, TyperOption

from mpctl.cli.app import COMMANDS, build_command
from mpctl.cli.help_format import EXAMPLES
from mpctl.cli.main import main

MPCTL = str(Path(sys.executable).with_name("mpctl"))
"""The installed entry point: completion is keyed on the program's name (_MPCTL_COMPLETE)."""


def _walk(command: _click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if command.hidden:
        return
    yield path
    if isinstance(command, TyperGroup):
        for name, child in command.commands.items():
            yield from _walk(child, (*path, name))


def _every_command() -> list[tuple[str, ...]]:
    return [p for entry in COMMANDS for p in _walk(build_command(entry), (entry.name,))]


def _help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str], flag: str = "--help") -> str:
    code = main([*path, flag])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def _command(path: tuple[str, ...]) -> _click.Command:
    command = build_command(next(e for e in COMMANDS if e.name == path[0]))
    for name in path[1:]:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return command


def test_every_command_that_runs_has_examples() -> None:
    """A command that does something (not a group of subcommands) has examples of its own."""
    missing = []
    for path in _every_command():
        command = _command(path)
        if not isinstance(command, TyperGroup) and " ".join(path) not in EXAMPLES:
            missing.append(" ".join(path))
    assert missing == []


@pytest.mark.parametrize("path", _every_command(), ids=" ".join)
def test_help_shows_examples_and_readable_metavars(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(path, capsys)
    if " ".join(path) in EXAMPLES:
        assert "Examples:\n    mpctl " in text
    command = _command(path)
    context = _click.Context(command, info_name=path[-1])
    names = [
        record[0]
        for parameter in command.params
        if isinstance(parameter, TyperOption) and (record := parameter.get_help_record(context))
    ]
    assert [name for name in names if "<" in name] == [], "a metavar says what a value is"


@pytest.mark.parametrize("path", [(), ("plan",), ("keys", "export")], ids=str)
def test_dash_h_is_help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert _help(path, capsys, "-h") == _help(path, capsys, "--help")


def test_the_root_lists_every_summary_whole(capsys: pytest.CaptureFixture[str]) -> None:
    listing = " ".join(_help((), capsys).split("\nCommands:\n", 1)[1].split())
    for entry in COMMANDS:
        if not entry.hidden:
            assert " ".join(entry.summary.split()) in listing
    assert "..." not in listing


def _complete(words: str) -> list[str]:
    environment = {
        **os.environ,
        "_MPCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    done = subprocess.run(
        [MPCTL],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_completion_knows_commands_subcommands_and_options() -> None:
    assert _complete("mpctl pl") == ["plan"]
    assert _complete("mpctl keys ") == ["create", "export", "revoke"]
    assert "--parallelism" in _complete("mpctl apply --para")


def test_the_completion_script_can_be_shown() -> None:
    # `--show-completion` prints the script of the shell it runs under (found by walking up
    # the processes): run it from a bash that stays its parent (a lone command would be
    # exec'd in bash's place), as a user types it, whatever started the tests.
    done = subprocess.run(
        ["bash", "-c", f"{shlex.quote(str(MPCTL))} --show-completion; exit $?"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "_MPCTL_COMPLETE=complete_bash" in done.stdout
