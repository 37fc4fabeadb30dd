"""The admin token for Digdir's self-service API, from Maskinporten's JWT-bearer grant.

Owns the admin grant (RS256, header `x5c` = business certificate chain or `kid`; claims
aud = the issuer exactly, iss = admin client id, scope, iat, exp = iat + 120, fresh jti), the
token exchange at the token endpoint (retried by `RetryPolicy`, a new grant per attempt), the
cache (until shortly before `expires_in`), and `AdminAuth`, the httpx auth flow that adds the
bearer and refreshes once on 401. Must not log, print or put a grant or token in an exception.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from mpctl.remote._failures import sanitized_cause, transport_failure
from mpctl.remote.credentials import AdminKey, load_admin_credential
from mpctl.remote.errors import (
    AdminTokenError,
    RemoteCallError,
    ResponseFormatError,
    error_for_response,
    shown_path,
)
from mpctl.remote.retry import RetryPolicy, with_retries

__all__ = [
    "GRANT_LIFETIME",
    "GRANT_TYPE",
    "AdminAuth",
    "AdminKey",
    "AdminTokenSource",
    "build_admin_grant",
    "load_admin_credential",
]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_LIFETIME = 120
_DEFAULT_EXPIRES_IN = 120
_NO_AUTH = httpx.Auth()  # the grant authenticates the token request; never a bearer
_MP_CODE = re.compile(r"MP-\d+")
_TRACE_ID = re.compile(r"\((?:trace_id|correlation id): ([0-9A-Za-z-]{1,64})\)")


def build_admin_grant(key: AdminKey, *, issuer: str, now: int, jti: str | None = None) -> str:
    """The signed admin grant. `issuer` is used as `aud` exactly as given (trailing slash)."""
    headers: dict[str, Any] = {"x5c": list(key.x5c)} if key.x5c else {"kid": key.kid}
    claims = {
        "aud": issuer,
        "iss": key.client_id,
        "scope": " ".join(key.scopes),
        "iat": now,
        "exp": now + GRANT_LIFETIME,
        "jti": jti or str(uuid.uuid4()),
    }
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)


@dataclass(frozen=True, repr=False)
class _CachedToken:
    value: str
    refresh_at: float

    def __repr__(self) -> str:
        return f"_CachedToken(refresh_at={self.refresh_at})"


class AdminTokenSource:
    """Gets and caches the admin access token; one exchange at a time, shared by all calls."""

    def __init__(
        self,
        key: AdminKey,
        *,
        issuer: str,
        token_endpoint: str,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = key
        self._issuer = issuer
        self._endpoint = token_endpoint
        self._http = http
        self._retry = retry
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._cached: _CachedToken | None = None
        self.exchanges = 0

    def __repr__(self) -> str:
        return f"AdminTokenSource(client_id={self._key.client_id!r}, endpoint={self._endpoint!r})"

    async def token(self) -> str:
        """A valid admin access token, from the cache or a new exchange."""
        async with self._lock:
            cached = self._cached
            if cached is None or self._monotonic() >= cached.refresh_at:
                cached = self._cached = await self._exchange()
            return cached.value

    def invalidate(self, token: str) -> None:
        """Forget `token` (the API refused it) so the next call exchanges a new grant."""
        if self._cached is not None and self._cached.value == token:
            self._cached = None

    async def _exchange(self) -> _CachedToken:
        try:
            return await with_retries(self._retry, self._exchange_once)
        except AdminTokenError:
            raise
        except RemoteCallError as exc:
            raise AdminTokenError(
                f"no admin token: {exc.summary}",
                method=exc.method,
                path=exc.path,
                status=exc.status,
                correlation_id=exc.correlation_id,
                body_excerpt=exc.body_excerpt,
            ) from exc

    async def _exchange_once(self) -> _CachedToken:
        grant = build_admin_grant(self._key, issuer=self._issuer, now=int(self._wall_clock()))
        path = shown_path(httpx.URL(self._endpoint))
        self.exchanges += 1
        try:
            response = await self._http.post(
                self._endpoint,
                data={"grant_type": GRANT_TYPE, "assertion": grant},
                headers={"Accept": "application/json"},
                auth=_NO_AUTH,
            )
        except httpx.TransportError as exc:
            raise transport_failure(
                exc, method="POST", path=path, resend_safe=True
            ) from sanitized_cause(exc)
        if response.status_code == 429 or response.status_code >= 500:
            raise error_for_response(response, method="POST")
        if not response.is_success:
            raise _refusal(response, path)
        return self._cached_from(response, path)

    def _cached_from(self, response: httpx.Response, path: str) -> _CachedToken:
        body = _json_dict(response) or {}
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise ResponseFormatError(
                "token response has no access_token", method="POST", path=path, status=200
            )
        expires_in = body.get("expires_in")
        if not isinstance(expires_in, int) or expires_in <= 0:
            expires_in = _DEFAULT_EXPIRES_IN
        margin = min(30.0, expires_in / 4)
        return _CachedToken(value, self._monotonic() + expires_in - margin)


class AdminAuth(httpx.Auth):
    """httpx auth flow: bearer from `AdminTokenSource`; on 401, one refresh and one resend."""

    def __init__(self, tokens: AdminTokenSource) -> None:
        self._tokens = tokens

    def __repr__(self) -> str:
        return f"AdminAuth({self._tokens!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("AdminAuth is async only: use httpx.AsyncClient")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._tokens.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self._tokens.invalidate(token)
            token = await self._tokens.token()
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


def _refusal(response: httpx.Response, path: str) -> AdminTokenError:
    """The token endpoint's OAuth error (`error`, `error_description`, `error_uri` → MP code)."""
    body = _json_dict(response) or {}
    mapped = error_for_response(response, method="POST")
    error = body.get("error") if isinstance(body.get("error"), str) else None
    uri = body.get("error_uri") if isinstance(body.get("error_uri"), str) else ""
    found = _MP_CODE.search(str(uri))
    mp_code = found.group(0) if found else None
    hint = f"see `mpctl explain {mp_code}`" if mp_code else "check the admin credential"
    traced = _TRACE_ID.search(mapped.summary)
    return AdminTokenError(
        f"token endpoint refused the admin grant: {mapped.summary}",
        error=error,
        mp_code=mp_code,
        method="POST",
        path=path,
        status=response.status_code,
        correlation_id=mapped.correlation_id or (traced.group(1) if traced else None),
        body_excerpt=mapped.body_excerpt,
        hint=hint,
    )


def _json_dict(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = response.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
