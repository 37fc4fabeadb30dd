"""The concurrent apply engine through the real path: manifests → plan → apply → emulator.

A converged world gains `BULK` new clients (each a create and a key step) and loses one (a
delete that must wait for every create); the emulator delays every self-service request, so
steps really overlap. Covered: at most `parallelism` steps in flight and exactly that many when
enough are ready; every step starts only after all its dependencies ended (a key step after its
client's create, the delete after every create); one client's failed create leaves every other
client done and skips only its key step, naming the failed create; the stop flag stops new
starts while the steps in flight finish; the report is in plan order though steps finish in
another; parallelism 1 is exactly the plan's order, one step at a time, while above 1 every ready
client create starts before a ready key step; the creates look for their
marker in the stale-plan check's listing when every run takes one lock, else in listings begun
after they asked (shared by the creates asking at once), and in a listing begun after a lost
answer (no duplicate); `mpctl apply --parallelism N` through the CLI. The
invariants of the harness are checked after every call, as in the crash matrix.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mpctl.apply import ApplyReport, ApplySettings, Status, StepOutcome, apply_plan
from mpctl.cli.main import main
from mpctl.emulator import FaultRule
from mpctl.plan import Action, ClientStep, Plan, PlanOptions, Step
from tests.e2e.conftest import Templates
from tests.e2e.harness import (
    DEFAULT_CLIENTS,
    FAST,
    World,
    build_project,
    checks_one_at_a_time,
)
from tests.e2e.test_executors_clients import (
    assert_plan_is_empty,
    drop_document,
    edited_world,
)

pytestmark = pytest.mark.usefixtures("fast_crypto")

BULK = 6
LATENCY = FaultRule(kind="latency", path="/api/v1/*", latency_ms=15)
LISTINGS = FaultRule(kind="latency", path="/api/v1/clients", methods=["GET"])
"""Delays nothing: its `seen` counts the requests listing every client."""
DELETED = "client/reelle-supplier"
ONE_LOCK = dataclasses.replace(FAST, client_listing_max_age=math.inf)
"""What the CLI sets when every run takes the same lock (S3, or an embedded emulator)."""


def add_bulk_clients(project: Path) -> None:
    """`BULK` more clients like altinn-sync (own key each, the same consumable scopes)."""
    documents = [
        json.dumps(
            {
                "kind": "Client",
                "name": f"bulk-{index:02d}",
                "description": f"Bulk client {index}",
                "scopes": ["altinn:instances.read"],
            }
        )
        for index in range(1, BULK + 1)
    ]
    (project / "resources" / "clients" / "bulk.yaml").write_text("\n---\n".join(documents) + "\n")


def bulk_world(worlds: Templates, target: Path) -> World:
    world = edited_world(
        worlds.converged,
        target,
        add_bulk_clients,
        drop_document("resources/clients/brreg.yaml", "reelle-supplier"),
    )
    with world.emulator.store.write() as state:
        state.faults = [LATENCY, LISTINGS]
    checks_one_at_a_time(world)
    return world


@dataclass
class Recorder:
    """An observer recording every event in order and the most steps ever in flight."""

    stop_after_starts: int | None = None
    events: list[tuple[str, str]] = field(default_factory=list)
    in_flight: set[str] = field(default_factory=set)
    most_in_flight: int = 0
    stop: bool = False

    def step_started(self, step: Step) -> None:
        address = str(step.address)
        assert address not in self.in_flight
        self.events.append(("start", address))
        self.in_flight.add(address)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        if self.stop_after_starts is not None:
            self.stop = len(self.started) >= self.stop_after_starts

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        assert outcome.address == str(step.address)
        self.events.append(("finish", outcome.address))
        self.in_flight.discard(outcome.address)

    @property
    def started(self) -> list[str]:
        return [address for kind, address in self.events if kind == "start"]

    @property
    def finished(self) -> list[str]:
        return [address for kind, address in self.events if kind == "finish"]

    def position(self, kind: str, address: str) -> int:
        return self.events.index((kind, address))


async def apply_with(
    world: World, parallelism: int, recorder: Recorder, settings: ApplySettings = FAST
) -> tuple[Plan, ApplyReport, int]:
    """One apply process at `parallelism` (deletes allowed); also the client listings made."""
    options = PlanOptions(allow_delete=True)
    async with world.session() as (api, sinks, tester):
        plan = world.make_plan(await world.observe(api, sinks), options)
        context = world.context(api, sinks, tester, settings, allowed=options.allows)
        context.parallelism = parallelism
        context.stop_requested = lambda: recorder.stop
        listings_before = listings(world)
        report = await apply_plan(plan, context, observer=recorder)
    return plan, report, listings(world) - listings_before


def listings(world: World) -> int:
    with world.emulator.store.read() as state:
        return next(rule.seen for rule in state.faults if rule.path == LISTINGS.path)


def addresses(plan: Plan) -> list[str]:
    return [str(step.address) for step in plan.steps]


def creates(plan: Plan) -> list[str]:
    return [
        str(s.address)
        for s in plan.steps
        if isinstance(s, ClientStep) and s.action is Action.CREATE
    ]


async def test_up_to_n_steps_run_at_once_each_after_its_dependencies_in_plan_order_reported(
    worlds: Templates, tmp_path: Path
) -> None:
    world = bulk_world(worlds, tmp_path / "world")
    recorder = Recorder()
    plan, report, _ = await apply_with(world, 4, recorder)
    assert len(creates(plan)) == BULK
    assert DELETED in addresses(plan)

    assert report.ok, [o.message for o in report.failed]
    assert recorder.most_in_flight == 4  # never more, and the ready set filled every slot
    for step in plan.steps:  # a key step after its client's create, the delete after creates
        began = recorder.position("start", str(step.address))
        for dependency in step.depends_on:
            assert recorder.position("finish", str(dependency)) < began, (step, dependency)
    last_create = max(recorder.position("finish", address) for address in creates(plan))
    assert recorder.position("start", DELETED) > last_create

    assert [o.address for o in report.outcomes] == addresses(plan)
    assert recorder.finished != addresses(plan)  # they finished in another order
    await assert_plan_is_empty(world)


async def test_parallelism_one_runs_the_plan_in_order_one_step_at_a_time(
    worlds: Templates, tmp_path: Path
) -> None:
    world = bulk_world(worlds, tmp_path / "world")
    recorder = Recorder()
    plan, report, _ = await apply_with(world, 1, recorder)
    assert report.ok, [o.message for o in report.failed]
    assert recorder.events == [
        (kind, address) for address in addresses(plan) for kind in ("start", "finish")
    ]
    assert recorder.most_in_flight == 1


async def test_above_parallelism_one_every_create_starts_before_any_key_step(
    worlds: Templates, tmp_path: Path
) -> None:
    world = bulk_world(worlds, tmp_path / "world")
    recorder = Recorder()
    plan, report, _ = await apply_with(world, 4, recorder)
    assert report.ok, [o.message for o in report.failed]
    keys = [a for a in addresses(plan) if a.endswith("/key")]
    assert len(keys) == BULK  # in plan order each sits right after its client's create
    last_create = max(recorder.position("start", address) for address in creates(plan))
    assert last_create < min(recorder.position("start", address) for address in keys)


async def test_a_failed_create_skips_only_its_key_step_and_every_other_client_is_done(
    worlds: Templates, tmp_path: Path
) -> None:
    world = bulk_world(worlds, tmp_path / "world")
    lose_one = FaultRule(kind="drop", path="/api/v1/clients", methods=["POST"], max_hits=1)
    with world.emulator.store.write() as state:
        state.faults = [*state.faults, lose_one]
    recorder = Recorder()
    plan, report, _ = await apply_with(world, 4, recorder)
    outcomes = {o.address: o for o in report.outcomes}

    (failed,) = report.failed
    assert failed.address in creates(plan)
    key = outcomes[f"{failed.address}/key"]
    assert (key.status, key.message) == (Status.SKIPPED, f"waits for {failed.address}")
    assert key.address not in recorder.started
    assert {o.address for o in report.skipped} == {key.address, DELETED}  # waits for creates
    others = [a for a in addresses(plan) if a not in (failed.address, key.address, DELETED)]
    assert len(others) == 2 * BULK - 2
    assert all(outcomes[a].status is Status.DONE for a in others)

    again = await apply_with(world, 4, Recorder())
    assert again[1].ok
    await assert_plan_is_empty(world)


async def test_the_stop_flag_stops_new_starts_and_the_steps_in_flight_finish(
    worlds: Templates, tmp_path: Path
) -> None:
    world = bulk_world(worlds, tmp_path / "world")
    recorder = Recorder(stop_after_starts=3)
    plan, report, _ = await apply_with(world, 4, recorder)

    assert len(recorder.started) == 3
    for address in recorder.started:
        assert recorder.position("finish", address) > recorder.position("start", address)
    stopped = [o for o in report.outcomes if o.message == "not started: apply stopped"]
    assert len(stopped) == len(plan.steps) - 3
    assert {o.status for o in stopped} == {Status.SKIPPED}
    assert [o.address for o in report.outcomes] == addresses(plan)

    again = await apply_with(world, 4, Recorder())
    assert again[1].ok
    await assert_plan_is_empty(world)


async def test_with_every_run_under_one_lock_creates_use_the_stale_plan_checks_listing(
    worlds: Templates, tmp_path: Path
) -> None:
    world = bulk_world(worlds, tmp_path / "world")
    plan, report, lists = await apply_with(world, 4, Recorder(), ONE_LOCK)
    assert report.ok
    assert len(creates(plan)) == BULK
    assert lists == 1  # the stale-plan check's; no create listed again


async def test_otherwise_creates_share_listings_begun_after_they_asked(
    worlds: Templates, tmp_path: Path
) -> None:
    world = bulk_world(worlds, tmp_path / "world")
    plan, report, lists = await apply_with(world, 4, Recorder())
    assert report.ok
    assert 1 < lists <= 1 + len(creates(plan))  # never more than one per create
    world = bulk_world(worlds, tmp_path / "one at a time")
    plan, report, lists = await apply_with(world, 1, Recorder())
    assert report.ok
    assert lists == 1 + len(creates(plan))  # one after the other: each its own


async def test_a_create_whose_answer_was_lost_lists_again_and_makes_no_duplicate(
    worlds: Templates, tmp_path: Path
) -> None:
    world = bulk_world(worlds, tmp_path / "world")
    lose_answer = FaultRule(kind="lost_write", path="/api/v1/clients", methods=["POST"], max_hits=1)
    with world.emulator.store.write() as state:
        state.faults = [*state.faults, lose_answer]
    _, report, lists = await apply_with(world, 4, Recorder(), ONE_LOCK)
    assert report.ok, [o.message for o in report.failed]
    assert lists == 2  # the stale-plan check's, and one begun after the lost POST
    names = [c.name for c in world.remote_state() if c.active]
    assert sorted(n for n in names if n and n.startswith("bulk-")) == [
        f"bulk-{index:02d}" for index in range(1, BULK + 1)
    ]
    await assert_plan_is_empty(world)


def test_mpctl_apply_takes_parallelism_and_refuses_less_than_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = build_project(tmp_path / "project", clients=DEFAULT_CLIENTS)

    def mpctl(*args: str) -> tuple[int, str]:
        code = main([args[0], "--manifests", str(project), *args[1:]])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, out = mpctl("apply", "--auto-approve", "--no-audit", "--parallelism", "0")
    assert code == 1, out
    assert "Invalid value for '--parallelism'" in out
    assert not (project / ".mpctl" / "secrets").exists()  # nothing was written
    code, out = mpctl("apply", "--auto-approve", "--no-audit", "--parallelism", "4")
    assert code == 0, out
    assert "Apply complete" in out
    code, out = mpctl("plan", "--detailed-exitcode")
    assert code == 0, out
