"""`read_states`: many clients' labels in a few worker-thread calls, as each read would give.

The lanes are checked against what matters to their callers: the same labels as one
`read_state` per client (file sinks with keys and without, and a sink that is not threaded),
each client's lock honoured, the first failure raised as itself, and a cancelled read that
stops its lane before the next client (a blocking sink that waits on a `threading.Event`
holds the lane still while the test cancels it).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

from mpctl.model import FileSink, SinkState
from mpctl.secrets import (
    FileSecretSink,
    PrivateKey,
    SecretSink,
    SinkContext,
    ThreadedSink,
    read_states,
)
from mpctl.secrets.protocol import READ_LANES

PROMOTED = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
PATIENCE_SECONDS = 5.0


class SinkDownError(Exception):
    pass


class RecordingSink:
    """A blocking sink that records each read; `hold` makes one client's read wait."""

    def __init__(self, *, hold: str | None = None, fail: str | None = None) -> None:
        self.read: list[str] = []
        self.hold, self.fail = hold, fail
        self.reading = threading.Event()
        self.release = threading.Event()

    def read_state(self, client: str) -> SinkState:
        if client == self.hold:
            self.reading.set()
            self.release.wait(PATIENCE_SECONDS)
        if client == self.fail:
            raise SinkDownError(f"{client}'s store is unreadable")
        self.read.append(client)
        return SinkState(client_id=f"id-{client}")


class AsyncSink:
    """A sink that is not a `ThreadedSink`: its reads are awaited one by one."""

    async def read_state(self, client: str) -> SinkState:
        await asyncio.sleep(0)
        return SinkState(client_id=f"async-{client}")


def names(count: int) -> list[str]:
    return [f"client-{i:02d}" for i in range(count)]


def threaded(blocking: object, clients: list[str]) -> dict[str, SecretSink]:
    sink = ThreadedSink(blocking)  # type: ignore[arg-type]
    return dict.fromkeys(clients, sink)


async def test_the_labels_are_those_each_client_s_own_read_gives(
    context: SinkContext, keys: tuple[PrivateKey, PrivateKey, PrivateKey]
) -> None:
    clients = names(3 * READ_LANES + 1)
    sinks: dict[str, SecretSink] = {}
    for index, client in enumerate(clients):
        blocking = FileSecretSink(FileSink(), context)
        if index % 2:
            blocking.set_client_id(client, f"id-{index}")
            blocking.stage(client, keys[0])
            blocking.promote(client, keys[0].kid, PROMOTED)
        sinks[client] = ThreadedSink(blocking)
    sinks["zz-async"] = AsyncSink()  # type: ignore[assignment]
    one_by_one = {name: await sinks[name].read_state(name) for name in sorted(sinks)}
    states = await read_states(sinks)
    assert states == one_by_one
    assert list(states) == sorted(sinks)
    assert states[clients[1]].current is not None
    assert states[clients[0]] == SinkState()


async def test_a_client_being_written_is_read_after_the_write() -> None:
    blocking = RecordingSink()
    sinks = threaded(blocking, names(READ_LANES * 2))
    lock = sinks["client-00"].lock("client-00")  # type: ignore[attr-defined]
    async with lock:
        reading = asyncio.create_task(read_states(sinks))
        await asyncio.sleep(0.05)
        assert "client-00" not in blocking.read
    states = await asyncio.wait_for(reading, PATIENCE_SECONDS)
    assert states["client-00"].client_id == "id-client-00"


async def test_the_first_failure_is_raised_as_itself() -> None:
    blocking = RecordingSink(fail="client-03")
    with pytest.raises(SinkDownError, match="client-03"):
        await read_states(threaded(blocking, names(READ_LANES * 2)))


async def test_a_cancelled_read_stops_its_lane_before_the_next_client() -> None:
    clients = names(READ_LANES + 1)  # lane 0: client-00, then client-08
    blocking = RecordingSink(hold="client-00")
    reading = asyncio.create_task(read_states(threaded(blocking, clients)))
    assert await asyncio.to_thread(blocking.reading.wait, PATIENCE_SECONDS)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    blocking.release.set()
    await asyncio.get_running_loop().shutdown_default_executor()  # the lane's thread is done
    assert "client-00" in blocking.read
    assert "client-08" not in blocking.read
