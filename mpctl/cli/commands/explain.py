"""`mpctl explain`: cause and fix for a Maskinporten token-endpoint error (seed 000).

Owns reading what the user gives (an MP code, an `error_uri`, a description text, a whole JSON
error body, or any of these on stdin with `-`) and printing the matching catalogue entries. The
table and the matching rules live in `mpctl.verify.catalogue`; this module must not add entries
or rules of its own, and never echoes the input back (a paste may hold a grant or a key).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mpctl.cli import console
from mpctl.errors import UserError

if TYPE_CHECKING:
    from mpctl.verify import Diagnosis, Entry

CONTEXT_SETTINGS = {"ignore_unknown_options": True}
"""Register with `app.command(context_settings=CONTEXT_SETTINGS)`: a pasted text that starts with
'-' (a PEM, a Markdown list item) is then the TEXT argument, not an unknown option that click
would echo back in its error."""

_NO_MATCH_HINT = (
    "pass an MP code (mpctl explain MP-110), the error_description Maskinporten sent, its "
    "error_uri, or the whole JSON error body (quoted, or piped in with `mpctl explain -`)"
)


def explain(
    text: Annotated[
        str,
        typer.Argument(
            help="An MP code (MP-110), an error_uri, the error_description text, or a whole "
            "JSON error body; '-' reads it from stdin.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Literal["text", "json"], typer.Option("--format", help="Output format.")
    ] = "text",
) -> None:
    """Explain a Maskinporten error: what causes it and how to fix it; exit 1 if unknown."""
    from mpctl.verify import explain as catalogue_entries  # noqa: PLC0415 - fast --help

    query = sys.stdin.read() if text == "-" else text
    diagnosis = _diagnosis(query)
    entries = list(diagnosis.entries) if diagnosis else []
    if not entries:
        entries = catalogue_entries(query)
    trace_id = diagnosis.trace_id if diagnosis else None
    if output == "json":
        console.stdout().out(json.dumps(_as_json(entries, trace_id), indent=2, sort_keys=True))
    elif entries:
        _print_text(entries, trace_id)
    if not entries:
        raise UserError("no entry in Maskinporten's error catalogue matches", hint=_NO_MATCH_HINT)


def _diagnosis(query: str) -> Diagnosis | None:
    """The catalogue's reading of a pasted JSON error body; None when `query` is not one."""
    if not query.lstrip().startswith("{"):
        return None
    from mpctl.verify import diagnose  # noqa: PLC0415 - fast --help

    try:
        body = json.loads(query)
    except ValueError:
        return None
    return diagnose(body) if isinstance(body, dict) else None


def _entry_json(entry: Entry) -> dict[str, object]:
    return {
        "code": entry.id,
        "mp_code": entry.mp_code,
        "error": entry.error,
        "http_status": entry.http_status,
        "description": entry.description,
        "cause": entry.cause,
        "fix": entry.fix,
    }


def _as_json(entries: list[Entry], trace_id: str | None) -> dict[str, object]:
    document: dict[str, object] = {"entries": [_entry_json(entry) for entry in entries]}
    if trace_id:
        document["trace_id"] = trace_id
    return document


def _print_text(entries: list[Entry], trace_id: str | None) -> None:
    out = console.stdout()
    if trace_id:
        out.print(f"trace_id: {trace_id} (quote it to Digdir support)")
    for index, entry in enumerate(entries):
        if index or trace_id:
            out.print()
        out.print(f"{entry.id}  {entry.error} (HTTP {entry.http_status})", style="bold")
        out.print(f"  {entry.description}")
        out.print(f"  cause: {entry.cause}")
        out.print(f"  fix:   {entry.fix}", style="green")
