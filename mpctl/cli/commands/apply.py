"""`mpctl apply`: run a saved plan (or plan now), under the environment lock.

Asks for confirmation on a terminal unless --auto-approve; refuses a stale or foreign plan
with zero writes. Exit 0 when every step succeeded, 1 otherwise (with "safe to re-run" when it
is). Keys, tokens and grants never reach the output.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from mpctl.apply import (
    ApplyContext,
    ApplyReport,
    EnvironmentLock,
    Status,
    StepOutcome,
    apply_plan,
    open_sinks,
)
from mpctl.apply.observe import observe
from mpctl.cli import clock, console
from mpctl.cli.commands.plan import plan_from, show_plan
from mpctl.cli.environment import Workspace, connect, open_workspace
from mpctl.cli.keytest import TokenKeyTester
from mpctl.cli.options import (
    DEFAULT_MANIFESTS,
    AllowDeleteOption,
    AllowProtectedOption,
    AllowReplaceOption,
    EnvOption,
    ManifestsOption,
    RotateOption,
    TargetOption,
)
from mpctl.cli.output import read_plan
from mpctl.errors import StalePlanError, UserError
from mpctl.plan import Plan, PlanOptions, Step
from mpctl.remote.connect import open_http

_STATUS_MARK = {Status.DONE: "✓", Status.UNCHANGED: "=", Status.FAILED: "✗", Status.SKIPPED: "-"}


def apply(
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Apply exactly this saved plan.")
    ] = None,
    auto_approve: Annotated[bool, typer.Option(help="Do not ask for confirmation.")] = False,
    target: TargetOption = None,
    rotate: RotateOption = None,
    allow_delete: AllowDeleteOption = False,
    allow_replace: AllowReplaceOption = False,
    allow_protected: AllowProtectedOption = False,
    force_unlock: Annotated[
        str | None, typer.Option(help="Break the environment lock with this id, then stop.")
    ] = None,
) -> int:
    """Make Digdir match the manifests: the saved plan, or a fresh one."""
    workspace = open_workspace(manifests, env)
    lock = EnvironmentLock(workspace.directory / ".mpctl" / workspace.env_name / "apply.lock")
    if force_unlock is not None:
        lock.force_unlock(force_unlock)
        console.success(f"Released the {workspace.env_name} lock {force_unlock}.")
        return 0
    options = PlanOptions(
        targets=tuple(target or ()),
        rotate=tuple(rotate or ()),
        allow_delete=allow_delete,
        allow_replace=allow_replace,
        allow_protected=allow_protected,
    )
    saved = read_plan(plan_file) if plan_file else None
    if saved is not None:
        _check_saved(saved, workspace)
    with lock.held(f"mpctl apply -e {workspace.env_name}"):
        report = asyncio.run(run_apply(workspace, saved, options, auto_approve=auto_approve))
    if report is None:
        return 0
    _print_report(report)
    return 0 if report.ok else 1


def _check_saved(saved: Plan, workspace: Workspace) -> None:
    if saved.manifests_fingerprint != workspace.fingerprint:
        raise StalePlanError(
            "the manifests changed since the plan was made; nothing was written",
            hint="plan again from the commit you are applying",
        )


async def run_apply(
    workspace: Workspace, saved: Plan | None, options: PlanOptions, *, auto_approve: bool
) -> ApplyReport | None:
    """Plan (or take the saved plan), confirm, and apply it. None when nothing was to do."""
    environment = workspace.environment
    async with (
        connect(workspace, access="write") as (remote, transport),
        open_http(transport=transport) as http,
    ):
        sinks = open_sinks(workspace.desired, workspace.directory)
        ctx = ApplyContext(
            api=remote,
            desired=workspace.desired,
            sinks=sinks,
            tester=TokenKeyTester(
                http, issuer=environment.issuer, token_endpoint=str(environment.token_endpoint)
            ),
            now=clock.now,
            sleep=asyncio.sleep,
        )
        plan = saved or plan_from(
            workspace, await observe(remote, workspace.desired, sinks), options
        )
        if saved is None:
            show_plan(plan, "text")
        if not plan.has_changes:
            return None
        _confirm(plan, auto_approve)
        with _stop_on_sigterm() as stopping:
            ctx.stop_requested = stopping.is_set
            return await apply_plan(plan, ctx, observer=_Progress())


@contextmanager
def _stop_on_sigterm() -> Iterator[asyncio.Event]:
    """SIGTERM (a cancelled CI job): finish the step in flight, start no new one."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        console.warning("SIGTERM: finishing the step in flight, then stopping.")
        stopping.set()

    loop.add_signal_handler(signal.SIGTERM, request_stop)
    try:
        yield stopping
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _confirm(plan: Plan, auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise UserError(
            "refusing to apply without confirmation", hint="pass --auto-approve in automation"
        )
    if not typer.confirm(f"Apply {len(plan.steps)} step(s) to {plan.env_name}?"):
        raise UserError("apply cancelled; nothing was written")


class _Progress:
    """Prints one line per finished step."""

    def step_started(self, step: Step) -> None:
        del step

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        del step
        line = f"  {_STATUS_MARK[outcome.status]} {outcome.address}"
        if outcome.message:
            line += f": {outcome.message}"
        console.stdout().print(line)


def _print_report(report: ApplyReport) -> None:
    counts = ", ".join(
        f"{report.count(status)} {status}" for status in Status if report.count(status)
    )
    if report.ok:
        console.success(f"Apply complete: {counts}; {report.writes} write(s).")
        return
    console.error(f"Apply incomplete: {counts}; {report.writes} write(s).")
    if report.safe_to_rerun:
        console.stderr().print("  Safe to re-run: `mpctl apply` continues where this stopped.")
    else:
        console.stderr().print("  Fix the failures above before running apply again.")
