"""Time as the emulator sees it.

Owns the `Clock` protocol and its two implementations: the wall clock and a frozen test clock
that only moves when told to. It must not know about state or requests; the control surface's
clock offset is applied on top of whichever clock the app was given (see `core`).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as UTC epoch seconds."""

    def now(self) -> float:
        """Return the current time in seconds since the epoch (UTC)."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        return time.time()


class FrozenClock:
    """A clock that stands still until a test advances or sets it."""

    def __init__(self, start: float = 1_748_772_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or backward, with a negative value)."""
        self._now += seconds

    def set(self, epoch_seconds: float) -> None:
        """Jump to an absolute time."""
        self._now = float(epoch_seconds)

    def __repr__(self) -> str:
        return f"FrozenClock({self._now!r})"
