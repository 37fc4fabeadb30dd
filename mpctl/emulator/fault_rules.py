"""Fault rules: which requests get latency, 5xx, 429, a dropped connection or a lost write.

Owns the rule model, request matching, and the seeded draw that makes every decision
reproducible (the n-th matching request of a rule always gets the same outcome for a given
seed). It must not touch the network; `faults` applies the decisions to ASGI traffic.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from mpctl.emulator.journal import JournaledModel

FaultKind = Literal["latency", "error", "rate_limit", "drop", "lost_write"]


class FaultRule(JournaledModel):
    """One fault. `path` is a shell-style glob over the request path (`*` also matches `/`)."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    path: str = "*"
    methods: list[str] = Field(default_factory=list, description="Empty: every method.")
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    status: int = Field(default=503, ge=500, le=599)
    retry_after: int = Field(default=1, ge=0)
    max_hits: int | None = Field(default=None, ge=1)
    seen: int = Field(default=0, ge=0, description="Matching requests so far (bookkeeping).")
    hits: int = Field(default=0, ge=0, description="Times the fault fired (bookkeeping).")

    @field_validator("methods")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return sorted({method.upper() for method in value})

    def matches(self, method: str, path: str) -> bool:
        """True when this rule applies to the request."""
        if self.methods and method.upper() not in self.methods:
            return False
        return fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request: added latency, then at most one outcome rule."""

    latency_ms: int = 0
    outcome: FaultRule | None = None


def seeded_draw(seed: int, rule_index: int, occurrence: int) -> float:
    """A reproducible number in [0, 1) for the `occurrence`-th match of rule `rule_index`."""
    digest = hashlib.sha256(f"{seed}:{rule_index}:{occurrence}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def decide(rules: list[FaultRule], seed: int, method: str, path: str) -> FaultDecision:
    """Count the request against every matching rule and decide its faults (mutates counters)."""
    latency = 0
    outcome: FaultRule | None = None
    for index, rule in enumerate(rules):
        if not rule.matches(method, path):
            continue
        rule.seen += 1
        if rule.max_hits is not None and rule.hits >= rule.max_hits:
            continue
        if seeded_draw(seed, index, rule.seen) >= rule.probability:
            continue
        if rule.kind == "latency":
            rule.hits += 1
            latency += rule.latency_ms
        elif outcome is None:
            rule.hits += 1
            outcome = rule
    return FaultDecision(latency_ms=latency, outcome=outcome)


def any_rule_matches(rules: list[FaultRule], method: str, path: str) -> bool:
    """Cheap pre-check so requests without faults never need a state write."""
    return any(rule.matches(method, path) for rule in rules)
