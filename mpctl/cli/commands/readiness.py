"""`mpctl readiness`: seed 002's offline go/no-go probe of this process's MASKINPORTEN_* variables.

Owns turning flags into the probe's inputs (variable names, http for the emulator, live
required) and printing the verdict: ready / mock / not ready with each failing variable and why.
The checks themselves live in `mpctl.verify.readiness`. Must not make network calls, and must
never print a variable's value: it may say that a variable is set, never what it holds.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mpctl.cli import console
from mpctl.errors import UserError
from mpctl.model import SinkVariables

if TYPE_CHECKING:
    from mpctl.verify import Readiness

DEFAULT_PREFIX = "MASKINPORTEN"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIELDS = tuple(SinkVariables.model_fields)


def readiness(
    allow_http: Annotated[
        bool,
        typer.Option("--allow-http", help="Accept http:// URLs anywhere (the local emulator)."),
    ] = False,
    require_live: Annotated[
        bool,
        typer.Option("--require-live", help="Mock mode is a failure (no mock in production)."),
    ] = False,
    prefix: Annotated[
        str,
        typer.Option("--prefix", help="Prefix of the variable names (PREFIX_CLIENT_ID, ...)."),
    ] = DEFAULT_PREFIX,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--variable",
            metavar="FIELD=NAME",
            help=f"Read one value from another variable; FIELD is one of {', '.join(_FIELDS)}.",
        ),
    ] = None,
    output: Annotated[
        Literal["text", "json"], typer.Option("--format", help="Output format.")
    ] = "text",
) -> None:
    """Check the MASKINPORTEN_* environment offline: exit 0 ready or mock, 1 not ready.

    Never calls Maskinporten and never prints a value: safe in any deploy pipeline.
    """
    from mpctl.verify import probe  # noqa: PLC0415 - fast --help

    variables = variable_names(prefix, overrides or [])
    result = probe(
        os.environ, variables=variables, allow_http=allow_http, require_live=require_live
    )
    if output == "json":
        console.stdout().out(json.dumps(result.as_dict(), indent=2))
    else:
        _print_text(result, variables)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def variable_names(prefix: str, overrides: list[str]) -> SinkVariables:
    """The variable names to read: PREFIX_<FIELD> for each field, then the FIELD=NAME overrides."""
    stem = prefix.rstrip("_")
    if not _ENV_NAME.match(stem):
        raise UserError(f"--prefix {prefix!r} is not a valid environment variable name")
    names = {field: f"{stem}_{field.upper()}" for field in _FIELDS}
    for override in overrides:
        field, _, name = override.partition("=")
        if field not in names or not _ENV_NAME.match(name):
            raise UserError(
                f"--variable {override!r} is not FIELD=NAME",
                hint=f"FIELD is one of {', '.join(_FIELDS)}; NAME is a variable name",
            )
        names[field] = name
    return SinkVariables(**names)


def _print_text(result: Readiness, variables: SinkVariables) -> None:
    out = console.stdout()
    if result.status == "mock":
        out.print(
            f"mock: {variables.mode} is not 'live', so nothing else was checked "
            "(--require-live makes this a failure)",
            style="yellow",
        )
    elif result.status == "ready":
        out.print(
            "ready: every variable is set, the private key parses and signs a test JWS",
            style="green",
        )
        for field in _FIELDS:
            name = getattr(variables, field)
            if os.environ.get(name, "").strip():
                out.print(f"  {name}: set")
    else:
        out.print(f"not ready: {len(result.failures)} problem(s)", style="bold red")
        for failure in result.failures:
            out.print(f"  {failure.field}: {failure.reason}")
        out.print(f"  fix each one before setting {variables.mode}=live, then run this again")
