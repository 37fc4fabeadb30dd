"""What apply tells the outside world while it runs: an observer seam, no printing here.

The CLI shows progress through it; tests record it. `NullObserver` ignores everything.
"""

from __future__ import annotations

from typing import Protocol

from mpctl.apply.report import StepOutcome
from mpctl.plan import Step


class ApplyObserver(Protocol):
    def step_started(self, step: Step) -> None: ...

    def step_finished(self, step: Step, outcome: StepOutcome) -> None: ...


class NullObserver:
    """Observes nothing."""

    def step_started(self, step: Step) -> None:
        del step

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        del step, outcome
