"""Running a plan: refuse stale plans, run steps in order, isolate failures.

Owns the apply loop (Terraform's model, reliability.md L1-L5). Before anything is written it
re-observes and checks the plan three ways, each failure a `StalePlanError` with zero writes:
same project and environment, same observed fingerprint, and the same steps as the plan derived
now from the manifests and that observation (a saved plan is not trusted as written: an edited
step, value or option is refused). Then it runs each step's executor; a held-back (blocked) or
failed step skips only the steps that depend on it, so one failing client never stops the
others. Must not decide what to change (the plan did) and must not print (the observer and the
report carry everything).
"""

from __future__ import annotations

from mpctl.apply.context import ApplyContext, ApplyError
from mpctl.apply.events import ApplyObserver, NullObserver
from mpctl.apply.observe import observe
from mpctl.apply.report import ApplyReport, Status, StepOutcome
from mpctl.apply.resources import RESOURCE_EXECUTORS, Executor
from mpctl.apply.rotation import run_key_step
from mpctl.errors import MpctlError, StalePlanError, UserError
from mpctl.model.state import DesiredState
from mpctl.plan import (
    Plan,
    Severity,
    Step,
    StepKind,
    error_resource,
    make_plan,
    project_identity,
    resource_address,
)
from mpctl.remote.errors import (
    AmbiguousWriteError,
    BadRequest,
    Forbidden,
    PreconditionRequired,
    RemoteCallError,
)


def check_identity(plan: Plan, desired: DesiredState) -> None:
    """Refuse a plan made for another project or environment."""
    here = project_identity(desired)
    if plan.project != here:
        raise StalePlanError(
            f"the plan was made for project {plan.project!r}, and these manifests are project "
            f"{here!r}; nothing was written",
            hint="apply a plan made from these manifests (`mpctl plan --out FILE`)",
        )
    if plan.env_name != desired.env_name:
        raise StalePlanError(
            f"the plan is for {plan.env_name!r}, not {desired.env_name!r}; nothing was written"
        )


def check_allowed(plan: Plan, allowed: frozenset[str]) -> None:
    """Refuse a plan made with allow options the operator did not give for this run."""
    missing = sorted(plan.options.allows - allowed)
    if missing:
        flags = " ".join(f"--{name.replace('_', '-')}" for name in missing)
        raise UserError(
            f"the plan was made with {flags}; apply it with the same flags; nothing was written",
            hint=f"mpctl apply --plan FILE {flags}",
        )


async def check_fresh(plan: Plan, ctx: ApplyContext) -> None:
    """Refuse (before any write) a plan for another project, environment, state or steps, or
    one that allows more than the operator did."""
    check_identity(plan, ctx.desired)
    check_allowed(plan, ctx.allowed)
    snapshot = await observe(ctx.api, ctx.desired, ctx.sinks)
    if snapshot.fingerprint != plan.observed_fingerprint:
        raise StalePlanError(
            "Digdir or the secret sinks changed since the plan was made; nothing was written",
            hint="make a new plan (`mpctl plan --out FILE`), review it, and apply that",
        )
    derived = make_plan(
        ctx.desired,
        snapshot.observed,
        snapshot.sinks,
        options=plan.options,
        now=ctx.now(),
        manifests_fingerprint=plan.manifests_fingerprint,
    )
    if derived != plan:
        raise StalePlanError(
            "the plan is not what these manifests and Digdir call for now "
            f"({_first_difference(plan, derived)}); nothing was written",
            hint="the plan file was edited, or a time-dependent key decision changed since it "
            "was made: make a new plan (`mpctl plan --out FILE`), review it, and apply that",
        )


def _first_difference(plan: Plan, derived: Plan) -> str:
    """Where a plan and the one derived now part, for people."""
    mine = {s.address: s for s in plan.steps}
    theirs = {s.address: s for s in derived.steps}
    extra = sorted(mine.keys() - theirs.keys())
    if extra:
        return f"{extra[0]} is not called for"
    missing = sorted(theirs.keys() - mine.keys())
    if missing:
        return f"{missing[0]} is missing from the plan"
    changed = sorted(a for a in mine if mine[a] != theirs[a])
    if changed:
        return f"{changed[0]} differs"
    if [s.address for s in plan.steps] != [s.address for s in derived.steps]:
        return "the steps are in another order"
    return "its options, diagnostics or summary differ"


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
    held = _held_reasons(plan)
    for step in plan.steps:
        outcome = await _run_step(step, ctx, events, broken, held)
        if outcome.status in (Status.FAILED, Status.SKIPPED, Status.HELD):
            broken.add(step.address)
        report.add(outcome)
    return report


def _held_reasons(plan: Plan) -> dict[str, str]:
    """Resource address → the first error that holds its steps back."""
    reasons: dict[str, str] = {}
    for found in plan.diagnostics:
        if found.severity is Severity.ERROR and found.address is not None:
            reasons.setdefault(error_resource(found.address), f"{found.code}: {found.message}")
    return reasons


async def _run_step(
    step: Step, ctx: ApplyContext, events: ApplyObserver, broken: set[str], held: dict[str, str]
) -> StepOutcome:
    if ctx.stop_requested():
        outcome = StepOutcome(step.address, Status.SKIPPED, message="not started: apply stopped")
        events.step_finished(step, outcome)
        return outcome
    if step.blocked:
        reason = held.get(resource_address(step), "refused by the plan")
        outcome = StepOutcome(step.address, Status.HELD, message=f"held back: {reason}")
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
