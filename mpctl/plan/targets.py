"""`--target`: limit a plan to named resources and the steps they depend on.

Owns matching a target to steps. A target is an address (`client/billing`,
`scope/acme:invoices.read`, `client/billing/key`) or a bare name (`billing`,
`acme:invoices.read`). It selects the steps of that resource, including its sub-steps (a
scope's access grants, a client's key steps), then everything those steps depend on. Matching
is structural, never by string prefix, because scope names may contain '/'. A target that names
nothing mpctl knows is an error. Diagnostics about resources left out are dropped, so a problem
elsewhere does not block a targeted apply. Must not reorder or police steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mpctl.plan.address import Address
from mpctl.plan.types import Diagnostic, Severity, Step


def select_targets(
    steps: Sequence[Step], targets: Sequence[str], known: Iterable[Address]
) -> tuple[tuple[Step, ...], tuple[Diagnostic, ...]]:
    """The steps `targets` ask for, with their dependencies; all steps when no target is given.

    `known` holds every address the planner compared, including those without a step.
    """
    if not targets:
        return tuple(steps), ()
    known_addresses = {*known, *(s.address for s in steps)}
    unknown = [t for t in targets if not any(_named(a, t) for a in known_addresses)]
    selected = {s.address for s in steps if any(_named(s.address, t) for t in targets)}
    selected = _with_dependencies(selected, steps)
    kept = tuple(s for s in steps if s.address in selected)
    return kept, (*_unknown_targets(unknown), _partial_note(len(steps) - len(kept)))


def targeted_diagnostics(
    diagnostics: Iterable[Diagnostic], targets: Sequence[str], kept: Sequence[Step]
) -> tuple[Diagnostic, ...]:
    """The diagnostics about what the targets selected (all of them without targets)."""
    found = tuple(diagnostics)
    if not targets:
        return found
    resources = {s.resource for s in kept}
    return tuple(
        d
        for d in found
        if d.address is None
        or d.address.resource in resources
        or any(_named(d.address, t) for t in targets)
    )


def _named(address: Address, target: str) -> bool:
    """True when `target` names the address itself or the client or scope it belongs to."""
    return address.spells(target) or address.resource.spells(target)


def _with_dependencies(selected: set[Address], steps: Sequence[Step]) -> set[Address]:
    by_address = {s.address: s for s in steps}
    pending, closed = sorted(selected), set(selected)
    while pending:
        for dependency in by_address[pending.pop()].depends_on:
            if dependency in by_address and dependency not in closed:
                closed.add(dependency)
                pending.append(dependency)
    return closed


def _unknown_targets(unknown: Sequence[str]) -> tuple[Diagnostic, ...]:
    return tuple(
        Diagnostic(
            severity=Severity.ERROR,
            code="target.unknown",
            message=f"--target {target!r} names no client or scope in this environment",
        )
        for target in unknown
    )


def _partial_note(left_out: int) -> Diagnostic:
    return Diagnostic(
        severity=Severity.WARNING,
        code="target.partial",
        message=f"the plan is limited by --target; {left_out} other step(s) are left out "
        "and the remote state may not match the manifests afterwards",
    )
