"""Machine output: the redacted plan, in the published schema, loadable as a plan."""

from __future__ import annotations

import json

import jsonschema

import mpctl.render
from mpctl.plan import Plan, plan_json_schema
from mpctl.render import build_document, redact_plan, render_json
from tests.unit.plan import scenario


def test_json_output_is_the_redacted_plan_in_the_published_schema() -> None:
    plan = scenario.plan()
    text = render_json(build_document(plan))
    jsonschema.validate(json.loads(text), plan_json_schema())
    assert Plan.from_json(text) == redact_plan(plan)
    assert text == redact_plan(plan).to_json()


def test_public_api_is_pinned() -> None:
    assert sorted(mpctl.render.__all__) == [
        "ChangeLine",
        "ClientView",
        "GITHUB_COMMENT_LIMIT",
        "GLYPHS",
        "Inventory",
        "KeyLabel",
        "KeyView",
        "LABEL_ORDER",
        "PlanDocument",
        "SENSITIVE",
        "ScopeView",
        "SinkView",
        "StepView",
        "WorkloadValues",
        "build_document",
        "change_glyph",
        "redact",
        "redact_plan",
        "render_data",
        "render_dot",
        "render_human",
        "render_inventory",
        "render_json",
        "render_markdown",
        "render_mermaid",
        "render_view",
        "render_workload",
        "summary_line",
    ]
