"""A JWKS upload dropped before it reached Digdir is sent again once a fresh read proves it absent.

Before: the register phase swallowed the ambiguous upload and polled the read-back for about
25 s (1 + 2 + 4 + 8 + 10 s of sleeps), then failed the step. Now one fresh read decides: the
key is absent, so the set (that read ∪ the new key, S3) is sent again and the step succeeds
without waiting. The checker of tests/e2e/harness.py enforces S1-S7 after every call.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mpctl.apply import Status
from mpctl.emulator import FaultRule
from tests.e2e.conftest import Templates
from tests.e2e.harness import AFTER_GRACE, ROTATE, copy_world

pytestmark = pytest.mark.usefixtures("fast_crypto")


async def test_a_dropped_key_upload_is_resent_without_polling(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)
    client_id = world.client_id("billing-invoices")
    drop = FaultRule(
        kind="drop", path=f"/api/v1/clients/{client_id}/jwks", methods=["POST"], max_hits=1
    )
    with world.emulator.store.write() as emulator:
        emulator.faults = [drop]

    run = await world.run()

    assert run.report is not None
    outcome = {o.address: o for o in run.report.outcomes}["client/billing-invoices/key"]
    assert outcome.status is Status.DONE, outcome.message
    assert world.clock.sleeps == []  # no read-back polling
    with world.emulator.store.read() as emulator:
        assert emulator.faults[0].hits == 1
    posts = [w for w in run.writes if w.target == "digdir" and "jwks" in w.label]
    assert len(posts) == 2  # the dropped upload and the one resend
    state = world.sink_states()["billing-invoices"]
    assert state.current is not None
    assert state.current.kid in world.client_keys("billing-invoices")

    world.clock.jump(AFTER_GRACE - ROTATE)
    await world.converge()
    world.assert_converged()
