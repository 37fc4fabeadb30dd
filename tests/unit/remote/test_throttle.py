"""The shared gate on a fake clock: pauses, the rate ceiling, and how long a pause is."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest
import stamina
from pydantic import ValidationError

from mpctl.model.config import Environment
from mpctl.remote.retry import RetryPolicy, shared_pause
from mpctl.remote.throttle import Throttle
from tests.unit.remote.emulator_world import ENVIRONMENT


class FakeClock:
    """A clock that only moves when the gate sleeps (only the lock holder ever sleeps).

    It moves in steps of at most 0.5 s and runs `at[moment]` once the clock reaches it, as if
    something happened while the gate slept.
    """

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.at: dict[float, Callable[[], None]] = {}

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + 0.5)
            for moment in sorted(m for m in self.at if m <= self.now):
                self.at.pop(moment)()
        await asyncio.sleep(0)


def _gate(rate: float | None = None) -> tuple[Throttle, FakeClock]:
    clock = FakeClock()
    return Throttle(rate, clock=clock, sleep=clock.sleep), clock


async def _grant_times(throttle: Throttle, clock: FakeClock, workers: int) -> list[float]:
    granted: list[float] = []

    async def one() -> None:
        await throttle.acquire()
        granted.append(clock.now)

    await asyncio.gather(*(one() for _ in range(workers)))
    return granted


async def test_a_ceiling_of_n_per_second_lets_n_go_then_one_every_1_over_n() -> None:
    throttle, clock = _gate(rate=4)
    granted = await _grant_times(throttle, clock, workers=10)
    expected = [100.0] * 4 + [100.0 + k * 0.25 for k in range(1, 7)]
    assert granted == pytest.approx(expected)


async def test_k_requests_under_a_ceiling_take_at_least_k_minus_n_over_n_seconds() -> None:
    throttle, clock = _gate(rate=8)
    granted = await _grant_times(throttle, clock, workers=50)
    assert granted[-1] - granted[0] >= (50 - 8) / 8 - 1e-9


async def test_a_fractional_ceiling_holds_one_token() -> None:
    throttle, clock = _gate(rate=0.5)
    granted = await _grant_times(throttle, clock, workers=3)
    assert granted == pytest.approx([100.0, 102.0, 104.0])


async def test_without_a_ceiling_or_a_pause_nobody_waits() -> None:
    throttle, clock = _gate()
    assert await _grant_times(throttle, clock, workers=20) == [100.0] * 20
    assert clock.sleeps == []


async def test_a_pause_holds_every_worker_until_the_same_moment() -> None:
    throttle, clock = _gate()
    throttle.pause(2.0)
    throttle.pause(0.5)  # a shorter pause later never shortens the first
    assert await _grant_times(throttle, clock, workers=16) == [102.0] * 16
    assert throttle.paused_seconds == pytest.approx(2.0)


async def test_a_later_longer_pause_extends_it_for_those_already_waiting() -> None:
    throttle, clock = _gate()
    throttle.pause(1.0)
    clock.at[100.5] = lambda: throttle.pause(3.0)  # another worker's 429, mid-pause
    assert await _grant_times(throttle, clock, workers=4) == [103.5] * 4


async def test_after_a_pause_the_ceiling_restarts_from_one_token() -> None:
    throttle, clock = _gate(rate=10)
    throttle.pause(1.0)
    granted = await _grant_times(throttle, clock, workers=4)
    assert granted == pytest.approx([101.0, 101.1, 101.2, 101.3])


@pytest.mark.parametrize("rate", [0.0, -1.0, math.inf, math.nan])
def test_a_ceiling_must_be_a_positive_finite_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Throttle(rate)


@pytest.mark.parametrize(
    ("status", "retry_after", "pause"),
    [
        (429, 7.0, 7.0),
        (503, 2.0, 2.0),
        (429, None, 0.5),  # no usable Retry-After: one initial backoff
        (503, None, 0.0),  # a plain 503 is the failing call's own business
        (500, 2.0, 0.0),
        (429, 3600.0, 0.0),  # beyond max_retry_after the call fails at once: nobody waits
        (429, 60.0, 60.0),
    ],
)
def test_shared_pause_follows_the_retry_policy(
    status: int, retry_after: float | None, pause: float
) -> None:
    assert not stamina.is_testing()
    assert shared_pause(RetryPolicy(), status, retry_after) == pause


def test_shared_pause_is_zero_in_stamina_test_mode() -> None:
    with stamina.set_testing(True):
        assert shared_pause(RetryPolicy(), 429, 7.0) == 0.0


def test_the_ceiling_is_optional_and_positive_in_mpctl_yaml() -> None:
    wire = ENVIRONMENT.model_dump(mode="json", exclude_none=True)
    assert Environment.model_validate(wire).max_requests_per_second is None
    limited = Environment.model_validate({**wire, "max_requests_per_second": 12.5})
    assert limited.max_requests_per_second == 12.5
    for bad in (0, -3, "fast", float("inf")):
        with pytest.raises(ValidationError, match="max_requests_per_second"):
            Environment.model_validate({**wire, "max_requests_per_second": bad})
