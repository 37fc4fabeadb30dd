"""The one OAuth token exchange: POST a fresh JWT grant to Maskinporten's token endpoint.

Owns `TokenExchange` (one exchange: every attempt signs a new grant from the caller's
`GrantFactory` and POSTs it; retried under the shared `RetryPolicy` on 5xx, 429 honouring
Retry-After and network errors, never on a refusal), the token answer (`IssuedToken`), the
outcome and reason codes, and the events it reports to one `TokenObserver`. The admin-token
cache, `mpctl verify` and the rotation's key test are its users. Failures are typed:
`TokenRefusedError` (4xx, parsed once), `ServerError`, `RateLimited`, `TransportError` (with
`TokenTimeoutError`) and `ResponseFormatError`. Must not cache, diagnose, print or log: the
grant and the token never appear in an event, an exception or a repr.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
from pydantic import SecretStr

from mpctl.remote._failures import sanitized_cause, transport_failure
from mpctl.remote.errors import (
    RateLimited,
    RemoteCallError,
    ResponseFormatError,
    ServerError,
    TransportError,
    error_for_response,
    shown_path,
)
from mpctl.remote.oauth_errors import TokenRefusedError, TokenTimeoutError, json_body, token_refusal
from mpctl.remote.oauth_events import (
    Outcome,
    ReasonCode,
    TokenEvent,
    TokenObserver,
    null_observer,
)
from mpctl.remote.oauth_grant import GRANT_TYPE, GrantFactory
from mpctl.remote.retry import RetryNotice, RetryPolicy, with_retries

TOKEN_RETRY = RetryPolicy(timeout=60.0, max_retry_after=30.0, wait_jitter=0.5)
"""Seed 002's budget for minting a client's token: 4 attempts within 60 s, Retry-After ≤ 30 s."""
TOKEN_REQUEST_TIMEOUT = 10.0
"""Seconds one token request may take (seed 002)."""
_NO_AUTH = httpx.Auth()  # the grant authenticates the token request; never a bearer


@dataclass(frozen=True)
class IssuedToken:
    """The endpoint's answer. The token never shows in a repr."""

    access_token: SecretStr
    expires_in: int | None = None
    scope: str | None = None
    http_status: int = 200


def reason_code(failure: RemoteCallError) -> ReasonCode:
    """What kind of failure ended (or interrupted) an exchange, as seed 002 names it."""
    if isinstance(failure, RateLimited):
        return "rate_limited"
    if isinstance(failure, ServerError):
        return "server_error"
    if isinstance(failure, TokenTimeoutError):
        return "timeout"
    if isinstance(failure, TransportError):
        return "network_error"
    return "bad_response"


def outcome_of(failure: RemoteCallError) -> Outcome:
    """How an exchange that raised `failure` ended: refused, timed out, or out of attempts."""
    if isinstance(failure, TokenRefusedError):
        return "client_error"
    return "timeout" if isinstance(failure, TokenTimeoutError) else "exhausted"


class TokenExchange:
    """One token exchange: its attempts, retry policy and events. Run it once."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoint: str,
        make_grant: GrantFactory,
        *,
        policy: RetryPolicy = TOKEN_RETRY,
        request_timeout: float | None = TOKEN_REQUEST_TIMEOUT,
        observer: TokenObserver = null_observer,
        client: str | None = None,
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self._path = shown_path(httpx.URL(endpoint))
        self._make_grant = make_grant
        self._policy = replace(policy, on_retry=self._on_retry(policy))
        self._timeout: Any = (
            httpx.USE_CLIENT_DEFAULT if request_timeout is None else request_timeout
        )
        self._observer = observer
        self._client = client
        self._started = time.monotonic()
        self.attempts = 0
        """POSTs sent so far."""

    def __repr__(self) -> str:
        return f"TokenExchange(endpoint={self._path!r}, attempts={self.attempts})"

    @property
    def duration_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)

    async def run(self) -> IssuedToken:
        """The token, or the typed failure that ended the exchange (after any retries)."""
        self._started = time.monotonic()
        self._emit(TokenEvent("token_request_start", attempt=0))
        try:
            issued = await with_retries(self._policy, self._attempt)
        except RemoteCallError as failure:
            self._emit(self._exhausted(failure))
            raise
        self._emit(TokenEvent("token_request_success", self.attempts, duration_ms=self.duration_ms))
        return issued

    async def _attempt(self) -> IssuedToken:
        response = await self._post(self._make_grant())
        if response.status_code == 429 or response.status_code >= 500:
            raise error_for_response(response, method="POST")
        if not response.is_success:
            raise token_refusal(response, path=self._path)
        return self._issued(response)

    async def _post(self, grant: SecretStr) -> httpx.Response:
        # The failure is raised outside the `except` blocks so that no httpx exception (whose
        # request holds the grant) is kept as the context of what mpctl raises.
        self.attempts += 1
        try:
            return await self._http.post(
                self._endpoint,
                data={"grant_type": GRANT_TYPE, "assertion": grant.get_secret_value()},
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                auth=_NO_AUTH,
            )
        except httpx.TimeoutException as exc:
            failure: RemoteCallError = TokenTimeoutError(
                f"no answer within the timeout ({type(exc).__name__})",
                sent=not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout),
                method="POST",
                path=self._path,
            )
            cause = sanitized_cause(exc)
        except httpx.TransportError as exc:
            failure = transport_failure(exc, method="POST", path=self._path, resend_safe=True)
            cause = sanitized_cause(exc)
        raise failure from cause

    def _issued(self, response: httpx.Response) -> IssuedToken:
        body = json_body(response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ResponseFormatError(
                "token response has no access_token",
                method="POST",
                path=self._path,
                status=response.status_code,
            )
        expires_in, scope = body.get("expires_in"), body.get("scope")
        return IssuedToken(
            SecretStr(token),
            expires_in=expires_in if isinstance(expires_in, int) else None,
            scope=scope if isinstance(scope, str) else None,
            http_status=response.status_code,
        )

    def _on_retry(self, policy: RetryPolicy) -> Callable[[RetryNotice], None]:
        def notify(notice: RetryNotice) -> None:
            if notice.error is not None:
                self._emit(
                    TokenEvent(
                        "token_request_retry",
                        attempt=notice.attempt,
                        reason_code=reason_code(notice.error),
                        wait_s=notice.retry_after,
                        http_status=notice.error.status,
                    )
                )
            if policy.on_retry is not None:
                policy.on_retry(notice)

        return notify

    def _exhausted(self, failure: RemoteCallError) -> TokenEvent:
        refused = isinstance(failure, TokenRefusedError)
        return TokenEvent(
            "token_request_exhausted",
            self.attempts,
            outcome=outcome_of(failure),
            reason_code=None if refused else reason_code(failure),
            http_status=failure.status,
            duration_ms=self.duration_ms,
            mp_code=failure.mp_code if isinstance(failure, TokenRefusedError) else None,
        )

    def _emit(self, event: TokenEvent) -> None:
        self._observer(replace(event, client=self._client))
