"""`Throttle`: the one gate every request of one `HttpRemote` passes just before it is sent.

Owns two waits shared by all workers of a remote (one environment): a pause until one moment
after the server said "too many requests" (429, or 503 with Retry-After), so sixteen workers
wait for the same instant instead of each backing off on its own and hammering on; and an
optional request-rate ceiling, a token bucket of `rate` tokens per second holding at most
`max(1, rate)` (so K requests take at least (K - rate) / rate seconds). Waiters are served in
arrival order (one lock; only its holder sleeps). Time and sleeping are injectable for tests.
Must not decide how long a pause is (that is `retry.shared_pause`), retry, or do I/O.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

_TOKEN_SLACK = 1e-9
"""A token this close to whole counts as whole (float rounding must not cause a 0 s sleep)."""


class Throttle:
    """Shared pause and rate ceiling for the requests of one remote."""

    def __init__(
        self,
        rate: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError("rate must be a positive number of requests per second")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._capacity = max(1.0, rate) if rate is not None else 0.0
        self._tokens = self._capacity
        self._stamp = clock()
        self._resume_at = -math.inf
        self._lock = asyncio.Lock()
        self.paused_seconds = 0.0
        """Seconds the gate has slept in all (pauses and ceiling), for reports and tests."""

    def __repr__(self) -> str:
        return f"Throttle(rate={self.rate!r})"

    @property
    def resume_at(self) -> float:
        """The clock reading before which no request passes (minus infinity: no pause)."""
        return self._resume_at

    def pause(self, seconds: float) -> None:
        """Hold every request back until `seconds` from now (a later pause never shortens one).

        The rate ceiling restarts gently: at most one token is left, and none accrues during
        the pause, so the workers do not all burst out at the resume moment.
        """
        if seconds <= 0:
            return
        resume_at = self._clock() + seconds
        if resume_at <= self._resume_at:
            return
        self._resume_at = resume_at
        self._tokens = min(self._tokens, 1.0)
        self._stamp = max(self._stamp, resume_at)

    async def acquire(self) -> None:
        """Wait until this request may be sent: after any pause, and within the ceiling."""
        if self.rate is None and self._clock() >= self._resume_at:
            return
        async with self._lock:
            while (delay := self._delay()) > 0:
                self.paused_seconds += delay
                await self._sleep(delay)
            if self.rate is not None:
                self._tokens -= 1.0

    def _delay(self) -> float:
        """Seconds until the next request may go (0: now), refilling the bucket up to now."""
        now = self._clock()
        if now < self._resume_at:
            return self._resume_at - now
        if self.rate is None:
            return 0.0
        self._refill(now)
        missing = 1.0 - self._tokens
        return 0.0 if missing <= _TOKEN_SLACK else missing / self.rate

    def _refill(self, now: float) -> None:
        if self.rate is None or now <= self._stamp:
            return
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
