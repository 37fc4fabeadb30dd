"""When a failed call to Digdir is tried again, how long to wait, and how often (seed 002).

Owns `RetryPolicy` and `with_retries`, which runs one HTTP exchange under stamina (the loop,
the jittered exponential backoff and the attempt budget are stamina's; this module only decides
which failures qualify). Budget: 4 attempts in all (1 + 3 retries).

Retried: `ServerError` (5xx), `RateLimited` (429; waits `Retry-After` plus jitter, and gives up
at once if the server asks for more than `max_retry_after`), and `TransportError`, which the
client raises only when resending is safe: the request was never sent (connect failure), or the
call is idempotent (every GET, and the PUT that grants scope access).

Never retried: 400, 401 (the auth flow already refreshed the token once), 403, 404, 409, 428,
malformed success bodies, admin-token failures, and `AmbiguousWriteError`.

Contract for writes: a POST/PUT/DELETE that fails after it was sent (read timeout, connection
dropped before the answer) is NOT resent. It raises `AmbiguousWriteError`; the caller re-reads the
remote state and decides from what it sees. Resending blindly could create a second client or
overwrite a key set someone else changed in between.

Tests make waits zero with `stamina.set_testing(True, attempts=4, cap=True)` or a policy whose
waits are 0; `on_retry` reports each scheduled retry with the wait the server asked for.
Must not do I/O itself, and must not decide anything about the request's content.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import stamina

from mpctl.remote.errors import RateLimited, RemoteCallError, ServerError, TransportError

T = TypeVar("T")
_log = logging.getLogger("mpctl.remote")


@dataclass(frozen=True)
class RetryNotice:
    """One scheduled retry, for progress displays and tests. Holds no request content."""

    method: str
    path: str
    attempt: int
    reason: str
    retry_after: float | None


@dataclass(frozen=True)
class RetryPolicy:
    """Budget and waits for one call. Defaults follow seed 002 (4 attempts)."""

    attempts: int = 4
    wait_initial: float = 0.5
    wait_max: float = 8.0
    wait_jitter: float = 1.0
    max_retry_after: float = 60.0
    timeout: float | None = 180.0
    on_retry: Callable[[RetryNotice], None] | None = None

    @classmethod
    def without_waits(cls, attempts: int = 4) -> RetryPolicy:
        """The same decisions with zero backoff (a server's Retry-After is still honoured)."""
        return cls(attempts=attempts, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0)


def retry_decision(exc: Exception, policy: RetryPolicy) -> bool | float:
    """False: give up. True: retry after stamina's backoff. A float: retry after that many s."""
    if isinstance(exc, RateLimited):
        if exc.retry_after is None:
            return True
        if exc.retry_after > policy.max_retry_after:
            return False
        jitter = random.uniform(0.0, policy.wait_jitter)  # noqa: S311 - jitter, not security
        return exc.retry_after + jitter
    return isinstance(exc, ServerError | TransportError)


async def with_retries(policy: RetryPolicy, exchange: Callable[[], Awaitable[T]]) -> T:
    """Run `exchange` until it succeeds, fails for good, or the policy's budget is spent."""
    attempt_number = 0

    def decide(exc: Exception) -> bool | float:
        decision = retry_decision(exc, policy)
        will_retry = decision is not False and attempt_number < policy.attempts
        if will_retry and isinstance(exc, RemoteCallError):
            _notify(policy, exc, attempt_number)
        return decision

    async for attempt in stamina.retry_context(
        on=decide,
        attempts=policy.attempts,
        timeout=policy.timeout,
        wait_initial=policy.wait_initial,
        wait_max=policy.wait_max,
        wait_jitter=policy.wait_jitter,
    ):
        with attempt:
            attempt_number = attempt.num
            return await exchange()
    raise AssertionError("unreachable: stamina re-raises the last failure")


def _notify(policy: RetryPolicy, exc: RemoteCallError, attempt: int) -> None:
    retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
    reason = f"status {exc.status}" if exc.status is not None else type(exc).__name__
    notice = RetryNotice(exc.method, exc.path, attempt, reason, retry_after)
    _log.info("retrying %s %s after %s (attempt %d failed)", exc.method, exc.path, reason, attempt)
    if policy.on_retry is not None:
        policy.on_retry(notice)
