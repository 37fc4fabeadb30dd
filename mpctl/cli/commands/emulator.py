"""`mpctl emulator serve | issue-certificate`: the local Digdir as a server, and its certificates.

Owns the command-line surface of `mpctl.emulator`: option parsing and a short start-up line.
It must not contain emulator behaviour; errors are raised as `MpctlError` for the CLI's single
error boundary to report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import ValidationError

from mpctl.cli import console
from mpctl.emulator import DEFAULT_PORT, EmulatorSettings, issue_business_certificate, serve
from mpctl.errors import UserError

app = typer.Typer(
    help="A local Digdir: the self-service API and the Maskinporten token endpoint.",
    no_args_is_help=True,
)

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}

StateOption = Annotated[
    Path | None, typer.Option("--state", help="State file (0600); default: in memory only.")
]
WorldOption = Annotated[Path | None, typer.Option("--world", help="World file (YAML).")]
EnvironmentOption = Annotated[
    Literal["test", "prod"],
    typer.Option("--environment", help="Which business-certificate CA is trusted."),
]


def _settings(**values: object) -> EmulatorSettings:
    try:
        return EmulatorSettings.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(str(item["msg"]) for item in error.errors(include_url=False))
        raise UserError(f"invalid emulator settings: {problems}") from None


@app.command("serve")
def serve_command(
    *,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = DEFAULT_PORT,
    state: StateOption = None,
    world: WorldOption = None,
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="Issuer URL; default http://HOST:PORT/.")
    ] = None,
    environment: EnvironmentOption = "test",
    control: Annotated[
        bool, typer.Option("--control/--no-control", help="Serve the test-only /_emulator/ API.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed for ids and faults.")] = 0,
) -> None:
    """Serve the emulator over HTTP until interrupted (Ctrl-C)."""
    settings = _settings(
        issuer=issuer or f"http://{host}:{port}/",
        environment=environment,
        world=world,
        state_path=state,
        control_enabled=control,
        seed=seed,
    )
    if host not in _LOOPBACK:
        console.warning(f"binding to {host}: the emulator has no production-grade security")
    console.stderr().print(
        f"mpctl emulator: issuer {settings.issuer}, API {settings.issuer}api/v1, "
        f"control surface {'on' if control else 'off'}"
    )
    serve(settings, host=host, port=port)


@app.command("issue-certificate")
def issue_certificate_command(
    *,
    orgno: Annotated[str, typer.Option("--orgno", help="Organisation number (9 digits).")],
    cert: Annotated[Path, typer.Option("--cert", help="Where to write the PEM certificate.")],
    key: Annotated[Path, typer.Option("--key", help="Where to write the private key (0600).")],
    state: Annotated[Path, typer.Option("--state", help="The emulator state file holding the CA.")],
    world: WorldOption = None,
    environment: EnvironmentOption = "test",
    org_name: Annotated[
        str, typer.Option("--org-name", help="Organisation name in the certificate.")
    ] = "Test Virksomhet AS",
) -> None:
    """Issue a test business certificate ("virksomhetssertifikat") from the emulator's CA."""
    settings = _settings(world=world, state_path=state, environment=environment)
    issue_business_certificate(settings, orgno, cert, key, org_name=org_name)
    console.success(f"certificate for {orgno} written to {cert} (key: {key}, mode 0600)")
