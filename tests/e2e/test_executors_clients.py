"""The dangerous client executors through the real path: manifests → plan → apply → emulator.

Each test copies a converged (or fresh) world, edits its manifests the way a platform team
would, plans and applies with the real engine against the real emulator (invariants checked
after every call), checks the end state in the emulator's own store, and ends with a fresh plan
that is empty. Covered: update (scopes and description changed; fields mpctl does not manage
survive the whole-object PUT), replace (integration_type changed: held without
--allow-replace, done with it), delete (held without --allow-delete; done with it; a 404 counts
as done), and the ambiguous create (the POST committed but answered 500: found by its marker,
no duplicate; the POST never arrived: failed, safe to re-run, and the re-run creates one; the
client made meanwhile by another run: adopted, no second POST).

The helpers at the top are shared with the other executor and crash-matrix tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from mpctl.apply import ApplyReport, Status, StepOutcome, apply_plan
from mpctl.emulator import FaultRule
from mpctl.emulator.state import EmulatorState
from mpctl.plan import Plan, PlanOptions, Step
from tests.e2e.conftest import Templates
from tests.e2e.harness import RemoteClient, VirtualClock, World

pytestmark = pytest.mark.usefixtures("fast_crypto")

Edit = Callable[[Path], None]
ALLOW_ALL = PlanOptions(allow_delete=True, allow_replace=True)


# ----------------------------------------------------------------------------------------------
# helpers: edit a world's manifests, apply once, read the end state


def replace_text(relative: str, old: str, new: str) -> Edit:
    """An edit of one manifest file: `old` (which must be there) becomes `new`."""

    def edit(project: Path) -> None:
        path = project / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{relative}: {old!r} is not there to edit"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


def drop_document(relative: str, name: str) -> Edit:
    """An edit removing the YAML document declaring `name` (the file goes when it empties)."""

    def edit(project: Path) -> None:
        path = project / relative
        documents = path.read_text(encoding="utf-8").split("\n---\n")
        kept = [d for d in documents if f"\nname: {name}\n" not in f"\n{d}\n"]
        assert len(kept) == len(documents) - 1, f"{relative}: no single document names {name}"
        if kept:
            path.write_text("\n---\n".join(kept) + "\n", encoding="utf-8")
        else:
            path.unlink()

    return edit


def reopened(world: World) -> World:
    """The same project again (its manifests edited since), with the emulator's state and time."""
    with world.emulator.store.read() as state:
        return World(world.directory, clock=VirtualClock(world.clock.now()), state=state)


def edited_world(template: World, target: Path, *edits: Edit) -> World:
    """A copy of `template` (files, emulator state, time) whose manifests were then edited."""
    shutil.copytree(template.directory, target)
    for edit in edits:
        edit(target)
    with template.emulator.store.read() as state:
        return World(target, clock=VirtualClock(template.clock.now()), state=state)


def exempt_from_s1(world: World, name: str) -> None:
    """A replace deletes the client the workload signs for: S1 cannot hold for `name` until the
    new client has the key, so the live checker leaves it out for the rest of this world."""
    world.checker.exempt.add(name)
    world.checker._heal = lambda *args: None  # type: ignore[method-assign]


class BeforeStep:
    """An observer that changes Digdir's state (the emulator's store) just before the steps
    named in `changes` start: what a person or another tool did between the plan and the step
    (e.g. an object purged at Digdir, so the step's DELETE gets 404).
    """

    def __init__(self, world: World, changes: Mapping[str, Callable[[EmulatorState], object]]):
        self.world, self.changes = world, changes
        self.fired: list[str] = []

    def step_started(self, step: Step) -> None:
        change = self.changes.get(str(step.address))
        if change is not None:
            with self.world.emulator.store.write() as state:
                change(state)
            self.fired.append(str(step.address))

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        del step, outcome


async def apply_once(
    world: World, options: PlanOptions = ALLOW_ALL, observer: BeforeStep | None = None
) -> tuple[Plan, ApplyReport]:
    """One apply process with an observer: observe, plan with `options`, apply."""
    async with world.session() as (api, sinks, tester):
        plan = world.make_plan(await world.observe(api, sinks), options)
        context = world.context(api, sinks, tester, allowed=options.allows)
        return plan, await apply_plan(plan, context, observer=observer)


async def applied(world: World, options: PlanOptions = ALLOW_ALL) -> ApplyReport:
    run = await world.run(options=options)
    assert run.report is not None, "the plan had no steps"
    return run.report


def statuses(report: ApplyReport) -> dict[str, Status]:
    return {str(o.address): o.status for o in report.outcomes}


def steps(plan: Plan) -> list[tuple[str, str]]:
    return [(str(s.address), str(s.action)) for s in plan.steps]


async def assert_plan_is_empty(world: World) -> None:
    """Apply → plan is empty: a fresh plan (no allow options) has nothing to do."""
    plan = await world.plan()
    assert steps(plan) == []
    assert not world.checker.violations


def active(world: World, name: str) -> list[RemoteClient]:
    return [c for c in world.remote_state() if c.name == name and c.active]


def the_client(world: World, name: str) -> RemoteClient:
    found = active(world, name)
    assert len(found) == 1, f"{name}: {len(found)} active clients carry its marker"
    return found[0]


def stored_client(world: World, client_id: str) -> dict[str, Any]:
    """The emulator's record of a client, as plain data."""
    with world.emulator.store.read() as state:
        dumped: dict[str, Any] = state.clients[client_id].model_dump(mode="json")
        return dumped


def assert_sink_follows(world: World, name: str) -> None:
    """The sink and the workload's .env name the active client, whose key is the current."""
    client = the_client(world, name)
    state = world.sink_states()[name]
    assert state.current is not None
    assert state.client_id == client.client_id
    assert dict(client.keys) == {state.current.kid: state.current.thumbprint}
    assert world.workloads()[name] == (client.client_id, state.current.kid)


ALTINN = "resources/clients/altinn.yaml"
ALTINN_DESCRIPTION = "Reads and writes Altinn app instances for ACME AS"
TEAMS = "resources/teams.yaml.j2"
SCOPES = "resources/scopes.yaml"
INVOICES_READ_TYPES = (
    "allowed_integration_types: [maskinporten]\nvisibility: PUBLIC\nat_max_age: 120\n"
    'consumers: ["910753614"]'
)
REPLACE_BILLING = (
    replace_text(  # the scope billing uses must accept the new integration type first
        SCOPES,
        INVOICES_READ_TYPES,
        INVOICES_READ_TYPES.replace("[maskinporten]", "[maskinporten, api_klient]"),
    ),
    replace_text(
        TEAMS,
        "scopes: [acme:invoices.read]",
        "scopes: [acme:invoices.read]\n"
        "integration_type: {{ 'api_klient' if team.name == 'billing' else 'maskinporten' }}",
    ),
)
UPDATE_ALTINN = (
    replace_text(ALTINN, ALTINN_DESCRIPTION, "Reads Altinn app instances for ACME AS"),
    replace_text(ALTINN, "  - altinn:instances.write\n", ""),
)
DELETE_SUPPLIER = drop_document("resources/clients/brreg.yaml", "reelle-supplier")


# ----------------------------------------------------------------------------------------------
# update


async def test_update_changes_scopes_and_description_and_keeps_unmanaged_fields(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(worlds.converged, tmp_path / "world", *UPDATE_ALTINN)
    before = the_client(world, "altinn-sync")
    by_hand = {"client_uri": "https://acme.example/altinn", "refresh_token_lifetime": 600}
    with world.emulator.store.write() as state:  # set in Samarbeidsportalen, not by mpctl
        record = state.clients[before.client_id]
        record.client_uri, record.refresh_token_lifetime = "https://acme.example/altinn", 600

    plan = await world.plan()
    assert steps(plan) == [("client/altinn-sync", "update")]
    assert [c.path[0] for c in plan.steps[0].changes] == ["description", "scopes"]
    report = await applied(world)
    assert statuses(report) == {"client/altinn-sync": Status.DONE}
    assert report.writes == 1
    assert [w.label for w in world.writes] == ["PUT /api/v1/clients/{id}"]

    after = the_client(world, "altinn-sync")
    assert after.client_id == before.client_id  # changed in place
    assert after.keys == before.keys
    assert after.scopes == ("altinn:authorization/authorize", "altinn:instances.read")
    stored = stored_client(world, after.client_id)
    assert stored["description"].startswith("Reads Altinn app instances for ACME AS")
    assert stored["description"].endswith("[mpctl:acme-platform/altinn-sync]")
    assert {k: stored[k] for k in by_hand} == by_hand  # the PUT kept what mpctl does not manage
    await assert_plan_is_empty(world)


# ----------------------------------------------------------------------------------------------
# replace


async def test_replace_is_held_without_allow_replace(worlds: Templates, tmp_path: Path) -> None:
    world = edited_world(worlds.converged, tmp_path / "world", *REPLACE_BILLING)
    before = the_client(world, "billing-invoices")
    kid = world.sink_states()["billing-invoices"].current
    assert kid is not None
    plan = await world.plan()
    assert ("client/billing-invoices", "replace") in steps(plan)
    report = await applied(world, PlanOptions())
    assert statuses(report) == {
        "scope/acme:invoices.read": Status.DONE,
        "client/billing-invoices": Status.HELD,
        f"client/billing-invoices/key/{kid.kid}": Status.HELD,  # its keys wait with it
    }
    held = {str(o.address): o for o in report.held}["client/billing-invoices"]
    assert "allow_replace" in held.message
    assert not report.ok
    assert active(world, "billing-invoices") == [before]  # untouched
    assert [w.label for w in world.writes] == ["PUT /api/v1/scopes"]


async def test_replace_deletes_then_creates_and_moves_the_key_and_the_sink(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(worlds.converged, tmp_path / "world", *REPLACE_BILLING)
    exempt_from_s1(world, "billing-invoices")
    old = the_client(world, "billing-invoices")
    kid = world.sink_states()["billing-invoices"].current
    assert kid is not None

    report = await applied(world)
    assert statuses(report) == {
        "scope/acme:invoices.read": Status.DONE,
        "client/billing-invoices": Status.DONE,
        f"client/billing-invoices/key/{kid.kid}": Status.DONE,
    }
    assert {str(o.address): o.writes for o in report.outcomes}["client/billing-invoices"] == 2
    labels = [w.label for w in world.writes]
    assert labels.index("DELETE /api/v1/clients/{id}") < labels.index("POST /api/v1/clients")
    new = the_client(world, "billing-invoices")
    assert new.client_id != old.client_id
    assert stored_client(world, new.client_id)["integration_type"] == "api_klient"
    assert stored_client(world, old.client_id)["active"] is False
    assert_sink_follows(world, "billing-invoices")  # same key, now on the new client
    assert world.sink_states()["billing-invoices"].current == kid
    await assert_plan_is_empty(world)


# ----------------------------------------------------------------------------------------------
# delete


async def test_delete_is_held_without_allow_delete_and_nothing_is_written(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(worlds.converged, tmp_path / "world", DELETE_SUPPLIER)
    before = world.remote_state()
    report = await applied(world, PlanOptions())
    assert statuses(report) == {"client/reelle-supplier": Status.HELD}
    assert "allow_delete" in report.outcomes[0].message
    assert world.writes == []
    assert world.remote_state() == before


async def test_delete_deactivates_the_client_and_leaves_the_others(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(worlds.converged, tmp_path / "world", DELETE_SUPPLIER)
    gone = the_client(world, "reelle-supplier")
    others = [c for c in world.remote_state() if c.name != "reelle-supplier"]
    report = await applied(world, PlanOptions(allow_delete=True))
    assert statuses(report) == {"client/reelle-supplier": Status.DONE}
    assert [w.label for w in world.writes] == ["DELETE /api/v1/clients/{id}"]
    assert active(world, "reelle-supplier") == []
    assert stored_client(world, gone.client_id)["active"] is False
    assert [c for c in world.remote_state() if c.name != "reelle-supplier"] == others
    await assert_plan_is_empty(world)


async def test_delete_of_a_client_digdir_no_longer_knows_counts_as_done(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(worlds.converged, tmp_path / "world", DELETE_SUPPLIER)
    gone = the_client(world, "reelle-supplier")
    purge = BeforeStep(world, {"client/reelle-supplier": lambda s: s.clients.pop(gone.client_id)})
    plan, report = await apply_once(world, PlanOptions(allow_delete=True), purge)
    assert purge.fired == ["client/reelle-supplier"]
    assert steps(plan) == [("client/reelle-supplier", "delete")]
    assert statuses(report) == {"client/reelle-supplier": Status.UNCHANGED}
    assert report.ok
    assert report.writes == 0
    assert [w.label for w in world.writes] == ["DELETE /api/v1/clients/{id}"]  # answered 404
    await assert_plan_is_empty(world)


# ----------------------------------------------------------------------------------------------
# the ambiguous create


def fault(world: World, rule: FaultRule) -> None:
    with world.emulator.store.write() as state:
        state.faults = [rule]


def fault_hits(world: World) -> int:
    with world.emulator.store.read() as state:
        return state.faults[0].hits


async def test_create_answered_500_after_it_committed_finds_the_client_by_its_marker(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(small_worlds.fresh, tmp_path / "world")
    fault(world, FaultRule(kind="lost_write", path="/api/v1/clients", methods=["POST"]))
    report = await applied(world)
    assert fault_hits(world) == 1
    assert report.ok, [o.message for o in report.failed]
    assert statuses(report)["client/billing-invoices"] is Status.DONE
    assert [w.label for w in world.writes].count("POST /api/v1/clients") == 1  # never resent
    marked = [c for c in world.remote_state() if c.name == "billing-invoices"]
    assert len(marked) == 1  # no duplicate, active or not
    assert_sink_follows(world, "billing-invoices")
    await assert_plan_is_empty(world)


async def test_create_whose_post_never_arrived_fails_safe_to_rerun_then_creates_one(
    small_worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(small_worlds.fresh, tmp_path / "world")
    fault(world, FaultRule(kind="drop", path="/api/v1/clients", methods=["POST"], max_hits=1))
    report = await applied(world)
    assert fault_hits(world) == 1
    outcome = {str(o.address): o for o in report.outcomes}
    failed = outcome["client/billing-invoices"]
    assert failed.status is Status.FAILED
    assert failed.safe_to_rerun
    assert "safe to re-run" in failed.message
    assert outcome["client/billing-invoices/key"].status is Status.SKIPPED
    assert "waits for client/billing-invoices" in outcome["client/billing-invoices/key"].message
    assert outcome["scope/acme:invoices.read"].status is Status.DONE  # the others went on
    assert report.safe_to_rerun
    assert active(world, "billing-invoices") == []

    again = await applied(world)
    assert again.ok
    assert_sink_follows(world, "billing-invoices")
    await assert_plan_is_empty(world)


async def test_create_finds_the_client_another_run_made_meanwhile_and_makes_no_second(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """Another apply (one that did not share this lock, e.g. on another machine) created the
    client between this run's plan and its create step: the create adopts it by its marker."""
    world = edited_world(small_worlds.fresh, tmp_path / "world")
    made = the_client(small_worlds.converged, "billing-invoices")
    with small_worlds.converged.emulator.store.read() as state:
        record = state.clients[made.client_id].model_copy(deep=True, update={"jwks": None})
    meanwhile = BeforeStep(
        world, {"client/billing-invoices": lambda s: s.clients.update({made.client_id: record})}
    )
    plan, report = await apply_once(world, PlanOptions(), meanwhile)
    assert ("client/billing-invoices", "create") in steps(plan)
    assert meanwhile.fired == ["client/billing-invoices"]
    assert report.ok, [o.message for o in report.failed]
    assert "POST /api/v1/clients" not in [w.label for w in world.writes]
    assert [c.client_id for c in world.remote_state() if c.name == "billing-invoices"] == [
        made.client_id
    ]
    assert_sink_follows(world, "billing-invoices")  # its key went onto the adopted client
    await assert_plan_is_empty(world)
