"""Wiring one environment for a command: manifests, the Digdir transport, the admin client.

Owns the decision "embedded emulator or real Digdir": an environment with `emulator:` in
`mpctl.yaml` runs Digdir's API in-process (httpx ASGITransport) with its state in a file, and
gets a test business certificate issued by the emulator on first use, the local stand-in for
buying one. Everything else goes over HTTPS to the configured URLs. Also what a run says when
a credential variable is unset (all of them at once) or Digdir's host cannot be reached (one
line, `cannot reach HOST: reason`), and the -v request log's hook. Must not plan or apply.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from mpctl.cli import console, logs
from mpctl.cli.sink_checks import with_sink_findings
from mpctl.cli.yielding import YieldingTransport
from mpctl.errors import ConfigError, RemoteError, UserError
from mpctl.manifests import LoadResult, Project, load
from mpctl.model import (
    Access,
    DesiredState,
    EmbeddedEmulator,
    Environment,
    SinkSpec,
    endpoint_variable,
)
from mpctl.plan import managed_sinks
from mpctl.remote import (
    UNSET_HINT,
    AdminCredentialError,
    HttpRemote,
    TransportError,
    admin_credential_for,
    effective_environment,
    network_transport,
    open_remote,
    unset_variables,
)
from mpctl.secrets import (
    SecretSink,
    ensure_private_directory,
    env_references,
    unset_error,
    unset_references,
)
from mpctl.state import open_sinks

if TYPE_CHECKING:  # the emulator is imported only for an embedded environment (fast start)
    from mpctl.cli.throwaway import ThrowawayEmulator
    from mpctl.emulator import EmulatorSettings


@dataclass(frozen=True)
class Workspace:
    """One environment of one project, loaded and checked."""

    project: Project
    env_name: str
    desired: DesiredState
    fingerprint: str

    @property
    def environment(self) -> Environment:
        return self.desired.environment

    @property
    def directory(self) -> Path:
        return self.project.directory

    def open_sinks(self, specs: Mapping[str, SinkSpec] | None = None) -> dict[str, SecretSink]:
        """The sinks `specs` name (a saved plan's), or of every client whose keys the
        manifests manage, by client name. Every unset `{env: NAME}` of those sinks is
        named in one error before any sink opens."""
        wanted = managed_sinks(self.desired) if specs is None else specs
        check_sink_variables(self.env_name, self.environment, wanted)
        return open_sinks(
            wanted,
            env_name=self.env_name,
            environment=self.environment,
            base_dir=self.directory,
        )


def open_workspace(manifests: Path, env: str | None) -> Workspace:
    """Load the manifests for `env`; print every problem and stop if there is an error."""
    result: LoadResult = with_sink_findings(load(manifests, env))
    for diagnostic in result.diagnostics:
        console.stderr().print(diagnostic.format())
    if result.desired is None or result.project is None or result.env_name is None:
        raise UserError(
            f"the manifests have {len(result.errors)} error(s)", hint="run `mpctl validate`"
        )
    return Workspace(
        result.project,
        result.env_name,
        _pinned(result.desired, result.env_name),
        result.fingerprint,
    )


def _pinned(desired: DesiredState, env_name: str) -> DesiredState:
    """`desired` with the endpoints every command really uses (Digdir's own for `digdir:`,
    or the `MPCTL_<ENV>_*` overrides), so verify and apply mint where plan reads."""
    environment = effective_environment(
        desired.environment,
        env_name=env_name,
        environ=os.environ,
        in_process=desired.environment.emulator is not None,
    )
    return dataclasses.replace(desired, environment=environment)


def transport_for(
    workspace: Workspace, *, writable: bool = False
) -> httpx.AsyncBaseTransport | None:
    """The in-process emulator for an `emulator:` environment, else real HTTP: a transport
    trusting the environment's `ca_bundle` when it has one, else None (httpx's default).

    Only `writable` (apply) uses the state file under `.mpctl/` and issues the admin
    certificate there; reading commands get a throwaway copy and write nothing.
    """
    embedded = workspace.environment.emulator
    if embedded is None:
        return network_transport(workspace.environment, workspace.directory)
    if not writable:
        return YieldingTransport(_throwaway(workspace, embedded))
    from mpctl.emulator import create_app  # noqa: PLC0415 - only an embedded environment

    settings = emulator_settings(workspace, embedded)
    ensure_admin_certificate(workspace, settings)
    return YieldingTransport(httpx.ASGITransport(app=create_app(settings)))


def emulator_settings(workspace: Workspace, embedded: EmbeddedEmulator) -> EmulatorSettings:
    from mpctl.cli.throwaway import seed_time  # noqa: PLC0415 - only an embedded environment
    from mpctl.emulator import EmulatorSettings  # noqa: PLC0415 - only an embedded environment

    directory = workspace.directory
    state = directory / embedded.state.format(env=workspace.env_name)
    ensure_private_directory(state.parent)
    world = directory / embedded.world
    return EmulatorSettings(
        issuer=workspace.environment.issuer,
        world=world,
        state_path=state,
        seed_time=seed_time(world),
    )


def ensure_admin_certificate(
    workspace: Workspace, settings: EmulatorSettings, *, reissue: bool = False
) -> None:
    """Issue the admin's test business certificate from the emulator's CA if it is missing
    (or always, with `reissue`: `mpctl emulator reset`)."""
    admin = workspace.environment.admin
    if admin is None or admin.certificate is None:
        return
    if admin.certificate.file is None or admin.private_key.file is None:
        raise ConfigError(
            "an emulator environment needs the admin certificate and key as files",
            hint="use {file: .mpctl/<env>/admin-certificate.pem} and a key file",
        )
    certificate = workspace.directory / admin.certificate.file
    key = workspace.directory / admin.private_key.file
    if certificate.is_file() and key.is_file() and not reissue:
        return
    ensure_private_directory(certificate.parent)
    ensure_private_directory(key.parent)
    organisation = workspace.desired.organisation
    from mpctl.emulator import issue_business_certificate  # noqa: PLC0415 - embedded only

    issue_business_certificate(
        settings, organisation.orgno, certificate, key, org_name=organisation.name
    )


def _throwaway(workspace: Workspace, embedded: EmbeddedEmulator) -> ThrowawayEmulator:
    from mpctl.cli.throwaway import throwaway_emulator  # noqa: PLC0415 - embedded only

    return throwaway_emulator(
        workspace.directory, workspace.env_name, workspace.environment, embedded
    )


@asynccontextmanager
async def connect(
    workspace: Workspace, *, access: Access = "read", concurrency: int = 16
) -> AsyncIterator[tuple[HttpRemote, httpx.AsyncBaseTransport | None]]:
    """The admin-authenticated remote for the workspace, and the transport it runs on.

    `access="read"` (plan, drift, import) gets a token with read-only admin scopes, from
    `admin_readonly` when the environment has one, and writes nothing locally; only
    `access="write"` (apply) asks for write scopes.
    """
    environment = workspace.environment
    transport: httpx.AsyncBaseTransport | None
    if access == "read" and environment.emulator is not None:
        from mpctl.cli.throwaway import with_admin_certificate  # noqa: PLC0415 - embedded only

        emulator = _throwaway(workspace, environment.emulator)
        environment = with_admin_certificate(workspace.desired, workspace.directory, emulator)
        transport = YieldingTransport(emulator)
    else:
        check_credential_variables(workspace, access)
        transport = transport_for(workspace, writable=access == "write")
    async with open_remote(
        environment,
        base_dir=workspace.directory,
        environ=os.environ,
        access=access,
        env_name=workspace.env_name,
        transport=transport,
        concurrency=concurrency,
    ) as remote:
        if logs.requests_logged():
            remote.watch(logs.log_call)
        try:
            yield remote, transport
        except RemoteError as exc:
            unreachable = unreachable_error(exc, environment, workspace.env_name)
            if unreachable is None:
                raise
            raise unreachable from None


def check_credential_variables(workspace: Workspace, access: Access) -> None:
    """Refuse, naming them all at once, the `{env: NAME}` references of the admin credential
    this command uses whose variables are unset: each with its field and environment."""
    environment = workspace.environment
    credential = admin_credential_for(environment, access)
    block = "admin_readonly" if credential is environment.admin_readonly else "admin"
    unset = unset_variables(credential, os.environ)
    if unset:
        listed = "; ".join(
            f"{variable} is not set (environments.{workspace.env_name}.{block}.{field})"
            for field, variable in unset.items()
        )
        raise AdminCredentialError(
            f"{workspace.env_name}'s admin credential: {listed}", hint=UNSET_HINT
        )


def check_sink_variables(
    env_name: str, environment: Environment, specs: Mapping[str, SinkSpec]
) -> None:
    """Refuse, naming them all at once, the sinks' `{env: NAME}` references whose variables
    are unset: the environment's sink by its field, a client's own sink by the client."""
    found: list[tuple[str, str]] = []
    for client, spec in sorted(specs.items()):
        where = (
            f"environments.{env_name}.sink"
            if spec == environment.sink
            else f"client {client}'s keys.sink"
        )
        found += env_references(spec, where)
    unset = unset_references(found, os.environ)
    if unset:
        raise unset_error(f"{env_name}'s secret sinks", unset)


class UnreachableError(RemoteError):
    """Digdir's API or token endpoint could not be reached: nothing was sent."""

    code = "REMOTE_UNREACHABLE"


_TLS_UNTRUSTED = "certificate_verify_failed"
_DNS_FAILURES = (
    "name or service not known",
    "nodename nor servname",
    "name resolution",
    "getaddrinfo failed",
    "no address associated",
)


def unreachable_error(
    exc: BaseException, environment: Environment, env_name: str
) -> UnreachableError | None:
    """`cannot reach HOST: reason` for a call that never left (DNS, refused, connect
    timeout), found in `exc` or what it was raised from; None for any other failure."""
    failure = _never_sent(exc)
    if failure is None:
        return None
    token_url = httpx.URL(str(environment.token_endpoint))
    api_url = httpx.URL(str(environment.api_base_url))
    url = token_url if failure.path.split("?")[0] == token_url.path else api_url
    variables = " / ".join(
        endpoint_variable(env_name, field) for field in ("api_base_url", "token_endpoint")
    )
    if _TLS_UNTRUSTED in failure.summary.lower():
        return UnreachableError(
            f"cannot reach {url.netloc.decode('ascii')}: its TLS certificate is not trusted "
            "(CERTIFICATE_VERIFY_FAILED)",
            hint=f"for `mpctl emulator serve --tls`, set {env_name}'s ca_bundle in mpctl.yaml "
            "to the CA file the server printed",
        )
    return UnreachableError(
        f"cannot reach {url.netloc.decode('ascii')}: {_reason(failure.summary)}",
        hint=f"check the network and any proxy (HTTPS_PROXY); to use other endpoints for "
        f"{env_name}, set {variables}",
    )


def _never_sent(exc: BaseException | None) -> TransportError | None:
    """The first `TransportError` with `sent=False` in the chain of causes, if any."""
    for _ in range(4):
        if exc is None:
            return None
        if isinstance(exc, TransportError):
            return None if exc.sent else exc
        exc = exc.__cause__
    return None


def _reason(summary: str) -> str:
    lowered = summary.lower()
    if any(marker in lowered for marker in _DNS_FAILURES):
        return "the host name does not resolve (DNS)"
    if "connection refused" in lowered or "all connection attempts failed" in lowered:
        return "connection refused"
    if "timeout" in lowered:
        return "no connection within the timeout"
    return summary
