"""The admin token for Digdir's self-service API, from Maskinporten's JWT-bearer grant.

Owns the admin grant's request (RS256, header `x5c` = business certificate chain or `kid`;
aud = the issuer exactly, iss = admin client id, the admin scopes), the cache (until shortly
before `expires_in`), and `AdminAuth`, the httpx auth flow that adds the bearer and refreshes
once on 401. Signing and the exchange itself (retried by the remote's `RetryPolicy`, a new
grant per attempt) are `oauth`'s. Must not log, print or put a grant or token in an exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass

import httpx

from mpctl.remote.credentials import AdminKey, load_admin_credential
from mpctl.remote.errors import AdminTokenError, RemoteCallError
from mpctl.remote.oauth import IssuedToken, TokenExchange
from mpctl.remote.oauth_errors import TokenRefusedError
from mpctl.remote.oauth_grant import GrantFactory, GrantRequest, SigningKey, fresh_grants
from mpctl.remote.retry import RetryPolicy

__all__ = [
    "AdminAuth",
    "AdminKey",
    "AdminTokenSource",
    "admin_grants",
    "load_admin_credential",
]

_DEFAULT_EXPIRES_IN = 120


def admin_grants(
    key: AdminKey, *, issuer: str, clock: Callable[[], float] = time.time
) -> GrantFactory:
    """Signs a fresh admin grant per call. `issuer` is `aud` exactly as given (trailing slash)."""
    signer = SigningKey(key.private_key, kid=key.kid, x5c=key.x5c)
    return fresh_grants(signer, GrantRequest(key.client_id, issuer, key.scopes), clock=clock)


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
        exchange = TokenExchange(
            self._http,
            self._endpoint,
            admin_grants(self._key, issuer=self._issuer, clock=self._wall_clock),
            policy=self._retry,
            request_timeout=None,
        )
        try:
            return self._cached_from(await exchange.run())
        except TokenRefusedError as refused:
            raise _refusal(refused) from None
        except RemoteCallError as exc:
            raise AdminTokenError(
                f"no admin token: {exc.summary}",
                method=exc.method,
                path=exc.path,
                status=exc.status,
                correlation_id=exc.correlation_id,
                body_excerpt=exc.body_excerpt,
            ) from exc
        finally:
            self.exchanges += exchange.attempts

    def _cached_from(self, issued: IssuedToken) -> _CachedToken:
        expires_in = issued.expires_in
        if expires_in is None or expires_in <= 0:
            expires_in = _DEFAULT_EXPIRES_IN
        margin = min(30.0, expires_in / 4)
        value = issued.access_token.get_secret_value()
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


def _refusal(refused: TokenRefusedError) -> AdminTokenError:
    """The token endpoint's refusal of the admin grant, with its MP code and trace id."""
    return AdminTokenError(
        f"token endpoint refused the admin grant: {refused.summary}",
        error=refused.error,
        mp_code=refused.mp_code,
        method=refused.method,
        path=refused.path,
        status=refused.status,
        correlation_id=refused.trace_id,
        body_excerpt=refused.body_excerpt,
        hint=refused.hint or "check the admin credential",
    )
