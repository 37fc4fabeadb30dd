"""Rate limits through `HttpRemote` and the emulator, with many workers at once: one shared pause
after a 429 (or a 503 with Retry-After), and the environment's request-rate ceiling.

Timing is judged from send times a transport records with `time.monotonic` (the clock the gate
uses), never from how long a test took.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import stamina

from mpctl.model.config import Environment
from mpctl.remote import HttpRemote, RetryPolicy, open_remote
from tests.unit.remote.emulator_world import API, LEGACY_CLIENT, EmulatorWorld

WORKERS = 16
ONE_CLIENT = "/api/v1/clients/*"


@dataclass(frozen=True)
class Sent:
    path: str
    sent: float
    returned: float
    status: int


class SendTimes(httpx.AsyncBaseTransport):
    """Wraps a transport and records, per API request, when it went out and when it came back.

    `add_retry_after` puts a Retry-After on 503 answers (the emulator's 5xx faults send none).
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, add_retry_after: int | None = None):
        self.inner = inner
        self.add_retry_after = add_retry_after
        self.log: list[Sent] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent = time.monotonic()
        response = await self.inner.handle_async_request(request)
        if response.status_code == 503 and self.add_retry_after is not None:
            response = await self._with_retry_after(response, self.add_retry_after)
        if str(request.url).startswith(API):
            self.log.append(Sent(request.url.path, sent, time.monotonic(), response.status_code))
        return response

    @staticmethod
    async def _with_retry_after(response: httpx.Response, seconds: int) -> httpx.Response:
        body = await response.aread()
        headers = [*response.headers.multi_items(), ("retry-after", str(seconds))]
        return httpx.Response(response.status_code, headers=headers, content=body)


def _rule(kind: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "path": ONE_CLIENT, "methods": ["GET"], **extra}


async def _many_workers(remote: HttpRemote, calls_each: int) -> None:
    async def worker() -> None:
        for _ in range(calls_each):
            await remote.get_client(LEGACY_CLIENT)

    async with asyncio.TaskGroup() as group:
        for _ in range(WORKERS):
            group.create_task(worker())


def _sent_after(log: list[Sent], moment: float) -> list[Sent]:
    return [entry for entry in log if entry.sent > moment]


@pytest.mark.parametrize(
    ("rule", "add_retry_after", "status"),
    [
        (_rule("rate_limit", retry_after=1, max_hits=1), None, 429),
        (_rule("error", status=503, max_hits=1), 1, 503),
    ],
    ids=["429", "503-with-retry-after"],
)
async def test_after_a_rate_limit_no_worker_sends_before_the_retry_after_moment(
    emulator: EmulatorWorld, rule: dict[str, Any], add_retry_after: int | None, status: int
) -> None:
    """Sixteen workers, three calls each; the emulator answers the first one with `status` and
    Retry-After: 1. Every request sent after that answer came back goes out 1 s later or more
    (the failing worker's retry and the other fifteen alike); all 48 calls succeed."""
    assert not stamina.is_testing()
    await emulator.set_faults(rule)
    times = SendTimes(emulator.transport, add_retry_after)
    async with emulator.remote(retry=RetryPolicy.without_waits(), transport=times) as remote:
        await _many_workers(remote, calls_each=3)
        assert remote.throttle.paused_seconds > 0
    limited = [entry for entry in times.log if entry.status == status]
    assert len(limited) == 1
    resume = limited[0].returned + 1.0
    later = _sent_after(times.log, limited[0].returned)
    assert len(later) >= 3 * WORKERS - WORKERS  # at most one round was already on its way
    assert min(entry.sent for entry in later) >= resume
    assert sum(entry.status == 200 for entry in times.log) == 3 * WORKERS


@pytest.mark.usefixtures("no_waits")
async def test_in_stamina_test_mode_a_429_pauses_nobody(emulator: EmulatorWorld) -> None:
    await emulator.set_faults(_rule("rate_limit", retry_after=30, max_hits=1))
    async with emulator.remote() as remote:
        await _many_workers(remote, calls_each=2)
        assert remote.throttle.paused_seconds == 0.0


async def test_the_environments_ceiling_spaces_the_requests_of_all_workers(
    emulator: EmulatorWorld,
) -> None:
    """`max_requests_per_second: 40`, 80 calls from 16 workers: the k-th request (1-based) goes
    out at least (k - 40) / 40 s after the first, so the last one 1 s after it or later."""
    rate, calls = 40, 80
    environment = Environment.model_validate(
        {**emulator.environment.model_dump(mode="json"), "max_requests_per_second": rate}
    )
    times = SendTimes(emulator.transport)
    async with open_remote(
        environment,
        base_dir=emulator.workdir,
        environ={},
        access="write",
        transport=times,
        concurrency=WORKERS,
    ) as remote:
        assert remote.throttle.rate == rate
        await _many_workers(remote, calls_each=calls // WORKERS)
    stamps = sorted(entry.sent for entry in times.log)
    assert len(stamps) == calls
    slack = 1e-3  # the gate's clock reading precedes the transport's by a few microseconds
    for k, stamp in enumerate(stamps, start=1):
        assert stamp - stamps[0] >= (k - rate) / rate - slack, k
    assert stamps[-1] - stamps[0] >= (calls - rate) / rate - slack


async def test_without_a_ceiling_the_workers_are_not_spaced(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        assert remote.throttle.rate is None
        await _many_workers(remote, calls_each=2)
        assert remote.throttle.paused_seconds == 0.0
