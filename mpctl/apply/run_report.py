"""The document `mpctl apply --format json` prints: every step of the plan, how it ended, which
phases it went through, and the run's totals.

Owns the pydantic model (`ApplyRunReport`, format_version 1), `build_run_report` (plan +
outcomes + phases → document, steps in plan order whatever order they finished in) and
`apply_report_schema`, the JSON Schema published in `schemas/`. Also owns the counting the
human summary shares: a key rotation is a promote that replaced a current key (its step went
through `grace`), a first key is a promote with no key before it. Must not print or do I/O;
messages pass through `mpctl.redaction` so nothing secret reaches the document.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mpctl.apply.events import Phase
from mpctl.apply.report import Status, StepOutcome
from mpctl.plan import Action, Address, Plan, Step, StepKind
from mpctl.redaction import redact_text

FORMAT_VERSION: Literal["1"] = "1"
"""Bumped for any change a consumer of `apply --format json` must handle."""
SCHEMA_FILE = "apply-report.schema.json"


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepResult(_Document):
    """One plan step as this run left it."""

    address: str = Field(description="The step's address, e.g. 'client/billing/key'")
    kind: StepKind
    action: Action
    outcome: Status | None = Field(
        description="How the step ended; null when it never started (the run was interrupted)"
    )
    phases: tuple[Phase, ...] = Field(
        default=(),
        description="Key steps: the phases completed, in order ('grace': the replaced key "
        "stays registered until its grace ends)",
    )
    writes: int = Field(default=0, ge=0)
    message: str = Field(default="", description="For people; never holds secrets")
    safe_to_rerun: bool = True


class RunTotals(_Document):
    """Counts over the steps."""

    steps: int = Field(ge=0)
    done: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(ge=0)
    held: int = Field(ge=0, description="Held back by the plan's errors")
    not_started: int = Field(ge=0)
    writes: int = Field(ge=0)
    key_rotations: int = Field(ge=0, description="Promotes that replaced a current key")
    first_keys: int = Field(ge=0, description="Promotes of a client's first key")


class ApplyRunReport(_Document):
    """What one `mpctl apply` did, as `--format json` prints it."""

    format_version: Literal["1"] = FORMAT_VERSION
    env: str
    ok: bool = Field(description="The run succeeded: exit_code is 0")
    exit_code: int = Field(description="mpctl's exit code: 0 done, 1 failures, 130 interrupted")
    interrupted: bool = False
    steps: tuple[StepResult, ...]
    totals: RunTotals


def apply_report_schema() -> dict[str, Any]:
    """The JSON Schema of `mpctl apply --format json`'s document."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://mpctl.dev/schemas/{SCHEMA_FILE}",
        **ApplyRunReport.model_json_schema(mode="serialization"),
        "title": "mpctl apply report (apply --format json)",
    }


def completed_phases(started: Sequence[Phase], outcome: StepOutcome | None) -> tuple[Phase, ...]:
    """The phases a step finished: all it started, but the last one when the step failed or
    never ended (that phase is where it stopped)."""
    if outcome is not None and outcome.status in (Status.DONE, Status.UNCHANGED):
        return tuple(started)
    return tuple(started[:-1])


def is_rotation(phases: Sequence[Phase], status: Status | None) -> bool:
    """A rotation of an existing current key finished: it promoted and left a grace."""
    return status is Status.DONE and Phase.GRACE in phases


def is_first_key(phases: Sequence[Phase], status: Status | None) -> bool:
    """A client's first key went current (a promote that replaced nothing)."""
    return status is Status.DONE and Phase.PROMOTE in phases and Phase.GRACE not in phases


def build_run_report(
    plan: Plan,
    outcomes: Mapping[Address, StepOutcome],
    phases: Mapping[Address, Sequence[Phase]],
    *,
    exit_code: int,
    interrupted: bool = False,
    started: Collection[Address] = (),
) -> ApplyRunReport:
    """The document for `plan` after a run that ended these steps, in plan order. In an
    interrupted run, a step that never `started` has no outcome (`null`), whatever the engine
    recorded for it, so `not_started` counts what the stop left undone."""
    steps = tuple(
        _step_result(
            step,
            _outcome(outcomes.get(step.address), step.address, interrupted, started),
            phases.get(step.address, ()),
        )
        for step in plan.steps
    )
    totals = _totals(steps)
    return ApplyRunReport(
        env=plan.env_name,
        ok=exit_code == 0,
        exit_code=exit_code,
        interrupted=interrupted,
        steps=steps,
        totals=totals,
    )


def _outcome(
    outcome: StepOutcome | None,
    address: Address,
    interrupted: bool,
    started: Collection[Address],
) -> StepOutcome | None:
    if interrupted and address not in started and outcome is not None:
        return outcome if outcome.status is not Status.SKIPPED else None
    return outcome


def _step_result(step: Step, outcome: StepOutcome | None, started: Sequence[Phase]) -> StepResult:
    return StepResult(
        address=str(step.address),
        kind=step.kind,
        action=step.action,
        outcome=outcome.status if outcome is not None else None,
        phases=completed_phases(started, outcome),
        writes=outcome.writes if outcome is not None else 0,
        message=redact_text(outcome.message) if outcome is not None else "",
        safe_to_rerun=outcome.safe_to_rerun if outcome is not None else True,
    )


def _totals(steps: Sequence[StepResult]) -> RunTotals:
    def count(status: Status | None) -> int:
        return sum(1 for s in steps if s.outcome is status)

    return RunTotals(
        steps=len(steps),
        done=count(Status.DONE),
        unchanged=count(Status.UNCHANGED),
        failed=count(Status.FAILED),
        skipped=count(Status.SKIPPED),
        held=count(Status.HELD),
        not_started=count(None),
        writes=sum(s.writes for s in steps),
        key_rotations=sum(1 for s in steps if is_rotation(s.phases, s.outcome)),
        first_keys=sum(1 for s in steps if is_first_key(s.phases, s.outcome)),
    )
