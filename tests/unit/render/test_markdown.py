"""PR comments: escaped remote values, collapsible blocks, GitHub's size limit."""

from __future__ import annotations

import pytest

from mpctl.plan.types import Action, ClientStep, FieldChange, Plan, PlanSummary
from mpctl.render import GITHUB_COMMENT_LIMIT, build_document, render_markdown
from mpctl.render.markdown import escape


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("`code` escape", "`"),
        ("<img src=x onerror=alert(1)>", "<"),
        ("</details>", "<"),
        ("a | b", "|"),
        ("line\nbreak\r\nagain", "\n"),
        ("ping @acme/platform", "@"),
        ("**bold** _it_ ~~s~~", "*"),
        ("[link](https://evil.example)", "["),
        ("https://evil.example", "://"),
        ("$x^2$", "$"),
        ("back\\slash", "\\"),
        ("&lt;", "&lt;"),
    ],
)
def test_escape_neutralises_markup(text: str, forbidden: str) -> None:
    assert forbidden not in escape(text)


def test_escape_keeps_plain_text() -> None:
    assert escape("Fetches invoices for ACME 2026") == "Fetches invoices for ACME 2026"


def _plan(count: int, width: int = 400) -> Plan:
    steps = tuple(
        ClientStep(
            address=f"client/c{i:05d}",
            action=Action.UPDATE,
            changes=(FieldChange(path=("description",), old="o" * width, new="n" * width),),
        )
        for i in range(count)
    )
    return Plan(
        project="910753614",
        env_name="prod",
        observed_fingerprint="o",
        manifests_fingerprint="m",
        steps=steps,
        summary=PlanSummary.of(steps, (), unchanged=0),
    )


def test_a_large_plan_is_cut_under_the_limit_with_a_notice() -> None:
    text = render_markdown(build_document(_plan(400)))
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert "**Truncated:**" in text
    shown = text.count("<details>")
    assert shown == text.count("</details>")
    assert f"{400 - shown} of 400 sections are not shown" in text
    assert "Plan&#58; 0 to create, 400 to update" in text


@pytest.mark.parametrize("limit", [2_000, 5_000, 20_000])
def test_the_cap_holds_for_any_limit(limit: int) -> None:
    text = render_markdown(build_document(_plan(50)), max_chars=limit)
    assert len(text) <= limit
    assert text.count("<details>") == text.count("</details>")


def test_a_small_plan_is_complete() -> None:
    text = render_markdown(build_document(_plan(3, width=10)))
    assert "Truncated" not in text
    assert text.count("<details>") == 3
    assert "| <code>description</code> | <code>&#34;" not in text
    assert '| <code>description</code> | <code>"oooooooooo"</code> |' in text
