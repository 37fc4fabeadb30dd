"""Wiring: an `Environment` of `mpctl.yaml` → a ready `HttpRemote` (or a plain HTTP client).

Owns building the one `httpx.AsyncClient` (pool limits, timeouts, optional transport such as the
embedded emulator's `httpx.ASGITransport`), loading the admin credential, and the token source
and auth flow on top. URLs always come from the `Environment`, also when a transport is plugged
in. `open_http` gives the same kind of client without admin auth, for the plain token endpoint
(verify mints tokens for managed clients through it). Must not import the emulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from mpctl.errors import ConfigError
from mpctl.model.config import Environment
from mpctl.remote.auth import AdminAuth, AdminTokenSource
from mpctl.remote.client import DEFAULT_CONCURRENCY, HttpRemote
from mpctl.remote.credentials import load_admin_credential
from mpctl.remote.retry import RetryPolicy

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@asynccontextmanager
async def open_http(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> AsyncIterator[httpx.AsyncClient]:
    """One pooled async client (no auth, no redirects), sized for `concurrency` callers."""
    limits = httpx.Limits(
        max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
    )
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, limits=limits, follow_redirects=False
    ) as http:
        yield http


@asynccontextmanager
async def open_remote(
    environment: Environment,
    *,
    base_dir: Path,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    retry: RetryPolicy | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> AsyncIterator[HttpRemote]:
    """An `HttpRemote` for `environment`, authenticated as its admin client; closed on exit.

    `base_dir` resolves relative credential file paths (the manifests directory); `environ`
    resolves `{env: NAME}` credential sources.
    """
    if environment.admin is None:
        raise ConfigError(
            "this environment has no admin credential",
            hint="add 'admin: {client_id, private_key, certificate or kid}' to the environment",
        )
    key = load_admin_credential(environment.admin, base_dir, environ)
    policy = retry or RetryPolicy()
    async with open_http(transport=transport, concurrency=concurrency, timeout=timeout) as http:
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
        )
