"""--target selects resources structurally, with their dependencies."""

from __future__ import annotations

import pytest

from mpctl.model import KeyPolicy
from mpctl.plan.address import Address
from mpctl.plan.targets import select_targets, targeted_diagnostics
from mpctl.plan.types import (
    AccessStep,
    Action,
    ClientStep,
    Diagnostic,
    KeyChange,
    KeyPhase,
    KeyStep,
    ScopeStep,
    Severity,
    Step,
)

STEPS: list[Step] = [
    ScopeStep(address="scope/nav:a", action=Action.CREATE),
    ScopeStep(address="scope/nav:a/b", action=Action.CREATE),
    AccessStep(
        address="scope/nav:a/access/987654325",
        action=Action.CREATE,
        depends_on=("scope/nav:a",),
    ),
    ClientStep(
        address="client/billing",
        action=Action.UPDATE,
        depends_on=("scope/nav:a/b",),
    ),
    KeyStep(
        address="client/billing/key",
        action=Action.CREATE_KEY,
        depends_on=("client/billing",),
        key=KeyChange(client="billing", phases=(KeyPhase.STAGE,), policy=KeyPolicy()),
    ),
    ClientStep(address="client/other", action=Action.CREATE),
]
KNOWN = {s.address for s in STEPS} | {Address.client("quiet")}


@pytest.mark.parametrize(
    ("targets", "selected"),
    [
        (("nav:a",), ["scope/nav:a", "scope/nav:a/access/987654325"]),
        (("scope/nav:a/b",), ["scope/nav:a/b"]),
        (("billing",), ["scope/nav:a/b", "client/billing", "client/billing/key"]),
        (("client/billing/key",), ["scope/nav:a/b", "client/billing", "client/billing/key"]),
        (
            ("client/billing", "other"),
            ["scope/nav:a/b", "client/billing", "client/billing/key", "client/other"],
        ),
        (("quiet",), []),
    ],
)
def test_select_targets(targets: tuple[str, ...], selected: list[str]) -> None:
    kept, diagnostics = select_targets(STEPS, targets, KNOWN)
    assert [s.address for s in kept] == selected
    assert [d.code for d in diagnostics] == ["target.partial"]
    assert f"{len(STEPS) - len(selected)} other step(s)" in diagnostics[-1].message


def test_no_target_keeps_everything() -> None:
    assert select_targets(STEPS, (), KNOWN) == (tuple(STEPS), ())


def test_unknown_target_is_an_error() -> None:
    kept, diagnostics = select_targets(STEPS, ("nothing",), KNOWN)
    assert kept == ()
    assert [(d.severity.value, d.code) for d in diagnostics] == [
        ("error", "target.unknown"),
        ("warning", "target.partial"),
    ]


def test_diagnostics_about_left_out_resources_are_dropped() -> None:
    found = [
        Diagnostic(severity=Severity.ERROR, code="x", message="m", address=address)
        for address in ("client/other", "client/billing/key", None, "scope/nav:a/b", "scope/nav:c")
    ]
    kept, _ = select_targets(STEPS, ("billing",), KNOWN)
    assert [d.address for d in targeted_diagnostics(found, ("billing",), kept)] == [
        "client/billing/key",
        None,
        "scope/nav:a/b",
    ]
    assert targeted_diagnostics(found, (), kept) == tuple(found)
