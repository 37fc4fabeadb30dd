"""`mpctl init [DIR]`: write a new project that validate, plan, apply and verify take as it is.

Owns the answers (organisation number and name from flags, or asked on a terminal; the project
name from the folder's) and the never-overwrite rule: every file is checked before any is
written, a file that exists with other content stops the run with nothing written, and a file
that already holds exactly what init would write is left as it is, so a run that stopped half
way is finished by running the same command again. An existing `.gitignore` only gets the
`.mpctl/` line appended. The files themselves come from `mpctl.cli.scaffold`. Must not write
keys or credentials (the first apply makes them under `.mpctl/`) nor contact anything.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from mpctl.cli import console
from mpctl.cli.scaffold import (
    CLIENT_FILE,
    GITIGNORE,
    MANIFESTS,
    PROVIDER_ORGNO,
    Answers,
    project_name_from,
    render_project,
)
from mpctl.errors import UserError
from mpctl.files import PUBLIC_MODE, write_atomically
from mpctl.model import RESOURCE_NAME_PATTERN, orgno_problem

_IGNORES_STATE_ANYWHERE = frozenset({".mpctl", ".mpctl/", "**/.mpctl", "**/.mpctl/"})
_NAME_LENGTH = 200
_Check = Callable[[str], str]


@dataclass(frozen=True)
class Write:
    """One file init will write: its path and its whole new content."""

    path: Path
    data: bytes
    replace: bool = False
    """Only an existing .gitignore is replaced (by itself with the `.mpctl/` line appended)."""


def init(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR",
            help="The project folder (made if missing; default: here). Commands then run there.",
        ),
    ] = Path(),
    orgno: Annotated[
        str | None, typer.Option("--orgno", help="Your organisation number (9 digits).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Your organisation's name, as in Enhetsregisteret.")
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", help="The project's identity (default: the folder's name)."),
    ] = None,
) -> None:
    """Start a project: mpctl.yaml, an emulator world and one client, ready to plan.

    Writes DIR/manifests (mpctl.yaml with a `local` environment on the embedded emulator and
    commented `test`/`prod` blocks, the emulator's world, one client), DIR/schemas for editors
    and a .gitignore for .mpctl/. Never overwrites a file. Asks for a missing --orgno or --name
    on a terminal.
    """
    project_name = _project(project, directory)
    given_orgno = None if orgno is None else _checked_orgno(orgno)
    given_name = None if name is None else _checked_name(name)
    _refuse_missing_without_terminal(orgno=orgno is None, name=name is None)
    answers = Answers(
        orgno=given_orgno or _asked("Organisation number (9 digits)", _checked_orgno),
        name=given_name or _asked("Organisation name", _checked_name),
        project=project_name,
    )
    writes = _planned_writes(directory, render_project(answers))
    for write in writes:
        _write(write)
    _report(directory, writes)


def _asked(question: str, check: _Check) -> str:
    """Ask on the terminal until `check` accepts the answer."""
    answer: str = typer.prompt(question, value_proc=lambda value: _as_bad_parameter(check, value))
    return answer


def _refuse_missing_without_terminal(*, orgno: bool, name: bool) -> None:
    """Without a terminal there is nobody to ask: say every missing flag at once."""
    if sys.stdin.isatty() or not (orgno or name):
        return
    missing = [flag for flag, absent in (("--orgno", orgno), ("--name", name)) if absent]
    raise UserError(
        f"missing {' and '.join(missing)} (there is no terminal to ask on)",
        hint='e.g. mpctl init --orgno 313367002 --name "ACME AS"',
    )


def _checked_orgno(value: str) -> str:
    value = "".join(value.split())  # brreg.no shows it as "313 367 002"
    problem = orgno_problem(value)
    if problem:
        raise UserError(f"--orgno: {problem}", hint="copy it from Enhetsregisteret (brreg.no)")
    if value == PROVIDER_ORGNO:
        raise UserError(
            f"--orgno: {value} (Digdir) owns the example API in the emulator world init writes",
            hint="init with another valid number, then put yours in manifests/mpctl.yaml and "
            "give the world's example scope another owner",
        )
    return value


def _checked_name(value: str) -> str:
    value = value.strip()
    if not value or len(value) > _NAME_LENGTH or not value.isprintable():
        raise UserError(
            f"--name: give the organisation's name on one line (1 to {_NAME_LENGTH} characters)"
        )
    return value


def _as_bad_parameter(check: _Check, value: str) -> str:
    """A prompt asks again on `BadParameter`: the reason is shown, without the flag's name."""
    try:
        return check(value)
    except UserError as error:
        reason = error.message.split(": ", 1)[-1]
        raise typer.BadParameter(reason) from None


def _project(given: str | None, directory: Path) -> str:
    if given is not None:
        if not RESOURCE_NAME_PATTERN.match(given):
            raise UserError(
                f"--project {given!r} must be 1-63 lower-case letters, digits or '-', "
                "starting and ending with a letter or digit"
            )
        return given
    derived = project_name_from(directory.resolve().name)
    if derived is None:
        raise UserError(
            f"cannot make a project name from the folder name {directory.resolve().name!r}",
            hint="give one with --project, e.g. --project acme-platform",
        )
    return derived


def _planned_writes(directory: Path, files: dict[str, str]) -> list[Write]:
    """What must be written so that `directory` holds `files`; refuses before any write when an
    existing file holds something else (or a folder it needs is a file)."""
    if _exists(directory) and not directory.is_dir():
        raise UserError(f"{directory} exists and is not a folder")
    writes: list[Write] = []
    conflicts: list[str] = []
    for relative, text in files.items():
        path = directory / relative
        data = text.encode("utf-8")
        blocked = _blocking_parent(directory, relative)
        if blocked is not None:
            conflicts.append(f"{blocked} (not a folder)")
        elif relative == GITIGNORE:
            writes += _gitignore_write(path, data)
        elif not _exists(path):
            writes.append(Write(path, data))
        elif not _holds(path, data):
            conflicts.append(relative)
    if conflicts:
        listed = ", ".join(sorted(set(conflicts)))
        raise UserError(
            f"nothing written: these exist already in {directory}: {listed}",
            hint="run init in an empty folder (mpctl init DIR), or move these files away",
        )
    return writes


def _blocking_parent(directory: Path, relative: str) -> str | None:
    """The first folder on the way to `relative` that exists but is not a folder."""
    parts = Path(relative).parts[:-1]
    for depth in range(1, len(parts) + 1):
        parent = directory.joinpath(*parts[:depth])
        if _exists(parent) and not parent.is_dir():
            return Path(*parts[:depth]).as_posix()
    return None


def _gitignore_write(path: Path, data: bytes) -> list[Write]:
    """A new .gitignore, or the `.mpctl/` line appended to one that does not ignore it yet."""
    if not _exists(path):
        return [Write(path, data)]
    if path.is_symlink() or not path.is_file():
        raise UserError(f"{path} exists and is not a regular file", hint="add `.mpctl/` to it")
    existing = path.read_bytes()
    lines = {line.strip() for line in existing.decode("utf-8", "replace").splitlines()}
    if _IGNORES_STATE_ANYWHERE.intersection(lines):
        return []
    separator = b"" if existing.endswith(b"\n") or not existing else b"\n"
    return [Write(path, existing + separator + data, replace=True)]


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _holds(path: Path, data: bytes) -> bool:
    """Whether `path` is a regular file holding exactly `data` (init's own file, from a run
    that stopped half way)."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _write(write: Write) -> None:
    """Write one file; a new file never replaces one that appeared since the check."""
    try:
        write_atomically(write.path, write.data, mode=_mode(write), overwrite=write.replace)
    except FileExistsError:
        raise UserError(
            f"{write.path} appeared while init ran: left as it is",
            hint="run the same init again to finish (it keeps its own files)",
        ) from None


def _mode(write: Write) -> int:
    """Project files are ordinary, shared files; an appended .gitignore keeps its mode."""
    if write.replace:
        return os.stat(write.path).st_mode & 0o777
    return PUBLIC_MODE


def _report(directory: Path, writes: list[Write]) -> None:
    out = console.stdout()
    if not writes:
        console.success(f"Nothing to write: {directory} already holds this project.")
    else:
        console.success(f"Wrote {len(writes)} file(s) in {directory}:")
        for write in writes:
            out.print(f"  {write.path.relative_to(directory).as_posix()}")
    out.print("\nNext steps:")
    if directory.resolve() != Path.cwd().resolve():
        out.print(f"  cd {shlex.quote(str(directory))}")
    for step in ("validate", "plan", "apply", "verify"):
        out.print(f"  mpctl {step}")
    out.print(
        f"\nThen make {CLIENT_FILE} your own, and set up `test` in {MANIFESTS}/mpctl.yaml "
        "(mpctl plan -e test)."
    )
