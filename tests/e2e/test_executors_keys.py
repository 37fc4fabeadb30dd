"""The key executor's refusals and recoveries, each driven into its branch on the real path.

Most tests build one key step by hand and run the real executor (`run_key_step`) with the
context `mpctl apply` gives it (the real remote against the embedded emulator, the project's
file sinks, the real token tester, the virtual clock), after setting up the state with the
emulator's fault rules or edits of its store and the sinks: a foreign key under the pending kid,
five keys registered, a current key removed by hand, a lost sink, a read-back that never shows
the write, a dropped DELETE. Many of these states never reach the executor through a plan (the
planner refuses them first); the executor's own guards are the second line of defence and are
tested here on their own. Each test asserts what the operator sees (the message, the hint,
`safe_to_rerun`), exactly what was written to Digdir and the sinks, and that the live S1-S7
checker of tests/e2e/harness.py saw no violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx
import pytest

from mpctl.apply import ApplyError, Status, apply_plan
from mpctl.apply.rotation import run_key_step
from mpctl.cli.keytest import TokenKeyTester
from mpctl.emulator import FaultRule
from mpctl.errors import UserError
from mpctl.model import KeyPolicy
from mpctl.plan import KEY_PHASES, Action, Address, KeyChange, KeyPhase, KeyStep, PlanOptions
from mpctl.remote import RetryPolicy, open_http
from mpctl.secrets import FileSecretSink, PrivateKey, generate_key
from tests.e2e import harness
from tests.e2e.conftest import Templates
from tests.e2e.harness import (
    AFTER_GRACE,
    BASE_NOW,
    FAST,
    ROTATE,
    World,
    WorldTransport,
    copy_world,
)
from tests.e2e.test_executors_clients import fault

pytestmark = pytest.mark.usefixtures("fast_crypto")

NAME = "billing-invoices"
KEEPS_OLD = "the old key stays current and nothing was removed"
GAVE_UP = f"{NAME}: Digdir does not show the new key set yet; re-run apply"
READ_BACK_SLEEPS = [1.0, 2.0, 4.0]
"""The read-back's waits with the harness's 3 attempts (1 s, doubling)."""


# ----------------------------------------------------------------------------------------------
# helpers: build a key step, run it once, read what it did


@dataclass
class Ran:
    """One run of one key step: its write count or its error, and every write it made."""

    writes: int | None
    error: ApplyError | None
    written: list[str] = field(default_factory=list)

    def refused(self) -> ApplyError:
        assert self.error is not None, f"the step succeeded with {self.writes} write(s)"
        return self.error


def key_step(
    world: World,
    action: Action,
    kid: str | None = None,
    *,
    phases: tuple[KeyPhase, ...] | None = None,
    policy: KeyPolicy | None = None,
    client: str = NAME,
    client_id: str | None = None,
) -> KeyStep:
    """The step a plan would carry for `client`'s keys (its policy and test scopes)."""
    desired = world.workspace.desired.clients[NAME]
    assert desired.keys is not None
    change = KeyChange(
        client=client,
        kid=kid,
        phases=phases or KEY_PHASES[action],
        policy=policy or desired.keys,
        test_scopes=desired.own_scopes,
    )
    address = Address.key(client, kid)
    return KeyStep(address=address, action=action, client_id=client_id, key=change)


async def run_step(
    world: World,
    step: KeyStep,
    *,
    allowed: frozenset[str] = frozenset(),
    tester_retry: RetryPolicy | None = None,
) -> Ran:
    """Run `step` with the executor, as one apply process would; never raises ApplyError.
    `tester_retry` replaces the token test's retry policy (its real one waits seconds)."""
    first = len(world.writes)
    async with (
        world.session() as (api, sinks, apply_tester),
        open_http(transport=WorldTransport(world)) as http,
    ):
        tester = apply_tester if tester_retry is None else token_tester(world, http, tester_retry)
        context = world.context(api, sinks, tester, FAST, allowed)
        try:
            writes: int | None = await run_key_step(step, context)
            error = None
        except ApplyError as exc:
            writes, error = None, exc
    return Ran(writes, error, [w.label for w in world.writes[first:]])


def token_tester(world: World, http: httpx.AsyncClient, retry: RetryPolicy) -> TokenKeyTester:
    environment = world.workspace.environment
    return TokenKeyTester(
        http,
        issuer=environment.issuer,
        token_endpoint=str(environment.token_endpoint),
        policy=retry,
    )


def for_client(
    world: World,
    action: Action,
    kid: str | None = None,
    *,
    phases: tuple[KeyPhase, ...] | None = None,
    policy: KeyPolicy | None = None,
) -> KeyStep:
    """A key step for NAME's existing client."""
    client_id = world.client_id(NAME)
    return key_step(world, action, kid, phases=phases, policy=policy, client_id=client_id)


def current_kid(world: World) -> str:
    current = world.sink_states()[NAME].current
    assert current is not None
    return current.kid


def previous_kid(world: World) -> str:
    previous = world.sink_states()[NAME].previous
    assert previous is not None
    return previous.kid


def stage_by_hand(world: World, kid: str) -> PrivateKey:
    """A key staged as pending in the sink (what a run stopped after its stage left)."""
    key = generate_key(kid=kid, created_at=BASE_NOW, size=2048)
    world._check_sinks[NAME].stage(NAME, key)
    return key


async def upload_by_hand(world: World, *extra: PrivateKey) -> None:
    """A colleague adds keys in Samarbeidsportalen (through Digdir's API): fresh read + extra."""
    client_id = world.client_id(NAME)
    foreign = {k.kid for k in extra} - world.sink_states()[NAME].kids
    world.checker.foreign[NAME] = frozenset(foreign)  # there before this apply: not orphans
    async with world.session() as (api, _, _):
        registered = await api.get_jwks(client_id)
        kept = [k.model_dump(mode="json", exclude_none=True) for k in registered.keys]
        await api.put_jwks(client_id, [*kept, *(k.public_jwk for k in extra)])


async def rotated(template: World, target: Path) -> World:
    """A copy of `template` after a rotation: a new current, the old one previous, in grace."""
    world = copy_world(template, target)
    world.clock.jump(ROTATE)
    await world.converge()
    state = world.sink_states()[NAME]
    assert state.current is not None
    assert state.previous is not None
    assert set(world.client_keys(NAME)) == {state.current.kid, state.previous.kid}
    return world


def lose_the_sink(world: World) -> str:
    """A fresh CI runner: the sink files are gone, Digdir still holds the (now orphan) key."""
    orphan = current_kid(world)
    sink = cast(FileSecretSink, world._check_sinks[NAME])
    sink.json_path(NAME).unlink()
    sink.env_path(NAME).unlink()
    world.checker.foreign[NAME] = frozenset({orphan})
    return orphan


def sanction_last_key_delete(world: World) -> list[str]:
    """The operator passed --allow-delete: the checker accepts a DELETE of the whole JWKS (it
    refuses every DELETE otherwise) and a client left without keys. Returns the DELETEs seen."""
    deletes: list[str] = []

    def allowed(client_id: str) -> None:
        deletes.append(client_id)
        world.checker.had_keys.discard(client_id)

    world.checker.before_jwks_delete = allowed  # type: ignore[method-assign]
    return deletes


def clear_faults(world: World) -> None:
    with world.emulator.store.write() as state:
        state.faults = []


def no_violation(world: World) -> None:
    """The live checker saw no violation during the run, nor does it in the end state."""
    world.checker.check()
    assert not world.checker.violations, world.checker.violations


# ----------------------------------------------------------------------------------------------
# stage and register


@pytest.mark.parametrize(
    "action",
    [
        Action.ROTATE_KEY,  # the stage phase finds the pending key and reuses it
        Action.REGISTER_KEY,  # no kid in the step: the sink's pending key is the one
    ],
)
async def test_a_key_already_staged_is_reused_never_a_second_key_made(
    small_worlds: Templates, tmp_path: Path, action: Action
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    registered = world.client_keys(NAME)
    staged = stage_by_hand(world, "staged-before")

    ran = await run_step(world, for_client(world, action))

    assert ran.error is None, ran.error
    assert ran.writes == 2
    assert ran.written == ["POST /api/v1/clients/{id}/jwks", "sink.promote"]  # no sink.stage
    state = world.sink_states()[NAME]
    assert state.current is not None
    assert (state.current.kid, state.current.thumbprint) == (staged.kid, staged.thumbprint)
    assert state.pending is None
    assert world.client_keys(NAME) == {**registered, staged.kid: staged.thumbprint}
    no_violation(world)


async def test_a_step_whose_effect_is_already_there_writes_nothing(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """Register and promote of the key that is registered and current: both see it done."""
    world = copy_world(small_worlds.converged, tmp_path / "world")
    kid = current_kid(world)
    before = world.durable()
    phases = (KeyPhase.REGISTER, KeyPhase.PROMOTE)
    ran = await run_step(world, for_client(world, Action.REGISTER_KEY, kid, phases=phases))
    assert (ran.writes, ran.error, ran.written) == (0, None, [])
    assert world.durable() == before
    no_violation(world)


async def test_a_kid_registered_with_other_material_is_never_overwritten(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    ours = stage_by_hand(world, "taken-kid")
    theirs = generate_key(kid="taken-kid", created_at=BASE_NOW, size=2048)
    await upload_by_hand(world, theirs)
    before = world.durable()

    ran = await run_step(world, for_client(world, Action.REGISTER_KEY, ours.kid))

    error = ran.refused()
    assert error.message == f"{NAME}: kid taken-kid is registered with other key material"
    assert error.hint == (
        "a kid is never reused for different keys (S2); remove the foreign key by hand"
    )
    assert not error.safe_to_rerun
    assert ran.written == []
    assert world.durable() == before
    assert world.client_keys(NAME)["taken-kid"] == theirs.thumbprint  # theirs, untouched
    no_violation(world)


async def test_a_sixth_key_is_never_uploaded(small_worlds: Templates, tmp_path: Path) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    old = current_kid(world)
    extra = [generate_key(kid=f"by-hand-{i}", created_at=BASE_NOW, size=2048) for i in range(4)]
    await upload_by_hand(world, *extra)
    registered = world.client_keys(NAME)
    assert len(registered) == 5

    ran = await run_step(world, for_client(world, Action.ROTATE_KEY))

    error = ran.refused()
    assert error.message == f"{NAME}: 5 keys are registered; Digdir allows 5"
    assert error.hint == "retire keys first; mpctl never removes keys it does not own"
    assert not error.safe_to_rerun
    assert ran.written == ["sink.stage"]  # the key waits in the sink; Digdir is untouched
    assert world.client_keys(NAME) == registered
    state = world.sink_states()[NAME]
    assert state.current is not None
    assert state.current.kid == old
    assert state.pending is not None
    assert state.pending.kid not in registered
    no_violation(world)


def answer_lost_after_commit(method: str, suffix: str) -> type[WorldTransport]:
    """A transport on which Digdir stores the first `method` to a path ending in `suffix`, then
    the connection drops before its answer (the emulator's own faults drop before storing)."""
    lost: list[str] = []

    class AnswerLost(WorldTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await super().handle_async_request(request)
            if request.method == method and request.url.path.endswith(suffix) and not lost:
                lost.append(request.url.path)
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            return response

    return AnswerLost


async def test_a_key_upload_whose_answer_was_lost_is_not_sent_again_when_digdir_has_it(
    small_worlds: Templates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)
    monkeypatch.setattr(harness, "WorldTransport", answer_lost_after_commit("POST", "/jwks"))

    run = await world.run()

    assert run.report is not None
    assert [(o.address, o.status) for o in run.report.outcomes] == [
        (f"client/{NAME}/key", Status.DONE)
    ]
    jwks_posts = [w.label for w in run.writes if w.label.endswith("/jwks")]
    assert jwks_posts == ["POST /api/v1/clients/{id}/jwks"]  # the fresh read showed it: no resend
    assert world.clock.sleeps == []  # and no read-back polling
    state = world.sink_states()[NAME]
    assert state.current is not None
    assert state.previous is not None
    assert set(world.client_keys(NAME)) == {state.current.kid, state.previous.kid}
    no_violation(world)


# ----------------------------------------------------------------------------------------------
# the token test and promote


async def test_a_token_test_failing_on_clock_skew_blames_the_clock_not_the_key(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    kid = current_kid(world)
    with world.emulator.store.write() as state:
        state.clock_offset = 3600.0  # Digdir's clock is an hour ahead of this machine's
    before = world.durable()

    test_only = (KeyPhase.TEST,)
    ran = await run_step(world, for_client(world, Action.PROMOTE_KEY, kid, phases=test_only))

    error = ran.refused()
    assert error.message.startswith(f"{NAME}: token test failed on clock skew (MP-130")
    assert error.hint == f"this is this machine's clock, not the key; {KEEPS_OLD}"
    assert error.safe_to_rerun
    assert ran.written == []
    assert world.durable() == before
    assert world.timeline[-1] == f"token {kid} 400"
    no_violation(world)


async def test_a_token_endpoint_that_stays_unavailable_fails_safe_to_rerun(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    kid = current_kid(world)
    fault(world, FaultRule(kind="error", status=503, path="/token"))
    before = world.durable()

    ran = await run_step(
        world,
        for_client(world, Action.PROMOTE_KEY, kid, phases=(KeyPhase.TEST,)),
        tester_retry=RetryPolicy.without_waits(),
    )

    error = ran.refused()
    assert error.message.startswith(f"{NAME}: token test with new key {kid} failed: token endpoint")
    assert error.hint == KEEPS_OLD
    assert error.safe_to_rerun
    assert ran.written == []
    assert world.durable() == before
    assert world.timeline[-4:] == [f"token {kid} 503"] * 4  # 1 + 3 retries
    no_violation(world)


async def test_a_key_that_is_not_registered_is_never_promoted(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    staged = stage_by_hand(world, "never-uploaded")
    before = world.durable()

    promote_only = (KeyPhase.PROMOTE,)
    step = for_client(world, Action.PROMOTE_KEY, staged.kid, phases=promote_only)
    ran = await run_step(world, step)

    error = ran.refused()
    assert error.message == f"{NAME}: never-uploaded is not registered; it is not promoted"
    assert error.safe_to_rerun
    assert ran.written == []
    assert world.durable() == before
    no_violation(world)


async def test_a_step_without_a_kid_and_no_pending_key_asks_for_a_new_plan(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    before = world.durable()
    ran = await run_step(world, for_client(world, Action.PROMOTE_KEY))
    error = ran.refused()
    assert error.message == f"{NAME}: no pending key to act on; plan again"
    assert error.safe_to_rerun
    assert ran.written == []
    assert world.durable() == before
    no_violation(world)


# ----------------------------------------------------------------------------------------------
# retire


async def test_retire_refuses_what_it_must_never_remove(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """No kid, the current kid, a preserved kid, the previous inside its grace: zero writes."""
    world = await rotated(small_worlds.converged, tmp_path / "world")
    current, previous = current_kid(world), previous_kid(world)
    desired = world.workspace.desired.clients[NAME].keys
    assert desired is not None
    preserving = desired.model_copy(update={"preserve": (previous,)})
    before = world.durable()

    cases = [
        (for_client(world, Action.RETIRE_KEY), f"{NAME}: nothing to retire", False),
        (
            for_client(world, Action.RETIRE_KEY, current),
            f"{NAME}: refusing to retire {current}: it is current, pending or preserved",
            False,
        ),
        (
            for_client(world, Action.RETIRE_KEY, previous, policy=preserving),
            f"{NAME}: refusing to retire {previous}: it is current, pending or preserved",
            False,
        ),
        (
            for_client(world, Action.RETIRE_KEY, previous),
            f"{NAME}: {previous} is still inside its grace; it stays",
            True,
        ),
    ]
    for step, message, safe in cases:
        ran = await run_step(world, step)
        error = ran.refused()
        assert (error.message, error.safe_to_rerun) == (message, safe)
        assert ran.written == []
    assert world.durable() == before
    no_violation(world)


async def test_retire_waits_while_the_current_key_is_not_registered(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """Someone removed the current key by hand: the previous one is all the workload has (S1)."""
    world = await rotated(small_worlds.converged, tmp_path / "world")
    world.clock.jump(AFTER_GRACE - ROTATE)
    current, previous = current_kid(world), previous_kid(world)
    world.remove_registered_key(NAME, current)
    before = world.durable()

    ran = await run_step(world, for_client(world, Action.RETIRE_KEY, previous))

    error = ran.refused()
    assert error.message == f"{NAME}: current {current} is not registered"
    assert error.safe_to_rerun
    assert ran.written == []
    assert world.durable() == before
    assert set(world.client_keys(NAME)) == {previous}
    no_violation(world)

    await world.converge()  # the alarm re-registers the current key, then the retire goes on
    world.assert_converged()


async def test_a_retire_whose_read_back_never_shows_the_write_keeps_the_label(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """Every JWKS upload is dropped before Digdir sees it: the read-back gives up, bounded."""
    world = await rotated(small_worlds.converged, tmp_path / "world")
    world.clock.jump(AFTER_GRACE - ROTATE)
    current, previous = current_kid(world), previous_kid(world)
    client_id = world.client_id(NAME)
    fault(world, FaultRule(kind="drop", path=f"/api/v1/clients/{client_id}/jwks", methods=["POST"]))

    ran = await run_step(world, for_client(world, Action.RETIRE_KEY, previous))

    error = ran.refused()
    assert error.message == GAVE_UP
    assert error.safe_to_rerun
    assert ran.written == ["POST /api/v1/clients/{id}/jwks"]  # sent once, never blindly again
    assert world.clock.sleeps == READ_BACK_SLEEPS
    assert set(world.client_keys(NAME)) == {current, previous}
    assert previous_kid(world) == previous  # the label stays until Digdir shows the removal
    no_violation(world)

    clear_faults(world)
    await world.converge()
    world.assert_converged()


# ----------------------------------------------------------------------------------------------
# revoke


async def test_revoke_refuses_no_kid_the_current_kid_and_a_preserved_kid(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = await rotated(small_worlds.converged, tmp_path / "world")
    current, previous = current_kid(world), previous_kid(world)
    desired = world.workspace.desired.clients[NAME].keys
    assert desired is not None
    preserving = desired.model_copy(update={"preserve": (previous,)})
    before = world.durable()
    refusal = "it is the sink's current key or preserved"
    hint = "plan again: a current key is revoked only after a rotation replaced it"

    cases = [
        (for_client(world, Action.REVOKE_KEY), f"{NAME}: no kid to revoke", None),
        (
            for_client(world, Action.REVOKE_KEY, current),
            f"{NAME}: refusing to revoke {current}: {refusal}",
            hint,
        ),
        (
            for_client(world, Action.REVOKE_KEY, previous, policy=preserving),
            f"{NAME}: refusing to revoke {previous}: {refusal}",
            hint,
        ),
    ]
    for step, message, expected_hint in cases:
        ran = await run_step(world, step)
        error = ran.refused()
        assert (error.message, error.hint, error.safe_to_rerun) == (message, expected_hint, False)
        assert ran.written == []
    assert world.durable() == before
    no_violation(world)


async def test_revoke_waits_while_the_current_key_is_not_registered(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = await rotated(small_worlds.converged, tmp_path / "world")
    current, previous = current_kid(world), previous_kid(world)
    world.remove_registered_key(NAME, current)
    before = world.durable()

    ran = await run_step(world, for_client(world, Action.REVOKE_KEY, previous))

    error = ran.refused()
    assert (
        error.message == f"{NAME}: current {current} is not registered; {previous} is not revoked"
    )
    assert error.hint == "run `mpctl apply` to register the current key again first"
    assert error.safe_to_rerun
    assert ran.written == []
    assert world.durable() == before
    assert set(world.client_keys(NAME)) == {previous}  # the workload still signs with it
    no_violation(world)


async def test_revoking_a_previous_key_digdir_no_longer_holds_only_clears_the_label(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """A retire stopped after its JWKS write: Digdir dropped the kid, the sink still names it."""
    world = await rotated(small_worlds.converged, tmp_path / "world")
    world.clock.jump(AFTER_GRACE - ROTATE)
    current, previous = current_kid(world), previous_kid(world)
    world.remove_registered_key(NAME, previous)

    ran = await run_step(world, for_client(world, Action.REVOKE_KEY, previous))

    assert (ran.writes, ran.error) == (1, None)
    assert ran.written == ["sink.forget_previous"]  # no JWKS write
    assert set(world.client_keys(NAME)) == {current}
    assert world.sink_states()[NAME].previous is None
    no_violation(world)
    world.assert_converged()


async def test_the_last_registered_key_stays_without_allow_delete(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    orphan = lose_the_sink(world)

    ran = await run_step(world, for_client(world, Action.REVOKE_KEY, orphan))

    error = ran.refused()
    assert error.message == f"{NAME}: {orphan} is the last registered key; it stays (S4)"
    assert error.hint == "pass --allow-delete to remove a client's last key"
    assert not error.safe_to_rerun
    assert ran.written == ["sink.set_client_id"]  # the sink learns its client; Digdir untouched
    assert set(world.client_keys(NAME)) == {orphan}
    no_violation(world)


async def test_a_dropped_delete_of_the_last_key_is_read_back_and_a_rerun_removes_it(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    orphan = lose_the_sink(world)
    client_id = world.client_id(NAME)
    deletes = sanction_last_key_delete(world)
    path = f"/api/v1/clients/{client_id}/jwks"
    fault(world, FaultRule(kind="drop", path=path, methods=["DELETE"], max_hits=1))
    step = for_client(world, Action.REVOKE_KEY, orphan)
    allow = frozenset({"allow_delete"})

    ran = await run_step(world, step, allowed=allow)

    error = ran.refused()  # the DELETE's answer was lost: the read-back decides, and still sees it
    assert error.message == GAVE_UP
    assert error.safe_to_rerun
    assert ran.written == ["sink.set_client_id", "DELETE /api/v1/clients/{id}/jwks"]
    assert world.clock.sleeps == READ_BACK_SLEEPS
    assert set(world.client_keys(NAME)) == {orphan}

    again = await run_step(world, step, allowed=allow)

    assert (again.writes, again.error) == (1, None)
    assert again.written == ["DELETE /api/v1/clients/{id}/jwks"]
    assert deletes == [client_id, client_id]
    assert world.client_keys(NAME) == {}
    assert world.sink_states()[NAME].current is None
    no_violation(world)


# ----------------------------------------------------------------------------------------------
# what the context refuses before any phase runs


async def test_a_key_step_for_a_client_without_a_client_id_or_a_sink_writes_nothing(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = copy_world(small_worlds.converged, tmp_path / "world")
    before = world.durable()

    no_id = await run_step(world, key_step(world, Action.CREATE_KEY))
    error = no_id.refused()
    assert error.message == f"client {NAME!r} has no client_id yet (its creation failed)"
    assert error.safe_to_rerun

    stranger = key_step(world, Action.CREATE_KEY, client="stranger", client_id="c-1")
    no_sink = await run_step(world, stranger)
    error = no_sink.refused()
    assert error.message == "client 'stranger' has no secret sink"
    assert not error.safe_to_rerun

    assert no_id.written == no_sink.written == []
    assert world.durable() == before
    no_violation(world)


async def test_a_plan_holding_an_error_for_no_resource_is_refused_before_anything_is_read(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """`--target` naming nothing is an error that holds back no one step but the whole plan:
    the engine itself refuses it (the CLI stops earlier; this is the engine's own guard)."""
    world = copy_world(small_worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)  # a plan with a key step: the refusal is not for want of steps
    plan = await world.plan(PlanOptions(targets=("nobody",)))
    assert [d.code for d in plan.diagnostics if d.severity == "error"] == ["target.unknown"]
    before, calls = world.durable(), world.calls

    async with world.session() as (api, sinks, tester):
        with pytest.raises(UserError) as refused:
            await apply_plan(plan, world.context(api, sinks, tester))

    assert refused.value.message == "the plan has 1 error(s) and cannot be applied"
    assert refused.value.hint == "fix them (see `mpctl plan`) or pass the allow flags they name"
    assert (world.calls, world.writes, world.durable()) == (calls, [], before)
    no_violation(world)
