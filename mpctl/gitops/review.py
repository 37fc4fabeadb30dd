"""The plan reviewers saw against the plan made again on merge: the same work, or not.

Owns what "the same plan" means for apply-on-merge. Two plans match when they are for the same
project and environment and have the same steps: for every address the same kind, action,
client id, body, field changes (old and new values), key change (kid, phases, policy, token
test) and dependencies. Ignored, because they legitimately differ between the pull request's
run and the merge's without changing what apply does:

- the plan's `observed_fingerprint` and `manifests_fingerprint` (times in sink labels, other
  merged files that call for no step);
- a step's `reason` (text for people; it may name a time, such as when a grace ends);
- a step's `blocked` flag and the plan's diagnostics: whether a delete is held back depends on
  the approval labels read at each run, and that is checked on its own (`mpctl.gitops.
  approvals`); apply holds back whatever the fresh plan's errors name;
- the order of steps: it is derived from the dependencies, which are compared.

`step_digest` is a sha256 over exactly the compared content, so the digest hidden in the plan
comment identifies the reviewed work. Must not do I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mpctl.plan import Address, Plan, Step

_IGNORED_STEP_FIELDS = frozenset({"blocked", "reason"})


@dataclass(frozen=True)
class StepChange:
    """One address whose step differs: the reviewed step and the one called for now."""

    address: Address
    reviewed: Step
    now: Step
    fields: tuple[str, ...]
    """The compared fields that differ (`action`, `changes`, `body`, `key`, …)."""


@dataclass(frozen=True)
class PlanDifference:
    """How the plan called for now differs from the reviewed one; empty when they match."""

    appeared: tuple[Step, ...] = ()
    """Steps the reviewed plan did not have, in the fresh plan's order."""
    vanished: tuple[Step, ...] = ()
    """Reviewed steps no longer called for, in the reviewed plan's order."""
    changed: tuple[StepChange, ...] = ()
    identity: str | None = None
    """Set when the plans are for another project or environment (nothing else is compared)."""

    @property
    def matches(self) -> bool:
        return not (self.appeared or self.vanished or self.changed or self.identity)


def compare_plans(reviewed: Plan, now: Plan) -> PlanDifference:
    """The difference between the reviewed plan and the one called for now."""
    if (reviewed.project, reviewed.env_name) != (now.project, now.env_name):
        return PlanDifference(
            identity=f"the reviewed plan is for project {reviewed.project} environment "
            f"{reviewed.env_name}, not project {now.project} environment {now.env_name}"
        )
    before = {step.address: step for step in reviewed.steps}
    after = {step.address: step for step in now.steps}
    return PlanDifference(
        appeared=tuple(step for step in now.steps if step.address not in before),
        vanished=tuple(step for step in reviewed.steps if step.address not in after),
        changed=tuple(
            StepChange(address, before[address], step, fields)
            for address, step in after.items()
            if address in before and (fields := _differing_fields(before[address], step))
        ),
    )


def step_digest(plan: Plan) -> str:
    """`sha256:<hex>` of the plan's identity and compared step content, in address order."""
    content = {
        "project": plan.project,
        "env": plan.env_name,
        "steps": sorted((compared(step) for step in plan.steps), key=lambda s: s["address"]),
    }
    spelled = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(spelled.encode("utf-8")).hexdigest()


def compared(step: Step) -> dict[str, Any]:
    """What of a step two plans must agree on (JSON-shaped)."""
    dumped: dict[str, Any] = step.model_dump(mode="json", exclude=set(_IGNORED_STEP_FIELDS))
    return dumped


def _differing_fields(reviewed: Step, now: Step) -> tuple[str, ...]:
    before, after = compared(reviewed), compared(now)
    return tuple(
        sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    )
