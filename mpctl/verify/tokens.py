"""Exchange a JWT grant for an access token at the Maskinporten token endpoint (reference §7).

Owns the one POST to `/token`, its retry budget (seed 002: 4 attempts in all, retried on 5xx,
429 honouring Retry-After, and network errors; never on 4xx), the outcome (`success`,
`client_error`, `exhausted`, `timeout`) and the structured events around it. Retries go through
stamina. Every attempt signs a *fresh* grant (new jti and iat): Maskinporten refuses a reused
one (MP-012), and an attempt that timed out may have reached it. The grant and the token never
appear in an event, an exception or a repr; failures carry status codes and MP codes only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx
import stamina
from pydantic import SecretStr

from mpctl.remote.retry_after import parse_retry_after
from mpctl.secrets import PrivateKey
from mpctl.verify.catalogue import Diagnosis, diagnose
from mpctl.verify.events import Outcome, ReasonCode, TokenEvent, TokenObserver, null_observer
from mpctl.verify.grant import GrantRequest, new_jti, sign_grant

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GrantFactory = Callable[[], SecretStr]


@dataclass(frozen=True)
class RetryBudget:
    """Seed 002's budget: 4 attempts (1 + 3 retries), bounded waits and a total deadline."""

    attempts: int = 4
    request_timeout: float = 10.0
    total_timeout: float = 60.0
    wait_initial: float = 0.5
    wait_max: float = 8.0
    wait_jitter: float = 0.5
    max_retry_after: float = 30.0


DEFAULT_BUDGET = RetryBudget()


@dataclass(frozen=True)
class TokenError:
    """A refused request: the status and the endpoint's error body, read against the catalogue."""

    http_status: int
    diagnosis: Diagnosis


@dataclass(frozen=True)
class TokenResult:
    """How the exchange ended. `access_token` is set only on success and never shows in a repr."""

    outcome: Outcome
    attempts: int
    duration_ms: int
    access_token: SecretStr | None = None
    expires_in: int | None = None
    scope: str | None = None
    http_status: int | None = None
    reason_code: ReasonCode | None = None
    error: TokenError | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


class _TransientError(Exception):
    """A retryable failure. Holds codes only: no request, response, grant or body."""

    def __init__(
        self, reason: ReasonCode, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{reason} (HTTP {status})" if status else reason)
        self.reason: ReasonCode = reason
        self.status = status
        self.retry_after = retry_after


def fresh_grants(
    key: PrivateKey,
    request: GrantRequest,
    *,
    clock: Callable[[], float] = time.time,
    jti: Callable[[], str] = new_jti,
) -> GrantFactory:
    """A factory signing a new grant (current iat, fresh jti) each time it is called."""

    def make() -> SecretStr:
        return sign_grant(key, request, issued_at=int(clock()), jti=jti())

    return make


async def request_token(
    http: httpx.AsyncClient,
    token_endpoint: str,
    make_grant: GrantFactory,
    *,
    budget: RetryBudget = DEFAULT_BUDGET,
    observer: TokenObserver = null_observer,
    client: str | None = None,
) -> TokenResult:
    """POST grants to `token_endpoint` within `budget`; never raises for HTTP outcomes."""
    exchange = _Exchange(
        http, token_endpoint, make_grant, budget=budget, observer=observer, client=client
    )
    return await exchange.run()


class _Exchange:
    """One token exchange: the attempt loop, its retry decisions and its events."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoint: str,
        make_grant: GrantFactory,
        *,
        budget: RetryBudget,
        observer: TokenObserver,
        client: str | None,
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self._make_grant = make_grant
        self._budget = budget
        self._observer = observer
        self._client = client
        self._attempts = 0
        self._started = time.monotonic()
        self._planned_wait_s = 0.0

    async def run(self) -> TokenResult:
        self._started = time.monotonic()
        self._emit(TokenEvent("token_request_start", attempt=0))
        budget = self._budget
        try:
            async for attempt in stamina.retry_context(
                on=self._retry_delay,
                attempts=budget.attempts,
                timeout=budget.total_timeout,
                wait_initial=budget.wait_initial,
                wait_max=budget.wait_max,
                wait_jitter=budget.wait_jitter,
            ):
                with attempt:
                    self._attempts = attempt.num
                    return await self._attempt()
        except _TransientError as failure:
            return self._exhausted(failure)
        raise AssertionError("unreachable: stamina always runs at least one attempt")

    async def _attempt(self) -> TokenResult:
        response = await self._post(self._make_grant())
        if response.status_code == httpx.codes.OK:
            return self._success(response)
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code == httpx.codes.TOO_MANY_REQUESTS:
            raise _TransientError("rate_limited", 429, wait)
        if response.status_code >= 500:
            raise _TransientError("server_error", response.status_code, wait)
        return self._client_error(response)

    async def _post(self, grant: SecretStr) -> httpx.Response:
        # The failure is raised outside the `except` blocks so that no httpx exception (whose
        # request holds the grant) is kept as the context of what mpctl raises.
        reason: ReasonCode
        try:
            return await self._http.post(
                self._endpoint,
                data={"grant_type": GRANT_TYPE, "assertion": grant.get_secret_value()},
                headers={"Accept": "application/json"},
                timeout=self._budget.request_timeout,
            )
        except httpx.TimeoutException:
            reason = "timeout"
        except httpx.TransportError:
            reason = "network_error"
        raise _TransientError(reason)

    def _retry_delay(self, exc: Exception) -> bool | float:
        """stamina's backoff hook: False stops, True retries with backoff, a float waits that."""
        if not isinstance(exc, _TransientError) or self._attempts >= self._budget.attempts:
            return False
        wait = exc.retry_after
        if wait is not None and wait > self._budget.max_retry_after:
            return False
        if self._budget_used_s() + (wait or 0.0) >= self._budget.total_timeout:
            return False
        self._planned_wait_s += wait or 0.0
        self._emit(
            TokenEvent(
                "token_request_retry",
                attempt=self._attempts,
                reason_code=exc.reason,
                wait_s=wait,
                http_status=exc.status,
            )
        )
        return wait if wait is not None else True

    def _success(self, response: httpx.Response) -> TokenResult:
        body = _json_object(response)
        token = body.get("access_token") if body else None
        if not isinstance(token, str) or not token or body is None:
            raise _TransientError("bad_response", response.status_code)
        duration = self._elapsed_ms()
        self._emit(TokenEvent("token_request_success", self._attempts, duration_ms=duration))
        expires_in, scope = body.get("expires_in"), body.get("scope")
        return TokenResult(
            outcome="success",
            attempts=self._attempts,
            duration_ms=duration,
            access_token=SecretStr(token),
            expires_in=expires_in if isinstance(expires_in, int) else None,
            scope=scope if isinstance(scope, str) else None,
            http_status=response.status_code,
        )

    def _client_error(self, response: httpx.Response) -> TokenResult:
        diagnosis = diagnose(_json_object(response) or {})
        best = diagnosis.best
        self._emit(
            TokenEvent(
                "token_request_exhausted",
                self._attempts,
                outcome="client_error",
                http_status=response.status_code,
                duration_ms=self._elapsed_ms(),
                mp_code=best.id if best else None,
            )
        )
        return TokenResult(
            outcome="client_error",
            attempts=self._attempts,
            duration_ms=self._elapsed_ms(),
            http_status=response.status_code,
            error=TokenError(response.status_code, diagnosis),
        )

    def _exhausted(self, failure: _TransientError) -> TokenResult:
        outcome: Outcome = "timeout" if failure.reason == "timeout" else "exhausted"
        duration = self._elapsed_ms()
        self._emit(
            TokenEvent(
                "token_request_exhausted",
                self._attempts,
                outcome=outcome,
                reason_code=failure.reason,
                http_status=failure.status,
                duration_ms=duration,
            )
        )
        return TokenResult(
            outcome=outcome,
            attempts=self._attempts,
            duration_ms=duration,
            http_status=failure.status,
            reason_code=failure.reason,
        )

    def _emit(self, event: TokenEvent) -> None:
        self._observer(replace(event, client=self._client))

    def _elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def _budget_used_s(self) -> float:
        """Time spent so far; at least the Retry-After waits already committed to."""
        return max(self._elapsed_s(), self._planned_wait_s)

    def _elapsed_ms(self) -> int:
        return int(self._elapsed_s() * 1000)


def _json_object(response: httpx.Response) -> dict[str, object] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
