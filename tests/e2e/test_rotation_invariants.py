"""A forced rotation through every phase, with the invariants checked after every single call.

Also proves the checks are live: each invariant function flags a deliberately broken state, and
the live checker stops real apply runs that were sabotaged to break S1, S3, S5, S6 and S7.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import mpctl.apply.engine
import mpctl.apply.rotation
from mpctl.apply import ApplyContext, ApplyError, Verdict
from mpctl.errors import StalePlanError
from mpctl.model.keys import KeySlot, SinkState
from mpctl.plan import Action, KeyPhase, KeyStep, Plan
from mpctl.secrets import PrivateKey
from mpctl.state import Snapshot, observe
from tests.e2e.conftest import Templates
from tests.e2e.harness import (
    AFTER_GRACE,
    ROTATE,
    STATS,
    InvariantViolation,
    World,
    WorldTransport,
    copy_world,
    s1_env_violations,
    s1_violations,
    s3_violations,
    s4_violations,
    s5_violations,
    s6_violations,
    s7_violations,
    thumbprint,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def slot(kid: str, *, promoted: datetime | None = None) -> KeySlot:
    return KeySlot(kid=kid, thumbprint=f"tp-{kid}", created_at=NOW, promoted_at=promoted)


def sink(
    current: str | None = None,
    previous: str | None = None,
    pending: str | None = None,
    *,
    promoted: datetime = NOW,
) -> SinkState:
    return SinkState(
        client_id="cid",
        current=slot(current, promoted=promoted) if current else None,
        previous=slot(previous) if previous else None,
        pending=slot(pending) if pending else None,
    )


def keys(*kids: str) -> dict[str, dict[str, str]]:
    return {"cid": {kid: f"tp-{kid}" for kid in kids}}


# --------------------------------------------------------------------------------------------
# the rotation, phase by phase


async def test_forced_rotation_goes_through_every_phase_checked_after_every_call(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    name = "billing-invoices"
    old = world.sink_states()[name].current
    assert old is not None

    world.clock.jump(ROTATE)  # older than rotate_after (90d)
    plan = await world.plan()
    assert [(s.action, s.key.phases if isinstance(s, KeyStep) else ()) for s in plan.steps] == [
        (Action.ROTATE_KEY, (KeyPhase.STAGE, KeyPhase.REGISTER, KeyPhase.TEST, KeyPhase.PROMOTE))
    ]
    start, calls_before = len(world.timeline), world.calls
    rotated = await world.run(plan=plan)
    assert rotated.report is not None
    assert rotated.report.ok
    new = world.sink_states()[name].current
    assert new is not None
    assert new.kid != old.kid
    assert world.timeline[start:] == [
        "sink.stage",
        "POST /api/v1/clients/{id}/jwks",
        f"token {new.kid} 200",  # test: a real token from /token with the new key
        "sink.promote",
    ]
    state = world.sink_states()[name]
    assert state.previous is not None
    assert state.previous.kid == old.kid
    assert set(world.remote_state()[-1].keys) == {old.kid, new.kid}  # grace: both registered
    for kid in (old.kid, new.kid):
        assert await token_verdict(world, name, kid) is Verdict.OK

    in_grace = await world.plan()
    assert not in_grace.steps
    assert any(d.code == "key.rotation-in-progress" for d in in_grace.diagnostics)

    world.clock.jump(AFTER_GRACE - ROTATE)  # the grace (1d) is over
    plan = await world.plan()
    assert [(s.action, s.key.kid if isinstance(s, KeyStep) else None) for s in plan.steps] == [
        (Action.RETIRE_KEY, old.kid)
    ]
    retire_start = len(world.timeline)
    retired = await world.run(plan=plan)
    assert retired.report is not None
    assert retired.report.ok
    assert world.timeline[retire_start:] == [
        "POST /api/v1/clients/{id}/jwks",
        "sink.forget_previous",
    ]
    world.assert_converged()
    assert await token_verdict(world, name, new.kid) is Verdict.OK
    assert not (await world.plan()).steps

    rotation_writes = [*rotated.writes, *retired.writes]
    digdir = [w.label for w in rotation_writes if w.target == "digdir"]
    sinks = [w.label for w in rotation_writes if w.target == "sink"]
    assert len(digdir) == 2
    assert sinks == ["sink.stage", "sink.promote", "sink.forget_previous"]
    STATS.facts["writes per rotation (one client, rotate + retire)"] = (
        f"{len(digdir)} Digdir (JWKS POST to register, JWKS POST to retire) + "
        f"{len(sinks)} sink ({', '.join(s.removeprefix('sink.') for s in sinks)}) = "
        f"{len(rotation_writes)}"
    )
    calls = world.calls - calls_before
    STATS.facts["calls checked during that rotation"] = f"{calls} HTTP calls, every one checked"
    assert world.checker.runs >= world.calls + len(world.writes) - len(digdir)
    assert not world.checker.violations


async def token_verdict(
    world: World, name: str, kid: str, key: PrivateKey | None = None
) -> Verdict:
    """Mint a real token with `kid` (from the sink unless `key`) through the real key tester."""
    async with world.session() as (_, sinks, tester):
        key = key or await sinks[name].load_private_key(name, kid)
        result = await tester.test(
            client_id=world.client_id(name),
            key=key,
            scopes=("acme:invoices.read",),
            consumer_org=None,
        )
        return result.verdict


async def test_old_key_stops_working_only_after_retire(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    name = "billing-invoices"
    old = world.sink_states()[name].current
    assert old is not None
    world.clock.jump(ROTATE)
    await world.converge()
    assert await token_verdict(world, name, old.kid) is Verdict.OK
    old_key = world._check_sinks[name].load_private_key(name, old.kid)
    world.clock.jump(AFTER_GRACE - ROTATE)
    await world.converge()
    assert await token_verdict(world, name, old.kid, old_key) is Verdict.NOT_YET_KNOWN  # unknown


# --------------------------------------------------------------------------------------------
# each check catches a violation (fed a broken state)


def test_s1_flags_a_current_kid_missing_from_the_jwks() -> None:
    grace = {"c": DAY}
    assert s1_violations({"c": sink("k1")}, keys("k1"), now=NOW, grace=grace) == []
    assert s1_violations({"c": sink("k1")}, keys("k0"), now=NOW, grace=grace) == [
        "S1 c: current kid k1 is not registered"
    ]
    assert s1_violations({"c": sink("k1")}, keys("k0"), now=NOW, grace=grace, exempt=["c"]) == []


def test_s1_flags_a_previous_key_removed_inside_its_grace() -> None:
    state = {"c": sink("k2", previous="k1", promoted=NOW)}
    inside, after = NOW + DAY / 2, NOW + 2 * DAY
    assert s1_violations(state, keys("k2"), now=inside, grace={"c": DAY}) != []
    assert s1_violations(state, keys("k2"), now=after, grace={"c": DAY}) == []


def test_s2_flags_a_kid_registered_with_other_material() -> None:
    registered = {"cid": {"k1": "another-thumbprint"}}
    assert s1_violations({"c": sink("k1")}, registered, now=NOW, grace={}) == [
        "S2 c: kid k1 is registered with other key material"
    ]


def test_s1_flags_a_workload_env_signing_with_an_unregistered_kid() -> None:
    assert s1_env_violations({"c": ("cid", "k1")}, keys("k1")) == []
    assert s1_env_violations({"c": ("cid", "k0")}, keys("k1")) != []


def test_s3_flags_every_unsafe_removal() -> None:
    state = sink("k2", previous="k1", promoted=NOW)
    after_grace, inside = NOW + 2 * DAY, NOW + DAY / 2
    assert s3_violations(["k1", "k2"], ["k2"], state, now=after_grace, grace=DAY) == []
    assert s3_violations(["k1", "k2"], ["k1", "k2", "k3"], state, now=inside, grace=DAY) == []
    for before, after, now in (
        (["k1", "k2"], ["k1"], after_grace),  # the current
        (["k1", "k2"], ["k2"], inside),  # the previous, inside its grace
        (["k1", "k2", "x"], ["k2"], after_grace),  # two at once
        (["k1", "k2", "x"], ["k1", "k2"], after_grace),  # a kid that is not the previous
    ):
        assert s3_violations(before, after, state, now=now, grace=DAY) != [], (before, after)
    assert s3_violations(["k1", "k2"], ["k2"], state, now=after_grace, grace=DAY, preserve=["k1"])


def test_s4_flags_a_client_left_without_keys() -> None:
    had: set[str] = set()
    assert s4_violations(keys("k1"), had) == []
    assert s4_violations({"cid": {}}, had) == ["S4 client cid: every key was removed"]
    assert s4_violations({"other": {}}, set()) == []  # never had a key: not a drop


def test_s5_flags_a_promotion_without_a_token_test() -> None:
    last: dict[str, str] = {"c": "k1"}
    assert s5_violations({"c": sink("k2")}, {("cid", "k2")}, dict(last)) == []
    assert s5_violations({"c": sink("k2")}, set(), dict(last)) != []
    assert s5_violations({"c": sink("k1")}, set(), dict(last)) == []  # unchanged: nothing to prove


def test_s6_flags_a_replaced_pending_key_and_an_orphan_key() -> None:
    last: dict[str, str] = {}
    assert s6_violations({"c": sink("k1", pending="k2")}, keys("k1", "k2"), last) == []
    assert s6_violations({"c": sink("k1", pending="k3")}, keys("k1"), last) == [
        "S6 c: pending k2 was replaced by k3 unpromoted"
    ]
    assert s6_violations({"c": sink("k3")}, keys("k3"), {"c": "k3"}) == []  # promoted: fine
    assert s6_violations({"c": sink("k1")}, keys("k1", "lost"), {}) == [
        "S6 c: registered kids the sink does not hold: ['lost']"
    ]
    foreign = {"c": frozenset({"lost"})}
    assert s6_violations({"c": sink("k1")}, keys("k1", "lost"), {}, foreign=foreign) == []


def test_s7_flags_private_members_in_a_jwks_upload() -> None:
    public = {"kty": "RSA", "kid": "k1", "n": "x", "e": "AQAB", "use": "sig", "alg": "RS256"}
    assert s7_violations({"keys": [public]}) == []
    for member in ("d", "p", "q", "dp", "dq", "qi", "k"):
        assert s7_violations({"keys": [{**public, member: "secret"}]}) != [], member


def test_thumbprint_is_rfc_7638() -> None:
    # RFC 7638 §3.1's example key and thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvz"
        "qY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu"
        "0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    assert thumbprint(n, "AQAB") == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


# --------------------------------------------------------------------------------------------
# the live checker stops sabotaged apply runs


async def test_live_checker_flags_a_key_removed_behind_the_sinks_back(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    client_id = world.client_id("billing-invoices")
    world.checker.check()
    with world.emulator.store.write() as state:
        state.clients[client_id].jwks = None
    with pytest.raises(InvariantViolation, match="S1 billing-invoices: current kid") as caught:
        world.checker.check()
    assert "S4" in str(caught.value)


async def test_live_checker_stops_a_jwks_upload_with_private_members_before_it_is_sent(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    name = "billing-invoices"
    client_id = world.client_id(name)
    current = world.sink_states()[name].current
    assert current is not None
    key = world._check_sinks[name].load_private_key(name, current.kid)
    numbers = key.crypto_key.private_numbers()
    leaked = {**key.public_jwk, "d": str(numbers.d)}
    request = httpx.Request(
        "POST",
        f"http://emulator.mpctl.local/api/v1/clients/{client_id}/jwks",
        json={"keys": [leaked]},
    )
    before = world.remote_state()
    with pytest.raises(InvariantViolation, match="S7"):
        await WorldTransport(world).handle_async_request(request)
    assert world.remote_state() == before  # stopped before the emulator saw it


async def test_live_checker_stops_a_retire_of_the_current_key(
    small_worlds: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sabotage: the retire guard is switched off and the plan names the current kid (S3)."""
    world = copy_world(small_worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)
    await world.converge()
    world.clock.jump(AFTER_GRACE - ROTATE)
    plan = await world.plan()
    current = world.sink_states()["billing-invoices"].current
    assert current is not None
    monkeypatch.setattr(mpctl.apply.rotation, "_guard_retire", lambda *args: None)
    sabotaged = retarget(plan, current.kid)
    before = world.remote_state()
    with pytest.raises(StalePlanError, match="is not what these manifests"):
        await world.run(plan=sabotaged)  # first line of defence: the plan is derived again

    async def trusting(plan: Plan, ctx: ApplyContext) -> Snapshot:
        return await observe(ctx.api, orgno=plan.orgno, sinks=ctx.sinks)  # and checks nothing

    monkeypatch.setattr(mpctl.apply.engine, "check_fresh", trusting)
    with pytest.raises(InvariantViolation, match=r"S3 removed .* not the sink's previous key"):
        await world.run(plan=sabotaged)
    assert world.remote_state() == before


def retarget(plan: Plan, kid: str) -> Plan:
    (step,) = plan.steps
    assert isinstance(step, KeyStep)
    key = step.key.model_copy(update={"kid": kid})
    return plan.model_copy(update={"steps": (step.model_copy(update={"key": key}),)})


async def test_live_checker_flags_a_promotion_that_skipped_the_token_test(
    small_worlds: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sabotage: the test phase does nothing, so promote moves an untested key to current (S5)."""
    world = copy_world(small_worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)

    async def skipped(rotation: object, ctx: ApplyContext) -> int:
        return 0

    monkeypatch.setitem(mpctl.apply.rotation._PHASES, KeyPhase.TEST, skipped)
    with pytest.raises(InvariantViolation, match=r"S5 billing-invoices: .* without a successful"):
        await world.run()


async def test_live_checker_flags_an_abort_that_abandons_a_registered_key(
    small_worlds: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sabotage: a failed test "rolls back" by discarding the pending key it registered (S6)."""
    world = copy_world(small_worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)

    async def rollback(rotation: mpctl.apply.rotation._Rotation, ctx: ApplyContext) -> int:
        assert rotation.kid is not None
        await rotation.sink.discard_pending(rotation.name, rotation.kid)
        raise ApplyError("token test failed")

    monkeypatch.setitem(mpctl.apply.rotation._PHASES, KeyPhase.TEST, rollback)
    with pytest.raises(InvariantViolation, match="S6 billing-invoices: registered kids the sink"):
        await world.run()
