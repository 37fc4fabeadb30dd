"""Running a plan: refuse stale plans, run steps in order, isolate failures.

Owns the apply loop (Terraform's model, reliability.md L1-L5). Before anything is written it
re-observes and refuses, with zero writes (`StalePlanError`), a plan whose allow options the
operator did not repeat, whose observed fingerprint differs, or (when the caller gives
`ApplyContext.rederive`) that is not step for step what the manifests call for now. Then it
runs each step's executor, chosen by the step's type; a held-back (blocked) or failed step
skips only the steps that depend on it, so one failing client never stops the others. Needs
only the plan, the API, the sinks, the key tester and the clock. Must not decide what to change
(the plan did) and must not print (the observer and the report carry everything).
"""

from __future__ import annotations

from mpctl.apply.context import ApplyContext
from mpctl.apply.events import ApplyObserver, NullObserver
from mpctl.apply.report import ApplyReport, Status, StepOutcome
from mpctl.apply.resources import run_resource_step
from mpctl.apply.rotation import run_key_step
from mpctl.errors import MpctlError, StalePlanError, UserError
from mpctl.plan import (
    Address,
    KeyStep,
    Plan,
    Step,
    check_environment,
    check_rederived,
    held_resources,
)
from mpctl.remote import (
    AmbiguousWriteError,
    BadRequest,
    Forbidden,
    PreconditionRequired,
    RemoteCallError,
)
from mpctl.state import observe


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
    """Refuse (before any write) a plan for another environment, one that allows more than
    the operator did, one made against another state, or (with `ctx.rederive`) one that is not
    what the manifests call for."""
    check_environment(plan, ctx.env_name)
    check_allowed(plan, ctx.allowed)
    snapshot = await observe(ctx.api, orgno=plan.orgno, sinks=ctx.sinks)
    if snapshot.fingerprint != plan.observed_fingerprint:
        raise StalePlanError(
            "Digdir or the secret sinks changed since the plan was made; nothing was written",
            hint="make a new plan (`mpctl plan --out FILE`), review it, and apply that",
        )
    if ctx.rederive is not None:
        check_rederived(plan, ctx.rederive(snapshot))


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
    broken: set[Address] = set()
    held = _held_reasons(plan)
    for step in plan.steps:
        outcome = await _run_step(step, ctx, events, broken, held)
        if outcome.status in (Status.FAILED, Status.SKIPPED, Status.HELD):
            broken.add(step.address)
        report.add(outcome)
    return report


def _held_reasons(plan: Plan) -> dict[Address, str]:
    """Client or scope → the first error that holds its steps back."""
    held = held_resources(plan.diagnostics)
    return {resource: f"{found.code}: {found.message}" for resource, found in held.items()}


async def _run_step(
    step: Step,
    ctx: ApplyContext,
    events: ApplyObserver,
    broken: set[Address],
    held: dict[Address, str],
) -> StepOutcome:
    if ctx.stop_requested():
        outcome = StepOutcome(
            str(step.address), Status.SKIPPED, message="not started: apply stopped"
        )
        events.step_finished(step, outcome)
        return outcome
    if step.blocked:
        reason = held.get(step.resource, "refused by the plan")
        outcome = StepOutcome(str(step.address), Status.HELD, message=f"held back: {reason}")
        events.step_finished(step, outcome)
        return outcome
    failed_first = sorted(set(step.depends_on) & broken)
    if failed_first:
        waits = ", ".join(str(address) for address in failed_first)
        outcome = StepOutcome(str(step.address), Status.SKIPPED, message=f"waits for {waits}")
        events.step_finished(step, outcome)
        return outcome
    events.step_started(step)
    try:
        writes = await _execute(step, ctx)
    except MpctlError as exc:
        outcome = _failure(step, exc)
    else:
        status = Status.DONE if writes else Status.UNCHANGED
        outcome = StepOutcome(str(step.address), status, writes=writes)
    events.step_finished(step, outcome)
    return outcome


async def _execute(step: Step, ctx: ApplyContext) -> int:
    """Run the executor for the step's type; returns the writes made."""
    if isinstance(step, KeyStep):
        return await run_key_step(step, ctx)
    return await run_resource_step(step, ctx)


def _failure(step: Step, exc: MpctlError) -> StepOutcome:
    safe = getattr(exc, "safe_to_rerun", True)
    if isinstance(exc, AmbiguousWriteError):
        message = f"{exc.message} (apply re-reads before writing again: safe to re-run)"
    else:
        message = exc.message + (f" — {exc.hint}" if exc.hint else "")
    safe = safe and (not isinstance(exc, RemoteCallError) or _retryable(exc))
    return StepOutcome(str(step.address), Status.FAILED, message=message, safe_to_rerun=safe)


def _retryable(exc: RemoteCallError) -> bool:
    """Refusals that will repeat until someone changes something are not 'safe to re-run'."""
    return not isinstance(exc, BadRequest | Forbidden | PreconditionRequired)
