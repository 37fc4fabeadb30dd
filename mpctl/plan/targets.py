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

from mpctl.plan.types import Diagnostic, Severity, Step, StepKind


def select_targets(
    steps: Sequence[Step], targets: Sequence[str], known: Iterable[str]
) -> tuple[tuple[Step, ...], tuple[Diagnostic, ...]]:
    """The steps `targets` ask for, with their dependencies; all steps when no target is given.

    `known` holds every address the planner compared, including those without a step.
    """
    if not targets:
        return tuple(steps), ()
    known_addresses = set(known) | {s.address for s in steps}
    unknown = [t for t in targets if not known_addresses & _spellings(t)]
    selected = {s.address for s in steps if any(_names(s) & _spellings(t) for t in targets)}
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
    roots = {n for t in targets for n in _spellings(t)} | {n for s in kept for n in _names(s)}
    return tuple(d for d in found if d.address is None or _under_any(d.address, roots))


def _under_any(address: str, roots: set[str]) -> bool:
    return any(address == root or address.startswith(f"{root}/") for root in roots)


def resource_address(step: Step) -> str:
    """The address of the client or scope a step belongs to."""
    if step.kind is StepKind.ACCESS:
        return f"scope/{step.remote_id}"
    if step.key is not None:
        return f"client/{step.key.client}"
    return step.address


def _names(step: Step) -> set[str]:
    return {step.address, resource_address(step)}


def _spellings(target: str) -> set[str]:
    return {target, f"client/{target}", f"scope/{target}"}


def _with_dependencies(selected: set[str], steps: Sequence[Step]) -> set[str]:
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
