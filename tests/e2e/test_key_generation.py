"""Where and when the stage phase makes a new key: in the key pool, while Digdir is asked.

The stage phase starts the key's generation in the key pool's threads (`mpctl.secrets.keygen`)
and reads the client's registered kids meanwhile; the kid is chosen once both are there. These
tests run the real executor against the embedded emulator (helpers of test_executors_keys.py)
and prove the overlap by making the read of the kids wait for the generation to have begun: a
stage that asked Digdir first would wait for ever (here: 5 s, then fail).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

import mpctl.secrets.keygen
import mpctl.secrets.keys
from mpctl.errors import MpctlError
from mpctl.model import ObservedJwks
from mpctl.plan import Action, KeyPhase
from mpctl.remote import HttpRemote, ServerError
from mpctl.secrets import PrivateKey
from tests.e2e.conftest import Templates
from tests.e2e.harness import copy_world
from tests.e2e.test_executors_clients import fault
from tests.e2e.test_executors_keys import NAME, for_client, no_violation, run_step

pytestmark = pytest.mark.usefixtures("fast_crypto")

STAGE_ONLY = (KeyPhase.STAGE,)


class GenerationWatch:
    """Wraps the key pool's `generate_key`: when it began, in which thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.began = threading.Event()
        self.threads: list[str] = []
        generate = mpctl.secrets.keys.generate_key

        def watched(**arguments: Any) -> PrivateKey:
            self.threads.append(threading.current_thread().name)
            self.began.set()
            return generate(**arguments)

        monkeypatch.setattr(mpctl.secrets.keygen, "generate_key", watched)


def kids_read_after_generation_began(
    monkeypatch: pytest.MonkeyPatch, watch: GenerationWatch
) -> list[bool]:
    """Make every read of a client's kids wait (up to 5 s) until a key generation has begun;
    returns, per read, whether it had."""
    seen: list[bool] = []
    read = HttpRemote.get_jwks

    async def waiting(self: HttpRemote, client_id: str) -> ObservedJwks:
        for _ in range(500):
            if watch.began.is_set():
                break
            await asyncio.sleep(0.01)
        seen.append(watch.began.is_set())
        return await read(self, client_id)

    monkeypatch.setattr(HttpRemote, "get_jwks", waiting)
    return seen


async def test_the_new_key_is_made_in_the_key_pool_while_digdir_is_asked_for_the_kids(
    small_worlds: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    watch = GenerationWatch(monkeypatch)
    reads = kids_read_after_generation_began(monkeypatch, watch)

    ran = await run_step(world, for_client(world, Action.ROTATE_KEY, phases=STAGE_ONLY))

    assert ran.error is None, ran.error
    assert ran.written == ["sink.stage"]
    assert reads == [True]  # the stage's one read of the kids waited for nothing
    assert len(watch.threads) == 1
    assert watch.threads[0].startswith("mpctl-keygen")
    pending = world.sink_states()[NAME].pending
    assert pending is not None
    assert pending.kid not in {"unnamed", ""}  # named once the kids were known
    assert pending.kid not in world.client_keys(NAME)
    no_violation(world)


async def test_a_failed_read_of_the_kids_fails_the_stage_with_its_own_error_and_stages_nothing(
    small_worlds: Templates, tmp_path: Path
) -> None:
    from mpctl.emulator import FaultRule

    world = copy_world(small_worlds.converged, tmp_path / "world")
    fault(world, FaultRule(kind="error", status=500, path="/api/v1/clients/*/jwks"))
    before = world.durable()

    with pytest.raises(MpctlError) as raised:
        await run_step(world, for_client(world, Action.ROTATE_KEY, phases=STAGE_ONLY))

    assert isinstance(raised.value, ServerError)  # itself, not wrapped in an exception group
    assert world.durable() == before
    assert world.sink_states()[NAME].pending is None
    no_violation(world)
