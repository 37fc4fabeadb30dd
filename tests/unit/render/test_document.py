"""The document view: summary line, safe display text, headlines."""

from __future__ import annotations

from typing import Any

import pytest

from mpctl.model import KeyPolicy
from mpctl.plan.types import (
    AccessStep,
    Action,
    Diagnostic,
    KeyChange,
    KeyPhase,
    KeyStep,
    Plan,
    PlanSummary,
    Severity,
    Step,
)
from mpctl.render.document import build_document, display_value, safe_text, summary_line


@pytest.mark.parametrize(
    ("counts", "actions", "line"),
    [
        ({}, (), "No changes."),
        ({"unchanged": 9}, (), "No changes."),
        (
            {"create": 2, "update": 1, "delete": 1, "key": 2},
            (Action.CREATE_KEY, Action.CREATE_KEY),
            "Plan: 2 to create, 1 to update, 1 to delete, 0 key rotations, 2 new keys.",
        ),
        (
            {"replace": 1},
            (),
            "Plan: 1 to create, 0 to update, 1 to delete, 0 key rotations.",
        ),
        (
            {"key": 1},
            (Action.ROTATE_KEY,),
            "Plan: 0 to create, 0 to update, 0 to delete, 1 key rotation.",
        ),
        (
            {"key": 4, "revoke": 1},
            (Action.ROTATE_KEY, Action.PROMOTE_KEY, Action.RETIRE_KEY, Action.REVOKE_KEY),
            "Plan: 0 to create, 0 to update, 0 to delete, 1 key rotation, 2 key steps of "
            "rotations under way, 1 key revocation.",
        ),
    ],
)
def test_summary_line(counts: dict[str, int], actions: tuple[Action, ...], line: str) -> None:
    """A first key is a new key, not a rotation; a rotation's later phases are counted apart."""
    assert summary_line(PlanSummary(**counts), actions) == line


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain", '"plain"'),
        ("æøå → ok", '"æøå → ok"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("\x1b[31mred", '"\\u001b[31mred"'),
        ("\x9b2J", '"\\u009b2J"'),
        ("abc\u202edcba", '"abc\\u202edcba"'),
        (["b", "a"], '["b", "a"]'),
        ({"k": 1, "a": None}, '{"a": null, "k": 1}'),
        (120, "120"),
        (False, "false"),
    ],
)
def test_display_value_is_json_with_unsafe_characters_escaped(value: Any, shown: str) -> None:
    assert display_value(value) == shown


def test_safe_text_keeps_ordinary_text() -> None:
    assert safe_text("Fetches invoices for ACME (test)") == "Fetches invoices for ACME (test)"


def _document(*steps: Step, message: str = "ok") -> Any:
    found = (Diagnostic(severity=Severity.NOTE, code="n", message=message),)
    return build_document(
        Plan(
            project="910753614",
            env_name="test",
            observed_fingerprint="o",
            manifests_fingerprint="m",
            steps=steps,
            diagnostics=found,
            summary=PlanSummary.of(steps, found, unchanged=0),
        )
    )


def test_headlines_name_access_grants_and_kids() -> None:
    grant = AccessStep(
        address="scope/a:b/access/987654325",
        action=Action.DELETE,
    )
    retire = KeyStep(
        address="client/c/key/k0",
        action=Action.RETIRE_KEY,
        key=KeyChange(client="c", kid="k0", phases=(KeyPhase.RETIRE,), policy=KeyPolicy()),
    )
    views = _document(grant, retire).steps
    assert [v.headline for v in views] == ["will be revoked", "will retire key k0"]
    assert views[1].phases == ("retire",)


def test_diagnostic_text_is_made_safe_to_print() -> None:
    (found,) = _document(message="bad \x1b]0;title\x07 value").diagnostics
    assert found.message == "bad \\u001b]0;title\\u0007 value"
    assert found.severity is Severity.NOTE


def test_a_plan_with_only_drift_never_says_no_changes() -> None:
    """`plan --detailed-exitcode` exits 2 for drift no step undoes: the summary must not say
    "No changes." (issue 14)."""
    drift = (
        Diagnostic(
            severity=Severity.WARNING,
            code="key.unknown-kid",
            message="a kid mpctl did not make is registered",
        ),
    )
    plan = Plan(
        project="910753614",
        env_name="test",
        observed_fingerprint="o",
        manifests_fingerprint="m",
        diagnostics=drift,
        summary=PlanSummary.of((), drift, unchanged=3),
    )
    assert plan.has_drift
    assert build_document(plan).summary_line.startswith("Nothing to apply, but Digdir differs")
    assert _document().summary_line == "No changes."
