"""Running a plan: refuse stale plans, run ready steps concurrently, isolate failures.

Owns the apply loop (Terraform's model, reliability.md L1-L5). Before anything is written it
re-observes and refuses, with zero writes (`StalePlanError`), a plan whose allow options the
operator did not repeat, whose observed fingerprint differs, or (when the caller gives
`ApplyContext.rederive`) that is not step for step what the manifests call for now. Then a
ready-set scheduler runs the steps over the plan's `depends_on` edges: at most
`ApplyContext.parallelism` executors in flight (an `asyncio.TaskGroup` and a semaphore), the
ready step earliest in the plan first, so parallelism 1 is exactly the plan's order; above 1 a
ready client create goes before the other ready steps, so the creates run side by side and
share the listings their duplicate checks look in (`mpctl.apply.listing`). The stop
flag is checked before each step starts; a held-back (blocked) or failed step skips only the
steps that depend on it, so one failing client never stops the others. Observers hear every
event from the event loop, one call at a time; the report is in plan order whatever the finish
order. Needs only the plan, the API, the sinks, the key tester and the clock. Must not decide
what to change (the plan did) and must not print (the observer and the report carry everything).
"""

from __future__ import annotations

import asyncio
import heapq

from mpctl.apply.context import STEP_IN_FLIGHT, ApplyContext
from mpctl.apply.events import ApplyObserver, NullObserver
from mpctl.apply.report import ApplyReport, Status, StepOutcome
from mpctl.apply.resources import run_resource_step
from mpctl.apply.rotation import run_key_step
from mpctl.errors import MpctlError, StalePlanError, UserError
from mpctl.plan import (
    Action,
    Address,
    ClientStep,
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
from mpctl.state import Snapshot, observe


def check_allowed(plan: Plan, allowed: frozenset[str]) -> None:
    """Refuse a plan made with allow options the operator did not give for this run."""
    missing = sorted(plan.options.allows - allowed)
    if missing:
        flags = " ".join(f"--{name.replace('_', '-')}" for name in missing)
        raise UserError(
            f"the plan was made with {flags}; apply it with the same flags; nothing was written",
            hint=f"mpctl apply --plan FILE {flags}",
        )


async def check_fresh(plan: Plan, ctx: ApplyContext) -> Snapshot:
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
    return snapshot


async def apply_plan(
    plan: Plan, ctx: ApplyContext, *, observer: ApplyObserver | None = None
) -> ApplyReport:
    """Run every step of a fresh, applyable plan, dependencies first, up to
    `ctx.parallelism` at a time; never raises for a step's failure."""
    if not plan.applyable:
        raise UserError(
            f"the plan has {plan.summary.errors} error(s) and cannot be applied",
            hint="fix them (see `mpctl plan`) or pass the allow flags they name",
        )
    if ctx.parallelism < 1:
        raise UserError(f"parallelism must be at least 1, not {ctx.parallelism}")
    graph = _dependencies(plan)
    began = ctx.monotonic()
    snapshot = await check_fresh(plan, ctx)
    ctx.client_listing.seed(snapshot.observed.clients.values(), began=began)
    scheduler = _Scheduler(plan, graph, ctx, observer or NullObserver())
    outcomes = await scheduler.run()
    report = ApplyReport()
    for step in plan.steps:
        report.add(outcomes[step.address])
    return report


def _dependencies(plan: Plan) -> dict[Address, frozenset[Address]]:
    """Each step's dependencies within the plan (others are dropped, as the planner does);
    refuses a cycle, which no planner makes (only an edited file can hold one)."""
    addresses = {step.address for step in plan.steps}
    graph = {step.address: frozenset(set(step.depends_on) & addresses) for step in plan.steps}
    done: set[Address] = set()
    remaining = dict(graph)
    while remaining:
        ready = [address for address, deps in remaining.items() if deps <= done]
        if not ready:
            stuck = ", ".join(str(a) for a in sorted(remaining))
            raise UserError(f"the plan's steps depend on each other in a cycle: {stuck}")
        done.update(ready)
        for address in ready:
            del remaining[address]
    return graph


def _creates_a_client(step: Step) -> bool:
    """Creates that start together share a listing: under a local lock each create needs one
    begun after it asked, and in plan order (a client's key step right after its create) few
    creates ask at once, so 1,000 creates made 440 listings of every client."""
    return isinstance(step, ClientStep) and step.action is Action.CREATE


class _Scheduler:
    """One apply's ready set: which steps may start, which are running, how each ended."""

    def __init__(
        self,
        plan: Plan,
        graph: dict[Address, frozenset[Address]],
        ctx: ApplyContext,
        events: ApplyObserver,
    ) -> None:
        self._ctx = ctx
        self._events = events
        self._steps = {step.address: step for step in plan.steps}
        creates_first = ctx.parallelism > 1
        self._rank = {
            step.address: (creates_first and not _creates_a_client(step), index)
            for index, step in enumerate(plan.steps)
        }
        self._held = _held_reasons(plan)
        self._waiting = {address: len(deps) for address, deps in graph.items()}
        self._dependents: dict[Address, list[Address]] = {address: [] for address in graph}
        for address, deps in graph.items():
            for dependency in deps:
                self._dependents[dependency].append(address)
        self._ready = [self._rank[a] for a, count in self._waiting.items() if count == 0]
        heapq.heapify(self._ready)
        self._order = [step.address for step in plan.steps]
        self._slots = asyncio.Semaphore(ctx.parallelism)
        self._changed = asyncio.Event()
        self._broken: set[Address] = set()
        self._outcomes: dict[Address, StepOutcome] = {}

    async def run(self) -> dict[Address, StepOutcome]:
        """Start every step once its dependencies ended; return when all have ended."""
        try:
            async with asyncio.TaskGroup() as group:
                while len(self._outcomes) < len(self._steps):
                    await self._slots.acquire()
                    step = await self._next_ready()
                    if step is None:
                        self._slots.release()
                        break
                    self._start_or_settle(step, group)
        except BaseExceptionGroup as group_error:  # a step died of something not mpctl's own
            raise _first_cause(group_error) from None
        return self._outcomes

    async def _next_ready(self) -> Step | None:
        """The ready step earliest in the plan (above parallelism 1, a client create first),
        waiting for a running step to end if needed."""
        while not self._ready:
            if len(self._outcomes) == len(self._steps):
                return None
            self._changed.clear()
            await self._changed.wait()
        return self._steps[self._order[heapq.heappop(self._ready)[1]]]

    def _start_or_settle(self, step: Step, group: asyncio.TaskGroup) -> None:
        """With a slot held: start the step, or end it at once when it must not run."""
        outcome = self._not_started(step)
        if outcome is not None:
            self._slots.release()
            self._finish(step, outcome)
            return
        self._events.step_started(step)
        group.create_task(self._run(step), name=f"apply {step.address}")

    def _not_started(self, step: Step) -> StepOutcome | None:
        """Why `step` does not run (stop requested, held back, a dependency broken), if so."""
        address = str(step.address)
        if self._ctx.stop_requested():
            return StepOutcome(address, Status.SKIPPED, message="not started: apply stopped")
        if step.blocked:
            reason = self._held.get(step.resource, "refused by the plan")
            return StepOutcome(address, Status.HELD, message=f"held back: {reason}")
        failed_first = sorted(set(step.depends_on) & self._broken)
        if failed_first:
            waits = ", ".join(str(dependency) for dependency in failed_first)
            return StepOutcome(address, Status.SKIPPED, message=f"waits for {waits}")
        return None

    async def _run(self, step: Step) -> None:
        """The step's own task: its context names the step for watchers (`STEP_IN_FLIGHT`)."""
        STEP_IN_FLIGHT.set(str(step.address))
        try:
            outcome = await _outcome_of(step, self._ctx)
            self._finish(step, outcome)
        finally:
            self._slots.release()

    def _finish(self, step: Step, outcome: StepOutcome) -> None:
        """Record how `step` ended, tell the observer, and make its dependents ready."""
        if outcome.status in (Status.FAILED, Status.SKIPPED, Status.HELD):
            self._broken.add(step.address)
        self._outcomes[step.address] = outcome
        self._events.step_finished(step, outcome)
        for dependent in self._dependents[step.address]:
            self._waiting[dependent] -= 1
            if self._waiting[dependent] == 0:
                heapq.heappush(self._ready, self._rank[dependent])
        self._changed.set()


def _first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception in `group` that is not a cancellation (the one that stopped it)."""
    for found in group.exceptions:
        if isinstance(found, BaseExceptionGroup):
            return _first_cause(found)
        if not isinstance(found, asyncio.CancelledError):
            return found
    return group.exceptions[0]


def _held_reasons(plan: Plan) -> dict[Address, str]:
    """Client or scope → the first error that holds its steps back."""
    held = held_resources(plan.diagnostics)
    return {resource: f"{found.code}: {found.message}" for resource, found in held.items()}


async def _outcome_of(step: Step, ctx: ApplyContext) -> StepOutcome:
    """Run the step's executor; mpctl's own errors become a failed outcome."""
    try:
        writes = await _execute(step, ctx)
    except MpctlError as exc:
        return _failure(step, exc)
    status = Status.DONE if writes else Status.UNCHANGED
    return StepOutcome(str(step.address), status, writes=writes)


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
