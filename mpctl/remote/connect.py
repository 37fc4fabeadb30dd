"""Wiring: an `Environment` of `mpctl.yaml` → a ready `HttpRemote` (or a plain HTTP client).

Owns building the one `httpx.AsyncClient` (pool limits, timeouts, optional transport such as the
embedded emulator's `httpx.ASGITransport`), choosing and loading the admin credential for the
command's access (reading commands: `admin_readonly` if present, else `admin`, asking for read
scopes only; `apply`: `admin` with every scope), the token source and auth flow on top, and where
the token may go (`effective_environment`): Digdir's own hosts for `digdir: test|prod`, loopback
or an in-process transport otherwise, or what `MPCTL_<ENV>_API_BASE_URL` / `_ISSUER` /
`_TOKEN_ENDPOINT` say, never another host named by a manifest, and the remote's one shared
`Throttle` (the environment's `max_requests_per_second`). `open_http` gives the same kind
of client without admin auth, for the plain token endpoint (verify mints tokens for managed
clients through it). Also what https is verified against (`tls_trust`): the system's CAs, or
a loopback environment's `ca_bundle` (`mpctl emulator serve --tls`), which a
`NetworkTransport` carries to clients built elsewhere. Must not import the emulator.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from pydantic import HttpUrl, ValidationError

from mpctl.errors import ConfigError
from mpctl.model import (
    DIGDIR,
    ENDPOINT_FIELDS,
    Access,
    AdminCredential,
    Environment,
    endpoint_variable,
    is_loopback_host,
)
from mpctl.remote.auth import AdminAuth, AdminTokenSource
from mpctl.remote.client import DEFAULT_CONCURRENCY, HttpRemote
from mpctl.remote.credentials import load_admin_credential
from mpctl.remote.retry import RetryPolicy
from mpctl.remote.throttle import Throttle
from mpctl.remote.transport import PooledTransport

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class NetworkTransport(PooledTransport):
    """Real network HTTP(S) trusting an environment's `ca_bundle`: unlike an in-process
    transport (the embedded emulator), it does not lift the loopback check on endpoints."""


def tls_trust(environment: Environment, base_dir: Path) -> ssl.SSLContext | bool:
    """What https is verified against: the environment's `ca_bundle` (relative to `base_dir`)
    alone, or True for httpx's default (the usual CA store)."""
    if environment.ca_bundle is None:
        return True
    if environment.digdir is not None:
        raise ConfigError(
            "a Digdir environment cannot name a ca_bundle",
            hint="remove 'ca_bundle:'; Digdir's endpoints are checked against the system's CAs",
        )
    path = base_dir / environment.ca_bundle
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not PEM"
        raise ConfigError(
            f"cannot load the ca_bundle {path}: {reason}",
            hint="point ca_bundle at the CA file `mpctl emulator serve --tls` printed",
        ) from None


def network_transport(environment: Environment, base_dir: Path) -> NetworkTransport | None:
    """A transport trusting the environment's `ca_bundle`, or None when it has none."""
    if environment.ca_bundle is None:
        return None
    return NetworkTransport(verify=tls_trust(environment, base_dir))


@asynccontextmanager
async def open_http(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    verify: ssl.SSLContext | bool = True,
) -> AsyncIterator[httpx.AsyncClient]:
    """One pooled async client (no auth, no redirects), sized for `concurrency` callers;
    `verify` applies when no `transport` is given (a transport brings its own)."""
    limits = httpx.Limits(
        max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
    )
    async with httpx.AsyncClient(
        transport=transport or PooledTransport(verify=verify, limits=limits),
        timeout=timeout,
        follow_redirects=False,
    ) as http:
        yield http


@asynccontextmanager
async def open_remote(
    environment: Environment,
    *,
    base_dir: Path,
    environ: Mapping[str, str],
    access: Access = "read",
    env_name: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    retry: RetryPolicy | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> AsyncIterator[HttpRemote]:
    """An `HttpRemote` for `environment`, authenticated as its admin client; closed on exit.

    `access="read"` asks Digdir for read-only admin scopes (plan, drift, import); only
    `access="write"` (apply) asks for write scopes. `base_dir` resolves relative credential
    file paths (the manifests directory); `environ` resolves `{env: NAME}` credential sources
    and, with `env_name`, the endpoint overrides. Without a plugged-in `transport` the
    endpoints must be Digdir's own, loopback, or overridden (`effective_environment`). All
    workers of the remote share one pause after a rate limit and the environment's
    `max_requests_per_second` ceiling, if any.
    """
    in_process = transport is not None and not isinstance(transport, NetworkTransport)
    environment = effective_environment(
        environment, env_name=env_name, environ=environ, in_process=in_process
    )
    credential = admin_credential_for(environment, access)
    key = load_admin_credential(credential, base_dir, environ, scopes=credential.scopes_for(access))
    policy = retry or RetryPolicy()
    verify = tls_trust(environment, base_dir) if transport is None else True
    async with open_http(
        transport=transport, concurrency=concurrency, timeout=timeout, verify=verify
    ) as http:
        tokens = AdminTokenSource(
            key,
            issuer=environment.issuer,
            token_endpoint=str(environment.token_endpoint),
            http=http,
            retry=policy,
        )
        yield HttpRemote(
            http,
            api_base_url=str(environment.api_base_url),
            auth=AdminAuth(tokens),
            retry=policy,
            concurrency=concurrency,
            throttle=Throttle(environment.max_requests_per_second),
        )


def admin_credential_for(environment: Environment, access: Access) -> AdminCredential:
    """The admin client a command uses: the read-only one to read when there is one."""
    if access == "read" and environment.admin_readonly is not None:
        return environment.admin_readonly
    if environment.admin is not None:
        return environment.admin
    if access == "write" and environment.admin_readonly is not None:
        raise ConfigError(
            "this environment has only a read-only admin credential; apply needs 'admin:'",
            hint="add 'admin: {client_id, private_key, certificate or kid}' (write scopes)",
        )
    raise ConfigError(
        "this environment has no admin credential",
        hint="add 'admin: {client_id, private_key, certificate or kid}' to the environment "
        "(and 'admin_readonly:' for plan and drift, with read scopes only)",
    )


def effective_environment(
    environment: Environment,
    *,
    env_name: str | None,
    environ: Mapping[str, str],
    in_process: bool,
) -> Environment:
    """`environment` with the endpoints mpctl really uses, checked before any token moves.

    Per endpoint: `MPCTL_<ENV>_<FIELD>` when set (the only way to go elsewhere); else Digdir's
    own for `digdir: test|prod`, whatever the manifest says; else the manifest's value, which
    must be a loopback host unless the requests stay in this process (`in_process`).
    """
    values: dict[str, str] = {}
    for field in ENDPOINT_FIELDS:
        variable = endpoint_variable(env_name, field) if env_name else None
        override = environ.get(variable) if variable else None
        if override and variable:
            values[field] = _checked_override(field, override, variable)
        elif environment.digdir is not None:
            values[field] = DIGDIR[environment.digdir][field]
        else:
            values[field] = str(getattr(environment, field))
            _check_reachable(field, values[field], env_name, in_process=in_process)
    return environment.model_copy(
        update={
            "api_base_url": HttpUrl(values["api_base_url"]),
            "issuer": values["issuer"],
            "token_endpoint": HttpUrl(values["token_endpoint"]),
        }
    )


def _check_reachable(field: str, url: str, env_name: str | None, *, in_process: bool) -> None:
    if in_process:
        return
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL:
        host = ""
    if host and is_loopback_host(host):
        return
    variable = endpoint_variable(env_name or "<env>", field)
    raise ConfigError(
        f"refusing to send the admin token to {host or repr(url)}: {field} is neither Digdir's "
        "(no 'digdir: test|prod') nor a loopback host",
        hint=f"write 'digdir: test' or 'digdir: prod' for Digdir; another host only through "
        f"the environment variable {variable}",
    )


def _checked_override(field: str, value: str, variable: str) -> str:
    try:
        url = HttpUrl(value)
    except ValidationError:
        raise ConfigError(
            f"{variable} is not an http(s) URL", hint=f"set {variable} to the {field} URL"
        ) from None
    if field == "issuer" and not value.endswith("/"):
        raise ConfigError(
            f"{variable} must end with '/': the issuer is the grant's aud exactly",
            hint=f"set {variable}={value}/",
        )
    return value if field == "issuer" else str(url)
