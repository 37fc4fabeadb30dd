"""What an apply did, step by step: the value the CLI summarises and tests assert on.

Owns `StepOutcome` and `ApplyReport`. Messages are for people and never hold secrets (errors
reaching here are mpctl's own, already redacted). Must not print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    DONE = "done"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"
    HELD = "held back"


@dataclass(frozen=True)
class StepOutcome:
    """The result of one plan step."""

    address: str
    status: Status
    writes: int = 0
    message: str = ""
    safe_to_rerun: bool = True


@dataclass
class ApplyReport:
    """Every step's outcome, in plan order."""

    outcomes: list[StepOutcome] = field(default_factory=list)

    def add(self, outcome: StepOutcome) -> None:
        self.outcomes.append(outcome)

    @property
    def writes(self) -> int:
        return sum(o.writes for o in self.outcomes)

    @property
    def failed(self) -> list[StepOutcome]:
        return [o for o in self.outcomes if o.status is Status.FAILED]

    @property
    def skipped(self) -> list[StepOutcome]:
        return [o for o in self.outcomes if o.status is Status.SKIPPED]

    @property
    def held(self) -> list[StepOutcome]:
        return [o for o in self.outcomes if o.status is Status.HELD]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped and not self.held

    @property
    def safe_to_rerun(self) -> bool:
        return all(o.safe_to_rerun for o in self.failed)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status is status)
