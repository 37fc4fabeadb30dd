"""Execution order: a dependency graph over steps and a stable topological sort.

Owns the order apply runs steps in. Edges come from each step's `depends_on` (built by the
planner: scopes before the clients that use them, access grants after their scope, a client
before its key steps, a scope delete after the client steps that stop using it, so deletes run
in reverse dependency order). Among ready steps the tie-break is (deletes last, address), so
the same steps always come out in the same order. Dependencies on steps that are not in the
plan are dropped. A cycle is an error. Must not add, remove or police steps.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from mpctl.errors import MpctlError
from mpctl.plan.address import Address
from mpctl.plan.types import Action, Step


class DependencyCycleError(MpctlError):
    """The planned steps depend on each other in a circle; this is a bug in the planner."""

    code = "PLAN_CYCLE"


def order_steps(steps: Sequence[Step]) -> tuple[Step, ...]:
    """`steps` in an order where every step comes after everything it depends on."""
    by_address = _index(steps)
    graph = {
        address: tuple(sorted(d for d in set(step.depends_on) if d in by_address))
        for address, step in by_address.items()
    }
    waiting = {address: len(deps) for address, deps in graph.items()}
    dependents: dict[Address, list[Address]] = {address: [] for address in graph}
    for address, deps in graph.items():
        for dependency in deps:
            dependents[dependency].append(address)
    ready = [_rank(by_address[a]) for a, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[Step] = []
    while ready:
        address = heapq.heappop(ready)[1]
        ordered.append(_depending_on(by_address[address], graph[address]))
        for dependent in dependents[address]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, _rank(by_address[dependent]))
    if len(ordered) != len(by_address):
        stuck = ", ".join(str(a) for a in sorted(a for a, count in waiting.items() if count))
        raise DependencyCycleError(f"steps depend on each other in a cycle: {stuck}")
    return tuple(ordered)


def _index(steps: Sequence[Step]) -> dict[Address, Step]:
    by_address: dict[Address, Step] = {}
    for step in steps:
        if step.address in by_address:
            raise ValueError(f"two steps share the address {step.address}")
        by_address[step.address] = step
    return by_address


def _depending_on(step: Step, dependencies: tuple[Address, ...]) -> Step:
    """`step` with exactly `dependencies` (copied only when they differ: most already do)."""
    if step.depends_on == dependencies:
        return step
    return step.model_copy(update={"depends_on": dependencies})


def _rank(step: Step) -> tuple[bool, Address]:
    return (step.action is Action.DELETE, step.address)
