"""Guards over planned steps: what needs an explicit allow before apply may run it.

Owns the rules: a `delete` needs `allow_delete`, a `replace` (an immutable field such as
`integration_type` changed) needs `allow_replace`, and on an environment marked `protected`
both also need `allow_protected`. A refused step stays in the plan, marked `blocked`, and the
plan gets an error diagnostic. Key retirement is not a delete: the rotation guards in
`mpctl.plan.keys` cover it.

Also owns the blast radius of errors (`hold_back`): an error that names a client or scope
blocks every step of that resource, so apply holds it (and what depends on it) back and runs
the rest; an error that names nothing makes the whole plan unappliable. Must not add or reorder
steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from mpctl.model import Environment
from mpctl.plan.address import Address
from mpctl.plan.types import Action, Diagnostic, PlanOptions, Severity, Step

_ALLOW = {Action.DELETE: "allow_delete", Action.REPLACE: "allow_replace"}


def enforce_policy(
    steps: Sequence[Step], *, options: PlanOptions, environment: Environment, env_name: str
) -> tuple[tuple[Step, ...], tuple[Diagnostic, ...]]:
    """Steps with the refused ones marked blocked, and one error per refused step."""
    checked: list[Step] = []
    refusals: list[Diagnostic] = []
    for step in steps:
        missing = _missing_allows(step, options, environment)
        if not missing:
            checked.append(step)
            continue
        checked.append(step.model_copy(update={"blocked": True}))
        refusals.append(_refusal(step, missing, env_name))
    return tuple(checked), tuple(refusals)


def _missing_allows(step: Step, options: PlanOptions, environment: Environment) -> list[str]:
    allow = _ALLOW.get(step.action)
    if allow is None:
        return []
    needed = [allow, "allow_protected"] if environment.protected else [allow]
    return [name for name in needed if not getattr(options, name)]


def _refusal(step: Step, missing: list[str], env_name: str) -> Diagnostic:
    flags = " and ".join(f"{name} (--{name.replace('_', '-')})" for name in missing)
    where = f" on protected environment {env_name}" if "allow_protected" in missing else ""
    return Diagnostic(
        severity=Severity.ERROR,
        code=f"policy.{step.action.value}-not-allowed",
        address=step.address,
        message=f"{step.action.value} of {step.address}{where} needs {flags}",
    )


def hold_back(steps: Sequence[Step], diagnostics: Sequence[Diagnostic]) -> tuple[Step, ...]:
    """`steps` with every step of a resource that has an error marked blocked."""
    held = held_resources(diagnostics)
    return tuple(
        step.model_copy(update={"blocked": True})
        if not step.blocked and step.resource in held
        else step
        for step in steps
    )


def held_resources(diagnostics: Sequence[Diagnostic]) -> dict[Address, Diagnostic]:
    """Each client or scope an error names → the first such error."""
    held: dict[Address, Diagnostic] = {}
    for found in diagnostics:
        if found.severity is Severity.ERROR and found.address is not None:
            held.setdefault(found.address.resource, found)
    return held
