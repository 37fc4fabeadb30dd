"""Apply's refusals and its behaviour under partial failure (reliability.md L1, L3-L5, §3 A/C/D/F).

Stale or foreign plans are refused with zero writes; a converged environment takes zero
writes; one failing client does not stop the others and the report says whether a re-run is
safe; the environment lock; the alarm (current key missing) heals without removing anything;
Digdir's propagation delay is polled through with the injected sleep, and a delay longer than
the timeout leaves the old key current.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mpctl.apply import ApplySettings, EnvironmentLock, Status, apply_plan
from mpctl.cli.environment import open_workspace
from mpctl.cli.main import main
from mpctl.emulator import FaultRule
from mpctl.errors import LockedError, StalePlanError
from mpctl.plan import Action, KeyStep
from mpctl.secrets import generate_key
from tests.e2e.conftest import SMALL_CLIENTS, SMALL_SCOPES, Templates
from tests.e2e.harness import (
    AFTER_GRACE,
    BASE_NOW,
    ROTATE,
    World,
    blocking_sinks,
    build_project,
    copy_world,
)

pytestmark = pytest.mark.usefixtures("fast_crypto")


def frozen(world: World) -> tuple[object, ...]:
    """Everything a write could change: Digdir's clients and scopes, the sinks, the .env files."""
    return (world.shape(), world.remote_state(), world.sink_states(), world.workloads())


# --------------------------------------------------------------------------------------------
# stale and foreign plans (L4)


async def add_key_by_hand(world: World) -> None:
    """A colleague uploads a key in Samarbeidsportalen (through Digdir's API)."""
    client_id = world.client_id("altinn-sync")
    world.checker.foreign["altinn-sync"] = frozenset({"by-hand"})  # not an orphan of ours
    async with world.session() as (api, _, _):
        current = await api.get_jwks(client_id)
        extra = generate_key(kid="by-hand", created_at=BASE_NOW, size=2048).public_jwk
        kept = [k.model_dump(mode="json", exclude_none=True) for k in current.keys]
        await api.put_jwks(client_id, [*kept, extra])


async def stage_elsewhere(world: World) -> None:
    """Another apply staged a key in the sink after this plan was made."""
    key = generate_key(kid="elsewhere", created_at=BASE_NOW, size=2048)
    world._check_sinks["billing-invoices"].stage("billing-invoices", key)


@pytest.mark.parametrize("change", [add_key_by_hand, stage_elsewhere], ids=["digdir", "sink"])
async def test_stale_saved_plan_is_refused_with_zero_writes(
    worlds: Templates, tmp_path: Path, change: Callable[[World], object]
) -> None:
    world = copy_world(worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)
    plan = await world.plan()
    assert plan.steps
    await change(world)  # type: ignore[misc]
    before, writes = frozen(world), len(world.writes)
    with pytest.raises(
        StalePlanError, match="changed since the plan was made; nothing was written"
    ):
        await world.run(plan=plan)
    assert len(world.writes) == writes
    assert frozen(world) == before


async def test_plan_for_another_environment_is_refused_with_zero_writes(
    worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(worlds.fresh, tmp_path / "world")
    plan = await world.plan()
    foreign = plan.model_copy(update={"env_name": "test"})
    before = frozen(world)
    with pytest.raises(StalePlanError, match="the plan is for 'test', not 'local'"):
        await world.run(plan=foreign)
    assert world.writes == []
    assert frozen(world) == before


async def test_an_applied_plan_applied_again_is_refused_never_a_second_rotation(
    worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)
    plan = await world.plan()
    first = await world.run(plan=plan)
    assert first.report is not None
    assert first.report.ok
    before, writes = frozen(world), len(world.writes)
    with pytest.raises(StalePlanError):
        await world.run(plan=plan)
    assert len(world.writes) == writes
    assert frozen(world) == before


# --------------------------------------------------------------------------------------------
# convergence is idempotent (L1)


async def test_second_apply_after_convergence_makes_zero_writes(
    worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(worlds.fresh, tmp_path / "world")
    runs = await world.converge()
    assert len(runs) == 2  # one apply, then a plan with no changes
    writes, before = len(world.writes), frozen(world)
    async with world.session() as (api, sinks, tester):
        plan = world.make_plan(await world.observe(api, sinks))
        report = await apply_plan(plan, world.context(api, sinks, tester))
    assert plan.steps == ()
    assert not plan.has_changes
    assert report.writes == 0
    assert len(world.writes) == writes
    assert frozen(world) == before


# --------------------------------------------------------------------------------------------
# one failing client does not stop the others (L3)


async def test_server_errors_on_one_client_fail_only_that_client_safe_to_rerun(
    worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)
    billing = world.client_id("billing-invoices")
    with world.emulator.store.write() as emulator:
        emulator.faults = [
            FaultRule(
                kind="error", status=500, path=f"/api/v1/clients/{billing}/jwks", methods=["POST"]
            )
        ]
    run = await world.run()
    assert run.report is not None
    outcomes = {o.address: o for o in run.report.outcomes}
    failed = outcomes["client/billing-invoices/key"]
    assert failed.status is Status.FAILED
    assert failed.safe_to_rerun
    assert run.report.safe_to_rerun
    assert [o.address for o in run.report.failed] == ["client/billing-invoices/key"]
    assert outcomes["client/altinn-sync/key"].status is Status.DONE
    assert outcomes["client/reelle-supplier/key"].status is Status.DONE
    assert world.writes[-1].label == "sink.promote"  # the clients after it still rotated
    state = world.sink_states()["billing-invoices"]
    assert state.pending is not None  # staged, not registered: the old key stays current
    assert state.current is not None
    assert set(world.client_keys("billing-invoices")) == {state.current.kid}

    with world.emulator.store.write() as emulator_state:
        emulator_state.faults = []
    await world.converge()
    rotated = world.sink_states()["billing-invoices"].current
    assert rotated is not None
    assert rotated.kid == state.pending.kid
    world.clock.jump(AFTER_GRACE - ROTATE)
    await world.converge()
    world.assert_converged()


async def test_a_refused_token_test_fails_only_that_client_and_is_not_safe_to_rerun(
    worlds: Templates, tmp_path: Path
) -> None:
    """Altinn's delegation behind reelle-supplier is withdrawn: its new key cannot mint a token."""
    world = copy_world(worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)
    with world.emulator.store.write() as emulator:
        delegations, emulator.delegations = emulator.delegations, []
    old = world.sink_states()["reelle-supplier"].current
    assert old is not None
    run = await world.run()
    assert run.report is not None
    (failed,) = run.report.failed
    assert failed.address == "client/reelle-supplier/key"
    assert "token test with new key" in failed.message
    assert "the old key stays current and nothing was removed" in failed.message
    assert not failed.safe_to_rerun
    assert not run.report.safe_to_rerun
    assert run.report.count(Status.DONE) == 2
    state = world.sink_states()["reelle-supplier"]
    assert state.current == old
    assert state.pending is not None
    registered = set(world.client_keys("reelle-supplier"))
    assert registered == {old.kid, state.pending.kid}  # registered, not promoted, nothing removed

    with world.emulator.store.write() as emulator_state:
        emulator_state.delegations = delegations
    await world.converge()
    world.clock.jump(AFTER_GRACE - ROTATE)
    await world.converge()
    world.assert_converged()


# --------------------------------------------------------------------------------------------
# the environment lock (reliability.md §3 C)


def test_lock_refuses_a_second_holder_and_force_unlock_needs_the_exact_id(tmp_path: Path) -> None:
    lock = EnvironmentLock(tmp_path / ".mpctl" / "local" / "apply.lock")
    held = lock.acquire("mpctl apply -e local")
    with pytest.raises(LockedError, match=f"lock id {held.id}"):
        EnvironmentLock(lock.path).acquire("mpctl apply -e local")
    with pytest.raises(LockedError, match="does not match the lock held"):
        lock.force_unlock("0000-not-the-id")
    holder = lock.holder()
    assert holder is not None
    assert holder.id == held.id
    lock.force_unlock(held.id)
    assert lock.holder() is None
    again = lock.acquire("mpctl apply -e local")
    assert again.id != held.id
    lock.release(again)
    assert not lock.path.exists()


@pytest.fixture
def cli_project(tmp_path: Path) -> Path:
    """A one-client project that the real CLI runs against its embedded, file-backed emulator."""
    return build_project(tmp_path / "project", clients=SMALL_CLIENTS, scopes=SMALL_SCOPES)


def mpctl_cli(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main([args[0], "--manifests", str(project), *args[1:]])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_apply_while_the_lock_is_held_is_refused_with_the_lock_id(
    cli_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = EnvironmentLock(cli_project / ".mpctl" / "local" / "apply.lock")
    held = lock.acquire("mpctl apply -e local (a scheduled run)")
    code, out = mpctl_cli(cli_project, capsys, "apply", "--auto-approve")
    assert code == 1
    assert held.id in out
    assert not (cli_project / ".mpctl" / "secrets").exists()  # nothing was written anywhere

    code, out = mpctl_cli(cli_project, capsys, "apply", "--force-unlock", "not-the-id")
    assert code == 1
    assert "does not match" in out
    assert lock.holder() is not None

    code, out = mpctl_cli(cli_project, capsys, "apply", "--force-unlock", held.id)
    assert code == 0, out
    assert lock.holder() is None

    code, out = mpctl_cli(cli_project, capsys, "apply", "--auto-approve")
    assert code == 0, out
    assert not lock.path.exists()  # released after a successful apply
    code, out = mpctl_cli(cli_project, capsys, "plan", "--detailed-exitcode")
    assert code == 0, out


def test_cli_refuses_a_stale_saved_plan_and_releases_the_lock(
    cli_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = cli_project / "plan.json"
    code, out = mpctl_cli(cli_project, capsys, "plan", "--out", str(saved))
    assert code == 0, out
    workspace = open_workspace(cli_project, None)
    sink = blocking_sinks(workspace.open_sinks())["billing-invoices"]
    sink.stage("billing-invoices", generate_key(kid="elsewhere", created_at=BASE_NOW, size=2048))
    code, out = mpctl_cli(cli_project, capsys, "apply", "--plan", str(saved), "--auto-approve")
    assert code == 1
    assert "nothing was written" in out
    assert not (cli_project / ".mpctl" / "local" / "apply.lock").exists()
    state = sink.read_state("billing-invoices")
    assert state.client_id is None
    assert state.current is None


# --------------------------------------------------------------------------------------------
# the alarm: the current key is missing from the JWKS (reliability.md §1, last row)


@pytest.mark.parametrize("moment", ["converged", "in-grace"])
async def test_alarm_current_key_deleted_behind_our_back_is_reregistered_nothing_removed(
    worlds: Templates, tmp_path: Path, moment: str
) -> None:
    world = copy_world(worlds.converged, tmp_path / "world")
    if moment == "in-grace":  # old and new both registered; the new one is current
        world.clock.jump(ROTATE)
        await world.converge()
    name = "altinn-sync"
    current = world.sink_states()[name].current
    assert current is not None
    world.remove_registered_key(name, current.kid)
    left = set(world.client_keys(name))
    assert current.kid not in left

    plan = await world.plan()
    assert [(s.action, s.key.kid if isinstance(s, KeyStep) else None) for s in plan.steps] == [
        (Action.REREGISTER_KEY, current.kid)
    ]
    alarms = [d for d in plan.diagnostics if d.code == "key.current-not-registered"]
    assert len(alarms) == 1
    assert "ALARM" in alarms[0].message
    run = await world.run(plan=plan)
    assert run.report is not None
    assert run.report.ok
    assert [w.label for w in run.writes] == ["POST /api/v1/clients/{id}/jwks"]
    assert set(world.client_keys(name)) == left | {current.kid}  # restored, nothing removed
    assert world.checker.exempt == set()  # S1 holds again and is checked again
    assert not (await world.plan()).steps


# --------------------------------------------------------------------------------------------
# Digdir's propagation delay for new keys (reliability.md §3 A)


def propagation(
    world: World, monkeypatch: pytest.MonkeyPatch, delay: float
) -> Callable[[float], None]:
    """Give new keys `delay` seconds before /token accepts them (the test phase polls on the
    world's injected clock: `ApplyContext.monotonic`)."""
    del monkeypatch

    def set_delay(seconds: float) -> None:
        switches = world.emulator.switches
        world.emulator.switches = switches.model_copy(
            update={"key_propagation_delay_seconds": seconds}
        )

    set_delay(delay)
    return set_delay


async def test_propagation_delay_is_polled_through_with_the_injected_sleep(
    small_worlds: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    propagation(world, monkeypatch, delay=4.0)
    world.clock.jump(ROTATE)
    run = await world.run()
    assert run.report is not None
    assert run.report.ok, [o.message for o in run.report.failed]
    assert world.clock.sleeps  # it polled...
    assert sum(world.clock.sleeps) >= 4.0  # ...for as long as the key needed
    new = world.sink_states()["billing-invoices"].current
    assert new is not None
    attempts = [t for t in world.timeline if t.startswith(f"token {new.kid}")]
    assert attempts[-1] == f"token {new.kid} 200"
    assert len(attempts) > 1
    assert all(a.endswith(" 400") for a in attempts[:-1])


async def test_propagation_longer_than_the_timeout_keeps_the_old_key_current(
    small_worlds: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    set_delay = propagation(world, monkeypatch, delay=600.0)
    settings = ApplySettings(
        propagation_timeout=6.0, propagation_wait_initial=1.0, propagation_wait_max=2.0
    )
    old = world.sink_states()
    world.clock.jump(ROTATE)
    run = await world.run(settings=settings)
    assert run.report is not None
    assert len(run.report.failed) == 1
    assert run.report.safe_to_rerun
    for outcome in run.report.failed:
        assert "is not accepted at /token yet" in outcome.message
        assert "the old key stays current and nothing was removed" in outcome.message
    assert 0 < sum(world.clock.sleeps) <= 6.0
    for name, before in old.items():
        state = world.sink_states()[name]
        assert before.current is not None
        assert state.current == before.current
        assert state.pending is not None
        assert set(world.client_keys(name)) == {before.current.kid, state.pending.kid}
    assert not world.checker.violations

    set_delay(0.0)  # Digdir caught up: the next run tests and promotes the same pending keys
    pending = {n: s.pending.kid for n, s in world.sink_states().items() if s.pending}
    await world.converge()
    assert {n: s.current.kid for n, s in world.sink_states().items() if s.current} == pending
    world.clock.jump(AFTER_GRACE - ROTATE)
    await world.converge()
    world.assert_converged()


async def test_propagation_deadline_is_measured_on_the_clock_apply_sleeps_on(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """Regression: the test phase sleeps through `ctx.sleep` and measures its deadline with
    `ctx.monotonic`, so once the waits exceed `propagation_timeout` the phase gives up (it once
    read `time.monotonic()` and, with a sleep that does not block, polled for real seconds).
    """
    world = copy_world(small_worlds.converged, tmp_path / "world")
    world.emulator.switches = world.emulator.switches.model_copy(
        update={"key_propagation_delay_seconds": 600.0}
    )
    settings = ApplySettings(
        propagation_timeout=1.0, propagation_wait_initial=0.5, propagation_wait_max=0.5
    )
    world.clock.jump(ROTATE)
    await world.run(settings=settings)
    waited = sum(world.clock.sleeps)
    assert waited <= settings.propagation_timeout + settings.propagation_wait_max, (
        f"the test phase waited {waited:.0f} s by the injected clock; timeout 1 s"
    )


# --------------------------------------------------------------------------------------------
# ambiguous writes: Digdir did the write but the answer was a 500 (reliability.md §3 A)


@pytest.mark.parametrize(
    "path", ["/api/v1/clients", "/api/v1/scopes", "/api/v1/clients/*/jwks"], ids=str
)
async def test_a_write_lost_in_an_error_is_never_repeated_blindly(
    worlds: Templates, tmp_path: Path, path: str
) -> None:
    """`lost_write`: the emulator applies the POST, then answers 500. No duplicate, same end."""
    world = copy_world(worlds.fresh, tmp_path / "world")
    with world.emulator.store.write() as emulator:
        emulator.faults = [FaultRule(kind="lost_write", path=path, methods=["POST"], max_hits=1)]
    await world.converge()
    with world.emulator.store.read() as emulator:
        assert emulator.faults[0].hits == 1
    world.assert_converged()
    assert world.shape() == worlds.converged.shape()
