"""The README documents every flag and every variable that exists (issue 14): a new option or
`MPCTL_*` variable that the README does not mention fails here, naming it."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from typer import _click
from typer.core import TyperGroup, TyperOption

from mpctl.cli.app import COMMANDS, build_command

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_VARIABLE = re.compile(r"\bMPCTL_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
_TEST_ONLY = re.compile(r"^MPCTL_(CONTRACT|FUZZ|SAFETY|SOAK|UPDATE)_?")
"""Variables of the test suite, documented under Development by their commands."""


def _commands(command: _click.Command, path: str) -> Iterator[tuple[str, _click.Command]]:
    if command.hidden:
        return
    yield path, command
    if isinstance(command, TyperGroup):
        for name, child in command.commands.items():
            yield from _commands(child, f"{path} {name}")


def _undocumented_options() -> list[str]:
    missing = []
    for entry in COMMANDS:
        for path, command in _commands(build_command(entry), entry.name):
            for parameter in command.params:
                if not isinstance(parameter, TyperOption) or parameter.hidden:
                    continue
                names = [n for n in parameter.opts if n not in ("--help", "-h")]
                longest = max(names, key=len)
                if longest.startswith("--") and f"{longest}" not in README:
                    missing.append(f"mpctl {path} {longest}")
    return sorted(set(missing))


def test_every_option_of_every_command_is_in_the_readme() -> None:
    assert _undocumented_options() == []


def test_the_readme_command_reference_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_mpctl_variable_the_code_reads_is_in_the_readme() -> None:
    used = {
        name
        for source in (ROOT / "mpctl").rglob("*.py")
        for name in _VARIABLE.findall(source.read_text(encoding="utf-8"))
    }
    missing = sorted(name for name in used if name not in README and not _TEST_ONLY.match(name))
    assert missing == []
