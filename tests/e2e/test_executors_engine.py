"""What the apply loop reports around the dangerous executors, through the real path.

One run whose steps end done, failed (Digdir answers 500 to every try), skipped (waits for the
failed one) and held back (a delete without --allow-delete); an update already made by hand
between plan and step (unchanged, nothing written); a stop requested between steps (the step in
flight finishes, no other starts); a plan holding a delete refused while another apply holds the
environment's lock (through the real CLI). Each ends with a re-run and a fresh plan that is empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mpctl.apply import EnvironmentLock, Status, StepOutcome, apply_plan
from mpctl.cli.main import main
from mpctl.emulator import FaultRule
from mpctl.emulator.state import EmulatorState
from mpctl.plan import PlanOptions, Step
from tests.e2e.conftest import Templates
from tests.e2e.harness import DEFAULT_CLIENTS, build_project
from tests.e2e.test_executors_clients import (
    ALTINN,
    DELETE_SUPPLIER,
    SCOPES,
    TEAMS,
    UPDATE_ALTINN,
    BeforeStep,
    applied,
    apply_once,
    assert_plan_is_empty,
    edited_world,
    replace_text,
    statuses,
    steps,
    the_client,
)

pytestmark = pytest.mark.usefixtures("fast_crypto")

READ_SCOPE = replace_text(SCOPES, "Read invoices issued by ACME AS", "Read ACME AS's invoices")
BILLING_DESCRIPTION = replace_text(
    TEAMS, 'description: "{{ team.description }} ({{ env }})"', 'description: "{{ team.name }}"'
)


async def test_one_run_reports_done_failed_skipped_and_held_then_a_rerun_converges(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(
        worlds.converged,
        tmp_path / "world",
        *UPDATE_ALTINN,
        READ_SCOPE,
        BILLING_DESCRIPTION,
        DELETE_SUPPLIER,
    )
    with world.emulator.store.write() as state:
        state.faults = [FaultRule(kind="error", status=500, path="/api/v1/scopes", methods=["PUT"])]
    report = await applied(world, PlanOptions())
    assert statuses(report) == {
        "scope/acme:invoices.read": Status.FAILED,
        "client/altinn-sync": Status.DONE,
        "client/billing-invoices": Status.SKIPPED,
        "client/reelle-supplier": Status.HELD,
    }
    outcomes = {str(o.address): o for o in report.outcomes}
    assert "500" in outcomes["scope/acme:invoices.read"].message
    assert outcomes["client/billing-invoices"].message == "waits for scope/acme:invoices.read"
    assert "allow_delete" in outcomes["client/reelle-supplier"].message
    assert (report.ok, report.safe_to_rerun, report.writes) == (False, True, 1)
    assert [o.status for o in report.failed + report.skipped + report.held] == [
        Status.FAILED,
        Status.SKIPPED,
        Status.HELD,
    ]
    assert [w.label for w in world.writes].count("PUT /api/v1/scopes") == 4  # 1 + 3 retries

    with world.emulator.store.write() as state:
        state.faults = []
    again = await applied(world, PlanOptions(allow_delete=True))
    assert again.ok
    assert statuses(again) == {
        "scope/acme:invoices.read": Status.DONE,
        "client/billing-invoices": Status.DONE,
        "client/reelle-supplier": Status.DONE,
    }
    await assert_plan_is_empty(world)


async def test_an_update_made_by_hand_between_plan_and_step_writes_nothing(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(worlds.converged, tmp_path / "world", *UPDATE_ALTINN)
    client_id = the_client(world, "altinn-sync").client_id

    def same_edit_by_hand(state: EmulatorState) -> None:
        record = state.clients[client_id]
        record.description = record.description.replace("Reads and writes", "Reads")
        record.scopes = [s for s in record.scopes if s != "altinn:instances.write"]

    seen = BeforeStep(world, {"client/altinn-sync": same_edit_by_hand})
    plan, report = await apply_once(world, PlanOptions(), seen)
    assert steps(plan) == [("client/altinn-sync", "update")]
    assert seen.fired == ["client/altinn-sync"]
    assert statuses(report) == {"client/altinn-sync": Status.UNCHANGED}
    assert report.ok
    assert world.writes == []  # the fresh GET already matched: no PUT
    await assert_plan_is_empty(world)


class StopAfterFirstStep:
    """SIGTERM arrives while the first step runs: `stop_requested` turns true once it ends."""

    def __init__(self) -> None:
        self.finished: list[str] = []

    def requested(self) -> bool:
        return bool(self.finished)

    def step_started(self, step: Step) -> None:
        del step

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        self.finished.append(str(step.address))


async def test_stop_requested_between_steps_starts_no_other_step_and_a_rerun_finishes(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(
        worlds.converged, tmp_path / "world", *UPDATE_ALTINN, READ_SCOPE, DELETE_SUPPLIER
    )
    options = PlanOptions(allow_delete=True)
    stop = StopAfterFirstStep()
    async with world.session() as (api, sinks, tester):
        plan = world.make_plan(await world.observe(api, sinks), options)
        context = world.context(api, sinks, tester, allowed=options.allows)
        context.stop_requested = stop.requested
        report = await apply_plan(plan, context, observer=stop)
    first, *rest = report.outcomes
    assert len(rest) == 2
    assert first.status is Status.DONE
    assert [(o.status, o.message) for o in rest] == [
        (Status.SKIPPED, "not started: apply stopped")
    ] * 2
    assert len(world.writes) == 1
    assert (report.ok, report.safe_to_rerun) == (False, True)

    again = await applied(world, options)
    assert sorted(statuses(again)) == sorted(str(o.address) for o in rest)
    assert again.ok
    await assert_plan_is_empty(world)


def test_a_delete_waits_while_another_apply_holds_the_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = build_project(tmp_path / "project", clients=DEFAULT_CLIENTS)

    def mpctl(*args: str) -> tuple[int, str]:
        code = main([args[0], "--manifests", str(project), *args[1:]])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    assert mpctl("apply", "--auto-approve")[0] == 0
    DELETE_SUPPLIER(project)
    replace_text(ALTINN, "  - altinn:instances.write\n", "")(project)
    lock = EnvironmentLock(project / ".mpctl" / "local" / "apply.lock")
    held = lock.acquire("mpctl apply -e local (another run)")

    code, out = mpctl("apply", "--auto-approve", "--allow-delete")
    assert code == 1
    assert held.id in out
    code, out = mpctl("plan", "--detailed-exitcode", "--allow-delete")
    assert code == 2, out  # nothing was deleted or updated
    assert "client/reelle-supplier" in out
    assert "client/altinn-sync" in out

    lock.release(held)
    code, out = mpctl("apply", "--auto-approve", "--allow-delete")
    assert code == 0, out
    code, out = mpctl("plan", "--detailed-exitcode")
    assert code == 0, out
