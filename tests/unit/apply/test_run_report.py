"""`apply --format json`'s document: steps in plan order, and in an interrupted run the steps
that never started have no outcome (found by review: they were `skipped`, `not_started: 0`)."""

from __future__ import annotations

from mpctl.apply import Status, StepOutcome, build_run_report
from mpctl.plan import AccessStep, Action, Address, Plan, PlanSummary


def _plan(count: int) -> Plan:
    steps = tuple(
        AccessStep(address=f"scope/acme:s{index}/access/910753614", action=Action.CREATE)
        for index in range(count)
    )
    return Plan(
        project="313367002/acme",
        env_name="test",
        observed_fingerprint="o",
        manifests_fingerprint="m",
        steps=steps,
        summary=PlanSummary.of(steps, (), unchanged=0),
    )


def test_steps_an_interrupt_left_undone_have_no_outcome() -> None:
    plan = _plan(3)
    first, second, third = (step.address for step in plan.steps)
    outcomes = {
        first: StepOutcome(first, Status.DONE, writes=1),
        second: StepOutcome(second, Status.SKIPPED, message="not started: apply stopped"),
        third: StepOutcome(third, Status.SKIPPED, message="not started: apply stopped"),
    }
    report = build_run_report(
        plan, outcomes, {}, exit_code=130, interrupted=True, started=frozenset({first})
    )
    assert [step.outcome for step in report.steps] == [Status.DONE, None, None]
    assert (report.totals.done, report.totals.not_started, report.totals.skipped) == (1, 2, 0)


def test_a_finished_run_keeps_every_outcome_in_plan_order() -> None:
    plan = _plan(2)
    first, second = (step.address for step in plan.steps)
    outcomes = {
        second: StepOutcome(second, Status.SKIPPED, message="its dependency failed"),
        first: StepOutcome(first, Status.FAILED, message="boom"),
    }
    report = build_run_report(plan, outcomes, {}, exit_code=1, started=frozenset({first}))
    assert [step.address for step in report.steps] == [str(first), str(second)]
    assert [step.outcome for step in report.steps] == [Status.FAILED, Status.SKIPPED]
    assert Address(report.steps[0].address) == first
