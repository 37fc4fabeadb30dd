"""What `mpctl apply` shows while it runs and when it ends: a line per key phase as it begins
(stage → register → test → promote → grace → retire), a line per finished step, a progress
bar for many steps on a terminal, and the closing summary.

Owns `ApplyProgress` (the CLI's observer of the engine and the rotation: remembers what started,
which phases ran and how each step ended, and reports in plan order whatever the finish order)
and the two displays: `LiveDisplay` (a terminal, not CI: rich bar, coloured marks) and
`PlainDisplay` (CI logs, pipes, files: plain lines, no escape codes at all). Must not decide
exit codes or what apply does; prints only through the consoles of `mpctl.cli.console`, and
never secrets (messages pass through `mpctl.redaction`).
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from mpctl.apply import (
    ApplyReport,
    ApplyRunReport,
    Phase,
    Status,
    StepOutcome,
    build_run_report,
    completed_phases,
    is_first_key,
    is_rotation,
)
from mpctl.cli import console
from mpctl.plan import Address, KeyStep, Plan, Step
from mpctl.redaction import redact_text

BAR_MIN_STEPS = 5
"""A plan with at least this many steps gets a progress bar on a terminal."""

STATUS_MARK = {
    Status.DONE: "✓",
    Status.UNCHANGED: "=",
    Status.FAILED: "✗",
    Status.SKIPPED: "-",
    Status.HELD: "!",
}
_MARK_STYLE = {
    Status.DONE: "green",
    Status.UNCHANGED: "",
    Status.FAILED: "red",
    Status.SKIPPED: "dim",
    Status.HELD: "yellow",
}


def interactive(target: Console) -> bool:
    """True when `target` (and stderr, where prompts and warnings go) is a terminal a person
    watches: not CI (`CI` set and not false), not TERM=dumb."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return target.is_terminal and console.stderr().is_terminal


def phase_line(step: Step, phase: Phase, detail: str) -> str:
    line = f"  → {step.address}: {phase}"
    return f"{line} {redact_text(detail)}" if detail else line


def outcome_line(outcome: StepOutcome) -> str:
    line = f"  {STATUS_MARK[outcome.status]} {outcome.address}"
    return f"{line}: {redact_text(outcome.message)}" if outcome.message else line


class Display(Protocol):
    def begin(self, plan: Plan) -> None: ...

    def phase(self, step: Step, phase: Phase, detail: str) -> None: ...

    def finished(self, outcome: StepOutcome) -> None: ...

    def end(self) -> None: ...


class PlainDisplay:
    """One plain line per event on `target`: CI logs and pipes (no styles, no bar)."""

    def __init__(self, target: Console) -> None:
        self._target = target

    def begin(self, plan: Plan) -> None:
        del plan

    def phase(self, step: Step, phase: Phase, detail: str) -> None:
        self._target.print(phase_line(step, phase, detail), markup=False, highlight=False)

    def finished(self, outcome: StepOutcome) -> None:
        self._target.print(outcome_line(outcome), markup=False, highlight=False)

    def end(self) -> None:
        return None


class LiveDisplay:
    """A terminal: the same lines, coloured marks, and for many steps a transient rich bar
    below them (what runs now, steps finished of all)."""

    def __init__(self, target: Console) -> None:
        self._target = target
        self._bar: Progress | None = None
        self._task = TaskID(0)

    def begin(self, plan: Plan) -> None:
        if len(plan.steps) < BAR_MIN_STEPS:
            return
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._target,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=self._target is console.stdout(),  # warnings land above the bar
        )
        self._task = self._bar.add_task("applying", total=len(plan.steps))
        self._bar.start()

    def phase(self, step: Step, phase: Phase, detail: str) -> None:
        self._target.print(phase_line(step, phase, detail), markup=False, highlight=False)
        if self._bar is not None:
            self._bar.update(self._task, description=f"{step.address}: {phase}")

    def finished(self, outcome: StepOutcome) -> None:
        # a styled Text, not print(style=...): that style would also paint the bar below
        self._target.print(
            Text(outcome_line(outcome), style=_MARK_STYLE[outcome.status]), highlight=False
        )
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=outcome.address)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def display_for(target: Console) -> Display:
    """The live display on a watched terminal, plain lines anywhere else."""
    return LiveDisplay(target) if interactive(target) else PlainDisplay(target)


class ApplyProgress:
    """Observes one apply (an `ApplyObserver` and a `PhaseObserver`): shows each event on its
    display and remembers what started, the phases each step began, and how each ended."""

    def __init__(self, display: Display) -> None:
        self.display = display
        self.plan: Plan | None = None
        self.started: list[Address] = []
        self.outcomes: dict[Address, StepOutcome] = {}
        self.phases: dict[Address, list[Phase]] = {}

    def __enter__(self) -> ApplyProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.display.end()

    def begin(self, plan: Plan) -> None:
        """The plan is about to run (after any confirmation)."""
        self.plan = plan
        self.display.begin(plan)

    def step_started(self, step: Step) -> None:
        self.started.append(step.address)

    def phase_started(self, step: Step, phase: Phase, detail: str) -> None:
        self.phases.setdefault(step.address, []).append(phase)
        self.display.phase(step, phase, detail)

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        self.outcomes[step.address] = outcome
        self.display.finished(outcome)

    def report(self) -> ApplyReport:
        """The outcomes so far, in plan order (steps may finish in any order)."""
        report = ApplyReport()
        order = [step.address for step in self.plan.steps] if self.plan is not None else []
        for address in order:
            if address in self.outcomes:
                report.add(self.outcomes[address])
        return report

    def in_flight(self) -> list[Address]:
        """Steps that started and never finished (abandoned by a second interrupt)."""
        return [address for address in self.started if address not in self.outcomes]

    def key_counts(self) -> tuple[int, int]:
        """(key rotations, first keys) this run completed: a rotation replaced a current key."""
        rotations = first = 0
        for address, started in self.phases.items():
            outcome = self.outcomes.get(address)
            status = outcome.status if outcome is not None else None
            done = completed_phases(started, outcome)
            rotations += is_rotation(done, status)
            first += is_first_key(done, status)
        return rotations, first

    def has_key_steps(self) -> bool:
        return self.plan is not None and any(isinstance(s, KeyStep) for s in self.plan.steps)

    def run_report(self, *, interrupted: bool, exit_code: int) -> ApplyRunReport:
        """The `--format json` document of this run (the plan must be known)."""
        assert self.plan is not None
        return build_run_report(
            self.plan,
            self.outcomes,
            self.phases,
            interrupted=interrupted,
            exit_code=exit_code,
            started=frozenset(self.started),
        )


def print_summary(progress: ApplyProgress, out: Console) -> None:
    """The closing lines of a run that finished: counts and writes on `out`, what went wrong
    and what to do next on stderr."""
    report = progress.report()
    counts = ", ".join(
        f"{report.count(status)} {status}" for status in Status if report.count(status)
    )
    plain = not interactive(out)
    if report.ok:
        out.print(
            f"Apply complete: {counts}; {report.writes} write(s).", style=_style("green", plain)
        )
    else:
        console.error(f"Apply incomplete: {counts}; {report.writes} write(s).")
    _print_key_counts(progress, out)
    if report.ok:
        return
    if report.held:
        held = ", ".join(o.address for o in report.held)
        console.stderr().print(
            f"  Held back by the plan's errors (everything else ran): {held}. Fix those "
            "errors (see the diagnostics), then apply again."
        )
    _print_rerun(report)


def print_interrupted(progress: ApplyProgress, plan: Plan) -> None:
    """What an interrupted run did and left undone, on stderr."""
    report = progress.report()
    done = report.count(Status.DONE) + report.count(Status.UNCHANGED)
    started = set(progress.started)
    not_started = sum(1 for step in plan.steps if step.address not in started)
    console.error(
        f"Apply interrupted: {done} done, {len(report.failed)} failed, "
        f"{not_started} not started; {report.writes} write(s)."
    )
    for address in progress.in_flight():
        console.stderr().print(
            f"  Abandoned in flight: {address} (the next plan shows how far it got)."
        )
    _print_rerun(report)


def _print_key_counts(progress: ApplyProgress, out: Console) -> None:
    """'Key rotations: N' counts replaced current keys only; a client's first key is not one."""
    if not progress.has_key_steps():
        return
    rotations, first = progress.key_counts()
    line = f"Key rotations: {rotations}."
    if first:
        line += f" First keys: {first}."
    out.print(line)


def _print_rerun(report: ApplyReport) -> None:
    if report.safe_to_rerun:
        console.stderr().print("  Safe to re-run: `mpctl apply` continues where this stopped.")
    else:
        console.stderr().print("  Fix the failures above before running apply again.")


def _style(style: str, plain: bool) -> str | None:
    return None if plain else style
