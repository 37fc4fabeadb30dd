"""When a failed call to Digdir is tried again, how long to wait, and how often (seed 002).

Owns `RetryPolicy` and `with_retries`, which runs one HTTP exchange under stamina (the loop,
the timeout and the attempt budget are stamina's; this module decides which failures qualify
and how long to wait: jittered exponential backoff, or the server's Retry-After, so each retry
can be reported with its real wait). Budget: 4 attempts in all (1 + 3 retries).

How safe a resend is depends on the call (`Replay`):

    failure                                 SAFE     SAME_RESULT   CREATE
    429 (Retry-After honoured)              retry    retry         retry
    connect failure (request never sent)    retry    retry         retry
    server certificate not trusted here     never    never         never
    5xx answer                              retry    retry         ambiguous
    sent, no answer (timeout, dropped)      retry    ambiguous     ambiguous
    400 401 403 404 409 428, bad 2xx body   never    never         never

SAFE: GETs and PUT scope access. SAME_RESULT: PUTs, DELETEs and the JWKS POST (a resend
replaces or removes the same thing again). CREATE: POST /clients and POST /scopes (a resend
makes a second client, or a misleading 409). "ambiguous" = `AmbiguousWriteError`.

A 429 waits `Retry-After` plus jitter and gives up at once if the server asks for more than
`max_retry_after`. `shared_pause` says how long every other worker of the same remote holds
back after a 429 (or a 503 with Retry-After): the server's wait when the policy would honour
it, `wait_initial` for a 429 without one, nothing in stamina's test mode. 401 is never retried
here: the auth flow has already refreshed the token once.

Contract for writes: `AmbiguousWriteError` means the write may or may not have happened. It is
never retried. The caller re-reads the remote state and decides from what it sees (a create:
list and match; a key set: a fresh read before computing the next set). Resending blindly could
create a second client, or overwrite a key set someone else changed in between.

Tests make waits zero with `stamina.set_testing(True, attempts=4, cap=True)` or a policy whose
waits are 0. Each scheduled retry is reported once, in mpctl's words: an INFO line on the
`mpctl.remote` logger (method, path, status, attempt, wait; the CLI shows it with -v) and a
`RetryNotice` to `on_retry`.
Must not do I/O itself, and must not decide anything about the request's content.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

import stamina

from mpctl.remote.errors import RateLimited, RemoteCallError, ServerError, TransportError

T = TypeVar("T")
_log = logging.getLogger("mpctl.remote")


class Replay(Enum):
    """How safe it is to send a call again once it may have reached the server."""

    SAFE = "safe"
    """Reads, and writes whose repetition is documented as harmless (PUT scope access)."""
    SAME_RESULT = "same_result"
    """Replacing or removing writes: sent twice, they end in the same state."""
    CREATE = "create"
    """A second send makes a second object (POST /clients) or a misleading 409 (POST /scopes)."""


@dataclass(frozen=True)
class RetryNotice:
    """One scheduled retry, for progress displays and tests. Holds no request content."""

    method: str
    path: str
    attempt: int
    """The attempt that failed (1 = the first send)."""
    reason: str
    retry_after: float | None
    """The wait the server asked for (429 Retry-After), if any."""
    wait: float = 0.0
    """Seconds until the next attempt (backoff with jitter, or Retry-After plus jitter)."""
    error: RemoteCallError | None = field(default=None, repr=False, compare=False)
    """The failure itself (typed, redacted: no request content), for callers that classify it."""


@dataclass(frozen=True)
class RetryPolicy:
    """Budget and waits for one call. Defaults follow seed 002 (4 attempts).

    `timeout` bounds the whole call: a retry whose wait would end past it is not made (the
    waits already committed count, even where stamina's test mode does not really sleep).
    """

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
    if isinstance(exc, TransportError):
        return not exc.permanent  # an untrusted certificate stays untrusted
    return isinstance(exc, ServerError)


def shared_pause(policy: RetryPolicy, status: int, retry_after: float | None) -> float:
    """Seconds all workers of a remote pause after an answer `status` with `retry_after`.

    A 429 or a 503 that names its wait: that wait, when it is within `max_retry_after` (a
    longer ask fails the call at once, as `retry_decision` does, so nobody waits for it).
    A 429 without a usable Retry-After: one initial backoff. Anything else, or stamina's test
    mode (tests make waits zero there): 0.
    """
    if stamina.is_testing():
        return 0.0
    if status == 429 and retry_after is None:
        return policy.wait_initial
    if status not in (429, 503) or retry_after is None:
        return 0.0
    return retry_after if retry_after <= policy.max_retry_after else 0.0


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """Jittered exponential backoff after failed attempt number `attempt` (1-based), capped."""
    jitter = random.uniform(0.0, policy.wait_jitter) if policy.wait_jitter else 0.0  # noqa: S311
    try:
        return min(policy.wait_max, policy.wait_initial * 2.0 ** (attempt - 1) + jitter)
    except OverflowError:
        return policy.wait_max


async def with_retries(policy: RetryPolicy, exchange: Callable[[], Awaitable[T]]) -> T:
    """Run `exchange` until it succeeds, fails for good, or the policy's budget is spent."""
    attempt_number = 0
    started = time.monotonic()
    committed = 0.0

    def decide(exc: Exception) -> bool | float:
        nonlocal committed
        decision = retry_decision(exc, policy)
        if decision is False:
            return False
        wait = backoff(policy, attempt_number) if decision is True else decision
        used = max(time.monotonic() - started, committed)
        if policy.timeout is not None and used + wait >= policy.timeout:
            return False
        committed += wait
        if attempt_number < policy.attempts and isinstance(exc, RemoteCallError):
            _notify(policy, exc, attempt_number, wait)
        return wait

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


def _notify(policy: RetryPolicy, exc: RemoteCallError, attempt: int, wait: float) -> None:
    retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
    reason = f"status {exc.status}" if exc.status is not None else type(exc).__name__
    notice = RetryNotice(exc.method, exc.path, attempt, reason, retry_after, wait, exc)
    _log.info(
        "retry: %s %s failed with %s on attempt %d of %d; next attempt in %.1f s",
        exc.method,
        exc.path,
        reason,
        attempt,
        policy.attempts,
        wait,
    )
    if policy.on_retry is not None:
        policy.on_retry(notice)
