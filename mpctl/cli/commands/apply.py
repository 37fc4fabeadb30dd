"""`mpctl apply`: run a saved plan (or plan now), under the environment lock.

Shows the plan (a saved one too, when it asks), then asks for confirmation on the terminal
(stderr and stdin, never stdout) unless --auto-approve; refuses a stale or foreign plan with
zero writes. While it runs, each key phase and each finished step is shown as it happens
(`mpctl.cli.progress`: a bar on a terminal, plain lines in CI); `--format json` prints one
document at the end instead (`mpctl.apply.run_report`), everything else going to stderr.
Exit 0 when every step succeeded, 1 otherwise (with "safe to re-run" when it is). Every run
that takes the lock leaves an audit trail (`mpctl.apply.audit`, JSON Lines in
`.mpctl/<env>/audit.jsonl` unless --audit-log or --no-audit say otherwise). Keys, tokens and
grants never reach the output or the trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import click
import rich.console
import typer

from mpctl.apply import (
    ApplyContext,
    ApplyObserver,
    ApplySettings,
    AuditLog,
    LockInfo,
    StepOutcome,
    apply_plan,
    check_allowed,
    identify_run,
    observing_phases,
    open_audit_log,
)
from mpctl.cli import clock, console, logs
from mpctl.cli.commands.plan import plan_from, show_plan
from mpctl.cli.environment import Workspace, connect, open_workspace
from mpctl.cli.interrupts import EXIT_INTERRUPTED, InterruptError, Interrupts
from mpctl.cli.keytest import TokenKeyTester
from mpctl.cli.locking import client_listing_max_age, listing_advice, open_lock
from mpctl.cli.options import (
    DEFAULT_MANIFESTS,
    AllowDeleteOption,
    AllowProtectedOption,
    AllowReplaceOption,
    EnvOption,
    ManifestsOption,
    RemoveForeignKidsOption,
    RevokeOption,
    RevokePreviousOption,
    RotateOption,
    TargetOption,
)
from mpctl.cli.output import read_plan
from mpctl.cli.progress import ApplyProgress, display_for, print_interrupted, print_summary
from mpctl.errors import MpctlError, StalePlanError, UserError
from mpctl.plan import (
    Action,
    ClientStep,
    Plan,
    PlanOptions,
    Step,
    check_identity,
    project_identity,
)
from mpctl.remote import DEFAULT_CONCURRENCY, open_http, watch_calls
from mpctl.render import build_document
from mpctl.state import Snapshot, observe

ApplyFormat = Literal["text", "json"]
AUDIT_FILE = "audit.jsonl"
"""The audit trail's default name, in `.mpctl/<env>/` beside the environment lock."""


def apply(
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Apply exactly this saved plan.")
    ] = None,
    auto_approve: Annotated[bool, typer.Option(help="Do not ask for confirmation.")] = False,
    target: TargetOption = None,
    rotate: RotateOption = None,
    revoke: RevokeOption = None,
    revoke_previous: RevokePreviousOption = False,
    remove_foreign_kids: RemoveForeignKidsOption = None,
    allow_delete: AllowDeleteOption = False,
    allow_replace: AllowReplaceOption = False,
    allow_protected: AllowProtectedOption = False,
    force_unlock: Annotated[
        str | None, typer.Option(help="Break the environment lock with this id, then stop.")
    ] = None,
    audit_log: Annotated[
        Path | None,
        typer.Option(
            "--audit-log",
            help="Append the audit trail (JSON Lines: the run's start, every step, its end) "
            "to this file. [default: .mpctl/<env>/audit.jsonl beside the lock]",
        ),
    ] = None,
    audit: Annotated[
        bool, typer.Option("--audit/--no-audit", help="Write the audit trail (on by default).")
    ] = True,
    parallelism: Annotated[
        int,
        typer.Option(
            min=1,
            help="Steps in flight at once (as plan's reads); a client's steps stay in order, "
            "deletes wait for creates; 1 runs them one at a time in plan order.",
        ),
    ] = DEFAULT_CONCURRENCY,
    output: Annotated[
        ApplyFormat,
        typer.Option(
            "--format",
            help="text: the plan, each phase and step as it happens, a summary. json: one "
            "document on stdout at the end (schemas/apply-report.schema.json), progress on "
            "stderr; needs --auto-approve.",
        ),
    ] = "text",
) -> int:
    """Make Digdir match the manifests: the saved plan, or a fresh one."""
    workspace = open_workspace(manifests, env)
    lock = open_lock(workspace, _took_over)
    if force_unlock is not None:
        lock.force_unlock(force_unlock)
        console.success(f"Released the {workspace.env_name} lock {force_unlock}.")
        return 0
    if output == "json" and not auto_approve:
        raise UserError(
            "--format json cannot ask for confirmation; nothing was written",
            hint="review the plan first (`mpctl plan --out FILE`), then "
            "`mpctl apply --plan FILE --auto-approve --format json`",
        )
    options = PlanOptions(
        targets=tuple(target or ()),
        rotate=tuple(rotate or ()),
        revoke=tuple(revoke or ()),
        revoke_previous=revoke_previous,
        remove_foreign_kids=tuple(remove_foreign_kids or ()),
        allow_delete=allow_delete,
        allow_replace=allow_replace,
        allow_protected=allow_protected,
    )
    if plan_file is not None:
        _refuse_shaping_a_saved_plan(options)
    saved = read_plan(plan_file) if plan_file else None
    if saved is not None:
        _check_saved(saved, workspace, options)
    trail_path = (audit_log or default_audit_log(workspace)) if audit else None
    with (
        lock.held(f"mpctl apply -e {workspace.env_name}"),
        audit_trail(workspace, trail_path) as trail,
    ):
        run = asyncio.run(
            run_apply(
                workspace,
                saved,
                options,
                auto_approve=auto_approve,
                audit=trail,
                parallelism=parallelism,
                output=output,
            )
        )
    return _audit_checked(_finish(run, output), trail)


def default_audit_log(workspace: Workspace) -> Path:
    """`.mpctl/<env>/audit.jsonl` beside mpctl.yaml (and the local lock)."""
    return workspace.directory / ".mpctl" / workspace.env_name / AUDIT_FILE


@contextlib.contextmanager
def audit_trail(
    workspace: Workspace, path: Path | None, *, pr: int | None = None
) -> Iterator[AuditLog | None]:
    """The audit log of one apply of `workspace` appending to `path` (None: no trail). `pr`
    names the pull request when the caller knows it better than GITHUB_REF does."""
    if path is None:
        yield None
        return
    identity = identify_run(
        env=workspace.env_name,
        project=project_identity(workspace.desired),
        directory=workspace.directory,
        environ=os.environ,
        pr=pr,
    )
    try:
        trail = open_audit_log(path, identity, now=clock.now)
    except OSError as exc:
        raise UserError(
            f"cannot open the audit log {path}: {exc.strerror or exc}; nothing was written",
            hint="pass --audit-log PATH to write it elsewhere, or --no-audit",
        ) from None
    try:
        yield trail
    finally:
        trail.close()


def _audit_checked(code: int, trail: AuditLog | None) -> int:
    """`code`, or 1 when the audit trail could not be written in full (the apply itself ran)."""
    if trail is None or trail.failure is None:
        return code
    console.error(trail.failure, "the apply ran, but its audit trail is incomplete")
    return code or 1


def _took_over(holder: LockInfo) -> None:
    console.warning(f"Took over the environment lock of a run that is gone: {holder.describe()}.")


def _refuse_shaping_a_saved_plan(options: PlanOptions) -> None:
    """A saved plan is applied exactly as it was made: flags that would shape a fresh plan
    (`--target`, `--rotate`, `--revoke`, …) are refused with it, never silently ignored."""
    given = [
        flag
        for flag, value in (
            ("--target", options.targets),
            ("--rotate", options.rotate),
            ("--revoke", options.revoke),
            ("--revoke-previous", options.revoke_previous),
            ("--remove-foreign-kids", options.remove_foreign_kids),
        )
        if value
    ]
    if given:
        raise UserError(
            f"{', '.join(given)} shape a fresh plan and cannot change a saved one; nothing was "
            "written",
            hint="make the plan with them (`mpctl plan --out FILE " + " ".join(given) + " …`), "
            "then `mpctl apply --plan FILE`",
        )


def _check_saved(saved: Plan, workspace: Workspace, given: PlanOptions) -> None:
    """Refuse a saved plan for another project or manifests, or one that asks for more than
    the command line allows: its allow flags must be given again, so an edited file cannot
    grant itself a delete."""
    check_identity(saved, workspace.desired)
    if saved.manifests_fingerprint != workspace.fingerprint:
        raise StalePlanError(
            "the manifests changed since the plan was made; nothing was written",
            hint="plan again from the commit you are applying",
        )
    check_allowed(saved, given.allows)  # early, before the lock; the engine checks again


@dataclass
class ApplyRun:
    """What one apply did: its plan, every step it started and finished, whether it stopped."""

    plan: Plan
    progress: ApplyProgress
    interrupted: bool = False
    """A signal stopped it (after the step in flight, or abandoning that step)."""


async def run_apply(
    workspace: Workspace,
    saved: Plan | None,
    options: PlanOptions,
    *,
    auto_approve: bool,
    audit: AuditLog | None = None,
    parallelism: int = DEFAULT_CONCURRENCY,
    output: ApplyFormat = "text",
) -> ApplyRun:
    """Plan (or take the saved plan), confirm, and apply it, with Terraform's interrupt rules.

    A failure or an interrupt before the first step started says that nothing was written.
    With `audit`, the run's start, every step and its end are recorded there, failures too.
    """
    progress = ApplyProgress(display_for(_progress_console(output)))
    if audit is not None:
        audit.run_started(saved.options if saved else options, saved=saved is not None)
    try:
        with progress:
            run = await _run_apply(
                workspace, saved, options, auto_approve, progress, audit, parallelism, output
            )
    except BaseException as exc:
        if audit is not None:
            stopped = isinstance(exc, InterruptError | KeyboardInterrupt)
            _record_end(audit, progress, interrupted=stopped, error=_reason(exc))
        raise
    if audit is not None:
        _record_end(audit, progress, interrupted=run.interrupted)
    return run


def _progress_console(output: ApplyFormat) -> rich.console.Console:
    """Where progress and the summary go: stdout, or stderr when stdout holds the document."""
    return console.stderr() if output == "json" else console.stdout()


def _record_end(
    audit: AuditLog, progress: ApplyProgress, *, interrupted: bool, error: str | None = None
) -> None:
    started = [str(address) for address in progress.started]
    audit.run_finished(
        progress.plan, progress.report(), started=started, interrupted=interrupted, error=error
    )


def _reason(exc: BaseException) -> str:
    """Why a run stopped, in mpctl's own (redacted) words; only the type of anything else."""
    return exc.message if isinstance(exc, MpctlError) else f"stopped by {type(exc).__name__}"


async def _run_apply(
    workspace: Workspace,
    saved: Plan | None,
    options: PlanOptions,
    auto_approve: bool,
    progress: ApplyProgress,
    audit: AuditLog | None,
    parallelism: int,
    output: ApplyFormat,
) -> ApplyRun:
    task = asyncio.current_task()
    assert task is not None
    interrupts = Interrupts(task, console.warning)
    with interrupts.installed():
        try:
            return await _plan_and_apply(
                workspace,
                saved,
                options,
                auto_approve,
                interrupts,
                progress,
                audit,
                parallelism,
                output,
            )
        except asyncio.CancelledError:
            if not interrupts.cancelled:
                raise
            task.uncancel()
            if progress.plan is None or not progress.started:
                raise InterruptError(_NOTHING_WRITTEN_INTERRUPTED) from None
            return ApplyRun(progress.plan, progress, interrupted=True)
        except MpctlError as exc:
            if progress.started or _NOTHING_WRITTEN in exc.message:
                raise
            raise FailedBeforeWritesError(exc) from exc


async def _plan_and_apply(
    workspace: Workspace,
    saved: Plan | None,
    options: PlanOptions,
    auto_approve: bool,
    interrupts: Interrupts,
    progress: ApplyProgress,
    audit: AuditLog | None,
    parallelism: int,
    output: ApplyFormat,
) -> ApplyRun:
    environment = workspace.environment
    concurrency = max(parallelism, DEFAULT_CONCURRENCY)
    async with (
        connect(workspace, access="write", concurrency=concurrency) as (remote, transport),
        open_http(transport=transport) as http,
    ):
        sinks = workspace.open_sinks(saved.sinks if saved is not None else None)
        if logs.requests_logged():
            watch_calls(http, logs.log_call)  # -v: the rotation's token tests too
        if audit is not None:
            remote.watch(audit.call_seen)
            watch_calls(http, audit.call_seen)  # the rotation's token tests
            sinks = audit.watch_sinks(sinks)
        ctx = ApplyContext(
            api=remote,
            env_name=workspace.env_name,
            sinks=sinks,
            tester=TokenKeyTester(
                http, issuer=environment.issuer, token_endpoint=str(environment.token_endpoint)
            ),
            now=clock.now,
            sleep=asyncio.sleep,
            allowed=options.allows,
            stop_requested=interrupts.stop_requested,
            parallelism=parallelism,
            rederive=None if saved is None else _rederive(workspace, saved),
            settings=ApplySettings(client_listing_max_age=client_listing_max_age(workspace)),
        )
        orgno = workspace.desired.organisation.orgno
        plan = saved or plan_from(
            workspace, await observe(remote, orgno=orgno, sinks=sinks), options
        )
        progress.plan = plan
        _show(plan, output, shown=saved is None or not auto_approve)
        if not plan.has_changes:
            return ApplyRun(plan, progress)
        advice = listing_advice(_client_creates(plan), ctx.settings.client_listing_max_age)
        if advice is not None:
            console.warning(advice)
        with interrupts.paused():
            _confirm(plan, auto_approve)
        interrupts.begin_writes()
        progress.begin(plan)
        with observing_phases(progress):
            await apply_plan(
                plan, ctx, observer=progress if audit is None else _Observers(audit, progress)
            )
        return ApplyRun(plan, progress, interrupted=interrupts.stop_requested())


def _client_creates(plan: Plan) -> int:
    """New clients only (`PlanSummary.create` counts scopes and grants too): each one lists."""
    return sum(1 for s in plan.steps if isinstance(s, ClientStep) and s.action is Action.CREATE)


def _rederive(workspace: Workspace, saved: Plan) -> Callable[[Snapshot], Plan]:
    """The plan these manifests call for against a snapshot, with the saved plan's options:
    a saved plan is applied only when it is exactly that (an edited file is refused)."""
    return lambda snapshot: plan_from(workspace, snapshot, saved.options)


def _show(plan: Plan, output: ApplyFormat, *, shown: bool) -> None:
    """The plan before anything runs: in full on stdout (a fresh plan, or a saved one that is
    about to be confirmed); with --format json only its summary line, on stderr."""
    if output == "json":
        console.stderr().print(build_document(plan).summary_line)
    elif shown:
        show_plan(plan, "text")


def _confirm(plan: Plan, auto_approve: bool) -> None:
    """Ask on the terminal: the question on stderr, the answer from stdin, so stdout (maybe a
    file) holds only the plan and the results."""
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise UserError(
            "refusing to apply without confirmation", hint="pass --auto-approve in automation"
        )
    try:
        confirmed = typer.confirm(f"Apply {len(plan.steps)} step(s) to {plan.env_name}?", err=True)
    except (click.exceptions.Abort, typer.Abort):
        raise InterruptError(
            "interrupted at the confirmation prompt; nothing was written"
        ) from None
    if not confirmed:
        raise UserError("apply cancelled; nothing was written")


class FailedBeforeWritesError(MpctlError):
    """A failure before apply's first step: it says that nothing was written (same exit code)."""

    def __init__(self, cause: MpctlError) -> None:
        super().__init__(f"{cause.message}; {_NOTHING_WRITTEN}; safe to re-run", hint=cause.hint)
        self.code = cause.code
        self.exit_code = cause.exit_code


_NOTHING_WRITTEN = "nothing was written"
_NOTHING_WRITTEN_INTERRUPTED = (
    "interrupted before the first step: nothing was written; safe to re-run"
)


class _Observers:
    """Each event to every observer in turn: the audit first, so a step's line is on disk
    before its progress line is printed."""

    def __init__(self, *observers: ApplyObserver) -> None:
        self._observers = observers

    def step_started(self, step: Step) -> None:
        for observer in self._observers:
            observer.step_started(step)

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        for observer in self._observers:
            observer.step_finished(step, outcome)


def _finish(run: ApplyRun, output: ApplyFormat) -> int:
    """Print the summary (and with json the document); the exit code: 0 done, 1 failures,
    130 interrupted."""
    code = _summarise(run, _progress_console(output))
    if output == "json":
        document = run.progress.run_report(interrupted=run.interrupted, exit_code=code)
        sys.stdout.write(document.model_dump_json(indent=2) + "\n")
        sys.stdout.flush()
    return code


def _summarise(run: ApplyRun, out: rich.console.Console) -> int:
    if not run.plan.has_changes:
        if run.plan.summary.errors:
            console.error(
                f"Nothing to apply, but the plan has {run.plan.summary.errors} error(s) "
                "holding changes back: fix them (see the diagnostics above)."
            )
            return 1
        if run.plan.has_drift:
            console.warning("Drift: Digdir differs in ways mpctl leaves alone (see the warnings).")
        return 0
    if run.interrupted:
        print_interrupted(run.progress, run.plan)
        return EXIT_INTERRUPTED
    print_summary(run.progress, out)
    return 0 if run.progress.report().ok else 1
