"""Terminal text: glyphs, per-field changes, summary, colour only on request."""

from __future__ import annotations

import re

from mpctl.plan.types import Action, ClientStep, FieldChange, Plan, PlanSummary, Step
from mpctl.render import build_document, render_human
from tests.unit.plan import scenario

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _plan(*steps: Step) -> Plan:
    return Plan(
        project="910753614",
        env_name="test",
        observed_fingerprint="o",
        manifests_fingerprint="m",
        steps=steps,
        summary=PlanSummary.of(steps, (), unchanged=1),
    )


def test_colour_only_adds_ansi_codes() -> None:
    document = build_document(scenario.plan())
    plain = render_human(document)
    coloured = render_human(document, color=True)
    assert "\x1b" not in plain
    assert "\x1b[32m" in coloured
    assert _ANSI.sub("", coloured) == plain


def test_an_empty_plan_says_no_changes() -> None:
    text = render_human(build_document(_plan()))
    assert text.endswith("No changes.\n")
    assert "Symbols" not in text


def test_field_changes_use_glyphs_and_arrows() -> None:
    step = ClientStep(
        address="client/a",
        action=Action.UPDATE,
        reason="drift",
        changes=(
            FieldChange(path=("added",), new=1),
            FieldChange(path=("description",), old="old", new="new"),
            FieldChange(path=("gone",), old="x"),
        ),
    )
    text = render_human(build_document(_plan(step)))
    assert "  # client/a will be updated in place\n  #   drift\n  ~ client/a\n" in text
    assert "      + added       = 1\n" in text
    assert '      ~ description = "old" → "new"\n' in text
    assert '      - gone        = "x"\n' in text
    assert text.endswith("Plan: 0 to create, 1 to update, 0 to delete, 0 key rotations.\n")


def test_remote_control_characters_never_reach_the_terminal() -> None:
    step = ClientStep(
        address="client/a",
        action=Action.UPDATE,
        changes=(FieldChange(path=("description",), old="\x1b[2J\x1b]0;pwned\x07", new="ok"),),
    )
    text = render_human(build_document(_plan(step)))
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\\u001b[2J" in text


def test_blocked_steps_and_errors_are_called_out() -> None:
    text = render_human(build_document(scenario.plan()))
    assert "  # client/ledger must be replaced (deleted, then created again) (HELD BACK" in text
    assert "  -/+ client/ledger\n" in text
    assert "This plan has 7 errors: apply holds back the 5 step(s) of the clients and " in text
