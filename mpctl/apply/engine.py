"""Running a plan: refuse stale plans, run steps in order, isolate failures.

Owns the apply loop (Terraform's model, reliability.md L1-L5): re-observe and compare the
fingerprint with the plan's before anything is written (a mismatch is `StalePlanError`, zero
writes); run each step's executor; a failed step skips only the steps that depend on it, so one
failing client never stops the others. Must not decide what to change (the plan did) and must
not print (the observer and the report carry everything).
"""

from __future__ import annotations

from mpctl.apply.context import ApplyContext, ApplyError
from mpctl.apply.events import ApplyObserver, NullObserver
from mpctl.apply.observe import observe
from mpctl.apply.report import ApplyReport, Status, StepOutcome
from mpctl.apply.resources import RESOURCE_EXECUTORS, Executor
from mpctl.apply.rotation import run_key_step
from mpctl.errors import MpctlError, StalePlanError, UserError
from mpctl.plan import Plan, Step, StepKind
from mpctl.remote.errors import (
    AmbiguousWriteError,
    BadRequest,
    Forbidden,
    PreconditionRequired,
    RemoteCallError,
)


async def check_fresh(plan: Plan, ctx: ApplyContext) -> None:
    """Refuse (before any write) a plan made for another environment or an older state."""
    if plan.env_name != ctx.desired.env_name:
        raise StalePlanError(
            f"the plan is for {plan.env_name!r}, not {ctx.desired.env_name!r}; nothing was written"
        )
    snapshot = await observe(ctx.api, ctx.desired, ctx.sinks)
    if snapshot.fingerprint != plan.observed_fingerprint:
        raise StalePlanError(
            "Digdir or the secret sinks changed since the plan was made; nothing was written",
            hint="make a new plan (`mpctl plan --out FILE`), review it, and apply that",
        )


async def apply_plan(
    plan: Plan, ctx: ApplyContext, *, observer: ApplyObserver | None = None
) -> ApplyReport:
    """Run every step of a fresh, applyable plan in order; never raises for a step's failure."""
    if not plan.applyable:
        raise UserError(
            f"the plan has {plan.summary.errors} error(s) and cannot be applied",
            hint="fix them (see `mpctl plan`) or pass the allow flags they name",
        )
    await check_fresh(plan, ctx)
    events = observer or NullObserver()
    report = ApplyReport()
    broken: set[str] = set()
    for step in plan.steps:
        outcome = await _run_step(step, ctx, events, broken)
        if outcome.status in (Status.FAILED, Status.SKIPPED):
            broken.add(step.address)
        report.add(outcome)
    return report


async def _run_step(
    step: Step, ctx: ApplyContext, events: ApplyObserver, broken: set[str]
) -> StepOutcome:
    if ctx.stop_requested():
        outcome = StepOutcome(step.address, Status.SKIPPED, message="not started: apply stopped")
        events.step_finished(step, outcome)
        return outcome
    failed_first = sorted(set(step.depends_on) & broken)
    if failed_first:
        outcome = StepOutcome(
            step.address, Status.SKIPPED, message=f"waits for {', '.join(failed_first)}"
        )
        events.step_finished(step, outcome)
        return outcome
    events.step_started(step)
    try:
        writes = await _executor(step)(step, ctx)
    except MpctlError as exc:
        outcome = _failure(step, exc)
    else:
        status = Status.DONE if writes else Status.UNCHANGED
        outcome = StepOutcome(step.address, status, writes=writes)
    events.step_finished(step, outcome)
    return outcome


def _executor(step: Step) -> Executor:
    if step.kind is StepKind.KEY:
        return run_key_step
    executor = RESOURCE_EXECUTORS.get((step.kind, step.action))
    if executor is None:
        raise ApplyError(f"{step.address}: no executor for {step.kind} {step.action}")
    return executor


def _failure(step: Step, exc: MpctlError) -> StepOutcome:
    safe = getattr(exc, "safe_to_rerun", True)
    if isinstance(exc, AmbiguousWriteError):
        message = f"{exc.message} (apply re-reads before writing again: safe to re-run)"
    else:
        message = exc.message + (f" — {exc.hint}" if exc.hint else "")
    safe = safe and (not isinstance(exc, RemoteCallError) or _retryable(exc))
    return StepOutcome(step.address, Status.FAILED, message=message, safe_to_rerun=safe)


def _retryable(exc: RemoteCallError) -> bool:
    """Refusals that will repeat until someone changes something are not 'safe to re-run'."""
    return not isinstance(exc, BadRequest | Forbidden | PreconditionRequired)
