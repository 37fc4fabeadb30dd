"""`mpctl fmt`: rewrite manifest files in the canonical form of `mpctl.manifests.canonical`.

Owns which files are formatted (the files and folders given, or every YAML file under the
manifests directory; hidden folders are not walked and Jinja templates are skipped), the atomic
write of each changed file with its mode kept (`mpctl.files.write_atomically`), and the report:
files changed or that would change, unified diffs, FILE:LINE errors. A file that cannot be
read, parsed or formatted is left as it was and the others are still formatted. Must not decide
what the canonical form is, and must not contact anything.
"""

from __future__ import annotations

import difflib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from mpctl.cli import console
from mpctl.cli.options import DEFAULT_MANIFESTS, ManifestsOption

_LOGGER = logging.getLogger("mpctl")
_YAML_SUFFIXES = (".yaml", ".yml", ".yaml.j2", ".yml.j2")


@dataclass(frozen=True)
class _Outcome:
    """What formatting one file came to: changed or not, skipped, or an error at a line."""

    path: Path
    shown: str
    before: str = ""
    after: str = ""
    skipped: bool = False
    error: str = ""
    line: int = 1

    @property
    def changed(self) -> bool:
        return not self.error and not self.skipped and self.after != self.before


def fmt(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="Files or folders to format (default: every YAML file under --manifests).",
            show_default=False,
        ),
    ] = None,
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if any file would change."),
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Write nothing; print the changes as a unified diff.")
    ] = False,
) -> None:
    """Rewrite manifests in the canonical form; --check exits 1 if any would change.

    Canonical: `kind` and `name` first, then the model's field order (unknown keys last, for
    validate to report); org numbers quoted; two-space indentation with sequences indented
    under their key; `null` written out; comments, blank lines and flow style kept; one
    trailing newline. Jinja templates (`.j2`, or any file using `{{`, `{%` or `{#`) are not
    YAML and are skipped (`mpctl -v fmt` lists them). A file that does not parse is reported
    as FILE:LINE and left as it was; the others are still formatted.
    """
    outcomes = [_format_one(path) for path in _targets(paths or [manifests])]
    for outcome in outcomes:
        _report(outcome, write=not (check or diff), diff=diff)
    _summary(outcomes, write=not (check or diff))
    failed = any(outcome.error for outcome in outcomes)
    if failed or (check and any(outcome.changed for outcome in outcomes)):
        raise typer.Exit(1)


def _targets(roots: list[Path]) -> list[Path]:
    """The files named and the YAML files under the folders named, once each, sorted."""
    found: dict[Path, Path] = {}
    for root in roots:
        for path in _yaml_files(root) if root.is_dir() else [root]:
            found.setdefault(path.resolve(), path)
    return [found[key] for key in sorted(found)]


def _yaml_files(folder: Path) -> list[Path]:
    """YAML files under `folder`, not in hidden folders; a symlink to a file outside it is
    skipped (the loader refuses it too), so a walk never writes outside the folder."""
    base = folder.resolve()
    files: list[Path] = []
    for directory, folders, names in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in names:
            path = Path(directory, name)
            if not name.endswith(_YAML_SUFFIXES):
                continue
            if path.resolve().is_relative_to(base):
                files.append(path)
            else:
                _LOGGER.info("skipped %s: a symlink to a file outside %s", path, folder)
    return sorted(files)


def _format_one(path: Path) -> _Outcome:
    from mpctl.manifests import (  # noqa: PLC0415 - fast --help
        PROJECT_FILE,
        CanonicalFormError,
        UnreadableFileError,
        canonical_text,
        display_path,
        is_template,
        read_text,
    )

    shown = display_path(path)
    try:
        text = read_text(path)
    except UnreadableFileError as exc:
        return _Outcome(path, shown, error=exc.message, line=exc.line)
    if path.name.endswith(".j2") or is_template(text):
        return _Outcome(path, shown, text, text, skipped=True)
    try:
        formatted = canonical_text(text, project_file=path.name == PROJECT_FILE)
    except CanonicalFormError as exc:
        return _Outcome(path, shown, text, text, error=exc.message, line=exc.line)
    return _Outcome(path, shown, text, formatted)


def _report(outcome: _Outcome, *, write: bool, diff: bool) -> None:
    if outcome.error:
        console.error(f"{outcome.shown}:{outcome.line}: {outcome.error}", "file left unchanged")
    elif outcome.skipped:
        _LOGGER.info("skipped %s: a Jinja template, not YAML", outcome.shown)
    elif outcome.changed:
        if diff:
            console.stdout().out(_unified_diff(outcome), end="", highlight=False)
        if write:
            _write(outcome)
            console.stderr().print(f"reformatted {outcome.shown}")
        else:
            console.stderr().print(f"would reformat {outcome.shown}")


def _unified_diff(outcome: _Outcome) -> str:
    lines = difflib.unified_diff(
        outcome.before.splitlines(keepends=True),
        outcome.after.splitlines(keepends=True),
        f"a/{outcome.shown}",
        f"b/{outcome.shown}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _write(outcome: _Outcome) -> None:
    from mpctl.files import write_atomically  # noqa: PLC0415 - fast --help

    target = outcome.path.resolve()
    mode = stat.S_IMODE(target.stat().st_mode)
    write_atomically(target, outcome.after.encode("utf-8"), mode=mode)


def _summary(outcomes: list[_Outcome], *, write: bool) -> None:
    changed = sum(outcome.changed for outcome in outcomes)
    skipped = sum(outcome.skipped for outcome in outcomes)
    failed = sum(bool(outcome.error) for outcome in outcomes)
    unchanged = len(outcomes) - changed - skipped - failed
    verb = "reformatted" if write else "would be reformatted"
    parts = [f"{changed} file(s) {verb}", f"{unchanged} unchanged"]
    if skipped:
        parts.append(f"{skipped} template(s) skipped")
    if failed:
        parts.append(f"{failed} could not be formatted")
    console.stderr().print(", ".join(parts))
