"""`mpctl emulator serve | issue-certificate | reset`: the local Digdir as a server, its
certificates, and starting an embedded emulator over from its world file.

Owns the command-line surface of `mpctl.emulator`: option parsing, a short start-up line, and
the confirmation before a reset. It must not contain emulator behaviour; errors are raised as
`MpctlError` for the CLI's single error boundary to report.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import click
import typer
from pydantic import ValidationError

from mpctl.cli import console
from mpctl.cli.environment import emulator_settings, ensure_admin_certificate, open_workspace
from mpctl.cli.interrupts import InterruptError
from mpctl.cli.locking import open_lock
from mpctl.cli.options import DEFAULT_MANIFESTS, EnvOption, ManifestsOption
from mpctl.emulator import (
    DEFAULT_PORT,
    EmulatorSettings,
    TlsFiles,
    ensure_tls_files,
    issue_business_certificate,
    listen,
    reset_state,
    serve,
)
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
        str | None,
        typer.Option("--issuer", help="Issuer URL; default http(s)://HOST:PORT/."),
    ] = None,
    environment: EnvironmentOption = "test",
    control: Annotated[
        bool, typer.Option("--control/--no-control", help="Serve the test-only /_emulator/ API.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed for ids and faults.")] = 0,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Serve HTTPS with a loopback CA made once (point an environment's ca_bundle "
            "at the CA file it prints).",
        ),
    ] = False,
    tls_dir: Annotated[
        Path | None,
        typer.Option(
            "--tls-dir",
            help="Where the TLS CA, certificate and key (0600) are kept; default: the "
            "--state file's directory.",
            file_okay=False,
        ),
    ] = None,
    in_memory: Annotated[
        bool,
        typer.Option(
            "--in-memory",
            help="Read the --state file once and keep later changes in this process only (gone "
            "when it stops): a write costs the size of the change, not a rewrite of the whole "
            "file (large worlds, benchmarks).",
        ),
    ] = False,
) -> None:
    """Serve the emulator over HTTP (or HTTPS with --tls) until interrupted (Ctrl-C)."""
    scheme = "https" if tls else "http"
    settings = _settings(
        issuer=issuer or f"{scheme}://{_url_host(host)}:{port}/",
        environment=environment,
        world=world,
        state_path=state,
        state_file_writes="never" if in_memory else "every_write",
        control_enabled=control,
        seed=seed,
    )
    if host not in _LOOPBACK:
        console.warning(f"binding to {host}: the emulator has no production-grade security")
    files = _tls_files(tls_dir, state) if tls else None
    listening = listen(host, port)
    console.stderr().print(
        f"mpctl emulator: issuer {settings.issuer}, API {settings.issuer}api/v1, "
        f"control surface {'on' if control else 'off'}"
    )
    if files is not None:
        console.stderr().print(f"mpctl emulator: TLS CA {files.ca} (an environment's ca_bundle)")
    serve(settings, host=host, port=port, tls=files, listening=listening)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _tls_files(tls_dir: Path | None, state: Path | None) -> TlsFiles:
    directory = tls_dir or (state.parent if state is not None else None)
    if directory is None:
        raise UserError(
            "--tls keeps its CA and server key in a directory",
            hint="give --tls-dir DIR (or --state FILE: its directory is used)",
        )
    return ensure_tls_files(directory)


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


@app.command("reset")
def reset_command(
    *,
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Start an embedded emulator over from its world file, with a new admin certificate.

    The state file goes back to what the world file seeds (its CAs and signing key are kept);
    the admin certificate is issued again; the secret sink (.env and key files) is left alone.
    """
    workspace = open_workspace(manifests, env)
    embedded = workspace.environment.emulator
    if embedded is None:
        raise UserError(
            f"environment {workspace.env_name} has no embedded emulator",
            hint="reset works on an environment with `emulator:` in mpctl.yaml",
        )
    settings = emulator_settings(workspace, embedded)
    assert settings.state_path is not None, "an embedded emulator always has a state file"
    _confirm_reset(workspace.env_name, settings.state_path, yes)
    with open_lock(workspace, None).held(f"mpctl emulator reset -e {workspace.env_name}"):
        reset_state(settings)
        ensure_admin_certificate(workspace, settings, reissue=True)
    admin = workspace.environment.admin
    certificate = (
        "the admin certificate was issued again"
        if admin is not None and admin.certificate is not None
        else "no admin certificate to issue"
    )
    console.success(
        f"Reset the {workspace.env_name} emulator from {embedded.world}; "
        f"{certificate}; the secret sink is as it was."
    )


def _confirm_reset(env_name: str, state: Path, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UserError("refusing to reset the emulator without confirmation", hint="pass --yes")
    try:
        confirmed = typer.confirm(
            f"Reset the {env_name} emulator state {state} to its world file?", err=True
        )
    except (click.exceptions.Abort, typer.Abort):
        raise InterruptError("interrupted at the confirmation prompt; nothing was reset") from None
    if not confirmed:
        raise UserError("reset cancelled; nothing was changed")
