"""`fetch`'s per-client and per-scope reads run in lanes, never more begun than the remote runs.

Against the emulator, through the real `HttpRemote`: a thin `RemoteApi` around it counts the
JWKS and access reads begun and not yet answered. With a task per read, every read of the
snapshot would be begun (and set up) at once and wait in the remote's queue; in lanes, no more
are begun than the remote's `concurrency`, and each read still gets its own answer. A failing
read fails the fetch with its own error, and the lanes stop: a few reads begun beside it at
most, never the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from mpctl.model import ClientRegistration
from mpctl.remote import HttpRemote, RemoteApi, RetryPolicy, ServerError, fetch
from tests.unit.remote.emulator_world import ACME, NEW_CLIENT, EmulatorWorld, public_jwk

CLIENTS = 12
LANES = 3


class CountingRemote:
    """The real remote; counts the per-item reads begun and not yet answered."""

    def __init__(self, inner: HttpRemote) -> None:
        self._inner = inner
        self.concurrency = inner.concurrency
        self.open = {"jwks": 0, "access": 0}
        self.most_open = {"jwks": 0, "access": 0}
        self.begun: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get_jwks(self, client_id: str) -> Any:
        return await self._counted("jwks", client_id, self._inner.get_jwks)

    async def list_access(self, scope: str) -> Any:
        return await self._counted("access", scope, self._inner.list_access)

    async def _counted(self, kind: str, item: str, read: Callable[[str], Awaitable[Any]]) -> Any:
        self.begun.append(item)
        self.open[kind] += 1
        self.most_open[kind] = max(self.most_open[kind], self.open[kind])
        try:
            return await read(item)
        finally:
            self.open[kind] -= 1


async def _registered_clients(emulator: EmulatorWorld) -> list[str]:
    async with emulator.remote() as remote:
        for index in range(CLIENTS):
            body = {**NEW_CLIENT, "client_name": f"lane {index:02d}"}
            created = await remote.create_client(ClientRegistration.model_validate(body))
            await remote.put_jwks(created.client_id, [public_jwk(f"lane-{index:02d}")])
        return sorted(c.client_id for c in await remote.list_clients() if c.active)


async def test_no_more_reads_are_begun_than_the_remote_runs_at_once(
    emulator: EmulatorWorld,
) -> None:
    active = await _registered_clients(emulator)
    assert len(active) > CLIENTS  # ours and the world's own
    await emulator.set_faults({"kind": "latency", "path": "/api/v1/*", "latency_ms": 20})
    async with emulator.remote(concurrency=LANES) as remote:
        counting = CountingRemote(remote)
        state = await fetch(cast(RemoteApi, counting), orgno=ACME)
    assert counting.most_open == {"jwks": LANES, "access": 2}  # a task per read: all at once
    assert sorted(counting.begun) == sorted([*active, *state.scopes])
    assert list(state.jwks) == active
    for index in range(CLIENTS):
        kids = [k.kid for jwks in state.jwks.values() for k in jwks.keys]
        assert f"lane-{index:02d}" in kids
    lane_00 = next(c for c in state.clients.values() if c.client_name == "lane 00")
    assert [k.kid for k in state.jwks[lane_00.client_id].keys] == ["lane-00"]


async def test_a_failing_read_fails_the_fetch_and_no_lane_goes_on(
    emulator: EmulatorWorld,
) -> None:
    active = await _registered_clients(emulator)
    failing = active[4]
    path = f"/api/v1/clients/{failing}/jwks"
    await emulator.set_faults(
        {"kind": "error", "path": path, "methods": ["GET"], "status": 500},
        {"kind": "latency", "path": "/api/v1/*", "latency_ms": 20},  # reads wait, as on a network
    )
    async with emulator.remote(concurrency=LANES, retry=RetryPolicy(attempts=1)) as remote:
        counting = CountingRemote(remote)
        with pytest.raises(ServerError) as caught:
            await fetch(cast(RemoteApi, counting), orgno=ACME)
    assert failing in caught.value.path
    jwks_begun = [item for item in counting.begun if item in active]
    assert failing in jwks_begun
    assert len(jwks_begun) <= active.index(failing) + LANES < len(active)  # a task per read: all
    assert counting.open == {"jwks": 0, "access": 0}
