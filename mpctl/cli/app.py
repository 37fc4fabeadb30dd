"""The typer application: wiring only. Each command lives in `mpctl.cli.commands.<name>`."""

from __future__ import annotations

import typer

from mpctl import __version__
from mpctl.cli import logs
from mpctl.cli.commands import explain as explain_cmd
from mpctl.cli.commands.apply import apply
from mpctl.cli.commands.audit import app as audit_app
from mpctl.cli.commands.emulator import app as emulator_app
from mpctl.cli.commands.gitops import app as gitops_app
from mpctl.cli.commands.import_ import import_clients
from mpctl.cli.commands.keys import app as keys_app
from mpctl.cli.commands.plan import plan
from mpctl.cli.commands.readiness import readiness
from mpctl.cli.commands.schemas import schemas
from mpctl.cli.commands.validate import validate
from mpctl.cli.commands.verify import verify

app = typer.Typer(
    name="mpctl",
    help="Declarative Maskinporten: manifests → plan → apply → verify.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mpctl {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also show each retried request (method, path, wait)."
    ),
) -> None:
    """Declarative Maskinporten: manifests → plan → apply → verify."""
    logs.configure(verbose=verbose)


app.command()(validate)
app.command()(plan)
app.command()(apply)
app.command()(verify)
app.command(name="import")(import_clients)
app.command(context_settings=explain_cmd.CONTEXT_SETTINGS)(explain_cmd.explain)
app.command()(readiness)
app.add_typer(keys_app, name="keys", help="Local key tooling (altinn-jwks style).")
app.add_typer(emulator_app, name="emulator", help="Run the local Digdir emulator.")
app.add_typer(
    gitops_app,
    name="gitops",
    help="Pull-request plan comments, apply of the reviewed plan on merge, drift issues.",
)
app.add_typer(audit_app, name="audit", help="The audit trail of applies.")
app.command(hidden=True)(schemas)
