"""`mpctl audit push`: append an apply's audit trail to a file on a git branch.

Reads the local audit log (`mpctl apply --audit-log`, by default `.mpctl/<env>/audit.jsonl`),
keeps its whole lines that are audit records (a line cut short by a crash is left out), and
hands them to `mpctl.cli.audit_branch`, which appends those the branch does not hold yet
without a checkout. Must not change the audit log, and must not print git's output unredacted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from mpctl.cli import console
from mpctl.cli.audit_branch import Git, append_to_branch
from mpctl.errors import UserError

app = typer.Typer(no_args_is_help=True)


@app.command()
def push(
    source: Annotated[
        Path,
        typer.Option(
            "--from",
            help="The local audit log (what `mpctl apply --audit-log` wrote).",
            dir_okay=False,
        ),
    ],
    path: Annotated[
        str, typer.Option("--path", help="The file on the branch, e.g. audit/prod.jsonl.")
    ],
    branch: Annotated[
        str, typer.Option("--branch", help="The branch (made, as an orphan, when missing).")
    ] = "mpctl-audit",
    remote: Annotated[str, typer.Option("--remote", help="The remote to push to.")] = "origin",
    repository: Annotated[
        Path, typer.Option("--repo", help="The git repository.", file_okay=False)
    ] = Path("."),
) -> None:
    """Append the audit log's new records to a file on a git branch (no checkout)."""
    lines = audit_lines(source)
    appended = append_to_branch(
        Git(repository, os.environ), lines, branch=branch, path=path, remote=remote
    )
    if appended.commit is None:
        console.success(f"{remote}/{branch}:{path} already holds all {len(lines)} record(s).")
        return
    console.success(
        f"Appended {appended.lines} record(s) to {remote}/{branch}:{path} "
        f"(commit {appended.commit[:12]}, push attempt {appended.attempts})."
    )


def audit_lines(source: Path) -> list[str]:
    """The whole audit-record lines of `source`, in order; warns about any other line."""
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(
            f"cannot read the audit log {source}: {exc.strerror or exc}",
            hint="pass --from the file `mpctl apply --audit-log` wrote",
        ) from None
    lines = [line for line in text.splitlines(keepends=True) if _is_record(line)]
    left_out = len(text.splitlines()) - len(lines)
    if left_out:
        console.warning(f"Left out {left_out} line(s) of {source} that are not whole records.")
    return lines


def _is_record(line: str) -> bool:
    from mpctl.apply import parse_record  # noqa: PLC0415 - fast --help

    if not line.endswith("\n"):
        return False  # cut short by a crash: never published
    try:
        parse_record(line)
    except ValidationError:
        return False
    return True
