"""Execution order: dependencies first, deletes last among equals, address tie-break."""

from __future__ import annotations

import itertools

import pytest

from mpctl.plan.order import DependencyCycleError, order_steps
from mpctl.plan.types import Action, ClientStep, ScopeStep, Step


def step(address: str, *depends_on: str, action: Action = Action.CREATE) -> Step:
    kind = ScopeStep if address.startswith("scope/") else ClientStep
    return kind(address=address, action=action, depends_on=depends_on)


D = Action.DELETE

TABLE = [
    pytest.param([step("client/b"), step("client/a")], ["client/a", "client/b"], id="by-address"),
    pytest.param(
        [step("client/a", "scope/x"), step("scope/x")],
        ["scope/x", "client/a"],
        id="scope-before-client",
    ),
    pytest.param(
        [step("scope/x", "client/a", action=D), step("client/a", action=D)],
        ["client/a", "scope/x"],
        id="delete-scope-after-its-users",
    ),
    pytest.param(
        [step("client/a", action=D), step("client/z")],
        ["client/z", "client/a"],
        id="deletes-last-among-ready",
    ),
    pytest.param([step("client/a", "scope/missing")], ["client/a"], id="absent-dependency"),
    pytest.param(
        [
            step("client/c3", "client/c2"),
            step("client/c2", "client/c1"),
            step("client/c1"),
            step("client/c0", "client/c3"),
        ],
        ["client/c1", "client/c2", "client/c3", "client/c0"],
        id="chain",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), TABLE)
def test_order(steps: list[Step], expected: list[str]) -> None:
    for permutation in itertools.permutations(steps):
        assert [s.address for s in order_steps(permutation)] == expected


def test_dependencies_outside_the_plan_are_dropped_and_the_rest_sorted() -> None:
    ordered = order_steps([step("scope/y"), step("client/a", "scope/y", "scope/gone", "scope/y")])
    assert ordered[1].depends_on == ("scope/y",)


def test_a_cycle_is_an_error() -> None:
    with pytest.raises(DependencyCycleError, match="client/a, client/b"):
        order_steps([step("client/a", "client/b"), step("client/b", "client/a"), step("scope/c")])


def test_two_steps_with_one_address_are_a_bug() -> None:
    with pytest.raises(ValueError, match="client/a"):
        order_steps([step("client/a"), step("client/a")])
