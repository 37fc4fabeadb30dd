"""What apply tells the outside world while it runs: observer seams, no printing here.

The CLI shows progress through them; tests record them. `ApplyObserver` hears each step start
and end (the engine calls it). `PhaseObserver` hears each phase of a key step begin (stage,
register, test, promote, grace, retire, revoke): the rotation protocol announces them through
`phase_started`, which reaches the observer installed with `observing_phases` for the current
task and every task it starts (a context variable, so concurrent steps need no plumbing).
`NullObserver` ignores everything. Must not print, and must not let an observer change what
apply does: observers only hear.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Protocol

from mpctl.apply.report import StepOutcome
from mpctl.plan import KeyPhase, Step


class Phase(StrEnum):
    """A visible phase of a key step: the plan's `KeyPhase`s, plus `grace`, the wait a
    rotation leaves behind (the replaced key stays registered until its grace ends)."""

    STAGE = "stage"
    REGISTER = "register"
    TEST = "test"
    PROMOTE = "promote"
    GRACE = "grace"
    RETIRE = "retire"
    REVOKE = "revoke"

    @classmethod
    def of(cls, phase: KeyPhase) -> Phase:
        return cls(phase.value)


class ApplyObserver(Protocol):
    def step_started(self, step: Step) -> None: ...

    def step_finished(self, step: Step, outcome: StepOutcome) -> None: ...


class PhaseObserver(Protocol):
    def phase_started(self, step: Step, phase: Phase, detail: str) -> None:
        """`phase` of `step` begins now; `detail` is for people (no secrets), often empty."""


class NullObserver:
    """Observes nothing."""

    def step_started(self, step: Step) -> None:
        del step

    def phase_started(self, step: Step, phase: Phase, detail: str) -> None:
        del step, phase, detail

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        del step, outcome


_PHASE_OBSERVER: ContextVar[PhaseObserver | None] = ContextVar("mpctl_phase_observer", default=None)


@contextmanager
def observing_phases(observer: PhaseObserver) -> Iterator[None]:
    """Within this block (and the tasks started in it) `phase_started` reaches `observer`."""
    token = _PHASE_OBSERVER.set(observer)
    try:
        yield
    finally:
        _PHASE_OBSERVER.reset(token)


def phase_started(step: Step, phase: Phase, detail: str = "") -> None:
    """Announce a phase to the observer installed for this task, if any."""
    observer = _PHASE_OBSERVER.get()
    if observer is not None:
        observer.phase_started(step, phase, detail)
