"""PURE renderers: a `Plan` → text for a terminal, Markdown for a pull request, JSON.

Every renderer reads one `PlanDocument` (built by `build_document`, which redacts) and returns
a string. Nothing here prints, reads the environment or touches a console or file: the CLI
decides colour (NO_COLOR, TTY) and where output goes.
"""

from __future__ import annotations

from mpctl.render.document import ChangeLine, PlanDocument, StepView, build_document, summary_line
from mpctl.render.graph import render_dot, render_mermaid
from mpctl.render.human import GLYPHS, change_glyph, render_human
from mpctl.render.inventory import (
    LABEL_ORDER,
    ClientView,
    Inventory,
    KeyLabel,
    KeyView,
    ScopeView,
    SinkView,
    WorkloadValues,
    render_data,
    render_inventory,
    render_view,
    render_workload,
)
from mpctl.render.json import render_json
from mpctl.render.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from mpctl.render.redact import SENSITIVE, redact, redact_plan

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "GLYPHS",
    "LABEL_ORDER",
    "SENSITIVE",
    "ChangeLine",
    "ClientView",
    "Inventory",
    "KeyLabel",
    "KeyView",
    "PlanDocument",
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
