"""`observe`: Digdir's state and the sinks' labels read at the same time, errors as they are.

A fake API whose first listing waits until a sink has been read proves the two overlap (run
one after the other, the observation would wait forever; a timeout turns that into a failure).
A sink that fails fails the observation with its own error, not wrapped, and the fetch in
flight is cancelled; a fetch that fails fails it with the fetch's own error.
"""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from mpctl.model import SinkState
from mpctl.remote import RemoteApi
from mpctl.secrets import SecretSink
from mpctl.state import observe

ORGNO = "313367002"
PATIENCE_SECONDS = 5.0


class SinkDownError(Exception):
    pass


class DigdirDownError(Exception):
    pass


class FakeApi:
    """Nothing registered; the listing of clients waits for `opened` (or fails)."""

    concurrency = 16

    def __init__(self, *, fail: bool = False) -> None:
        self.opened = asyncio.Event()
        self.cancelled = False
        self.fail = fail

    async def list_clients(self) -> tuple[object, ...]:
        if self.fail:
            raise DigdirDownError("unreachable")
        try:
            await self.opened.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return ()

    async def list_scopes(self, *, inactive: bool = False) -> tuple[object, ...]:
        del inactive
        return ()

    async def list_access_all(self) -> tuple[object, ...]:
        return ()

    async def get_jwks(self, client_id: str) -> object:
        raise AssertionError(f"no client is registered, yet the JWKS of {client_id} was read")

    async def list_access(self, scope: str) -> tuple[object, ...]:
        raise AssertionError(f"no scope is registered, yet the access to {scope} was read")

    async def list_public_scopes(self) -> tuple[object, ...]:
        return ()


class FakeSink:
    def __init__(self, api: FakeApi, *, fail: bool = False) -> None:
        self.api = api
        self.fail = fail

    async def read_state(self, client: str) -> SinkState:
        del client
        await asyncio.sleep(0)
        if self.fail:
            raise SinkDownError("the sink is unreadable")
        self.api.opened.set()
        return SinkState(client_id=None)


async def observed(api: FakeApi, sink: FakeSink) -> object:
    sinks = {"billing": cast(SecretSink, sink)}
    return await asyncio.wait_for(
        observe(cast(RemoteApi, api), orgno=ORGNO, sinks=sinks), PATIENCE_SECONDS
    )


async def test_the_sinks_are_read_while_digdir_is_being_read() -> None:
    api = FakeApi()
    snapshot = await observed(api, FakeSink(api))
    assert snapshot is not None
    assert api.opened.is_set()


async def test_a_failing_sink_fails_the_observation_with_its_own_error_and_stops_the_fetch() -> (
    None
):
    api = FakeApi()
    with pytest.raises(SinkDownError):
        await observed(api, FakeSink(api, fail=True))
    assert api.cancelled


async def test_a_failing_fetch_fails_the_observation_with_its_own_error() -> None:
    api = FakeApi(fail=True)
    with pytest.raises(DigdirDownError):
        await observed(api, FakeSink(api))
