"""PURE renderers: a `Plan` → text for a terminal, Markdown for a pull request, JSON, and its
step dependencies as a Mermaid or DOT graph.

Every renderer reads one `PlanDocument` (built by `build_document`, which redacts) and returns
a string. Nothing here prints, reads the environment or touches a console or file: the CLI
decides colour (NO_COLOR, TTY) and where output goes.
"""

from __future__ import annotations

from mpctl.render.document import ChangeLine, PlanDocument, StepView, build_document, summary_line
from mpctl.render.graph import GraphNode, StepGraph, render_dot, render_mermaid, step_graph
from mpctl.render.human import GLYPHS, change_glyph, render_human
from mpctl.render.json import render_json
from mpctl.render.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from mpctl.render.redact import SENSITIVE, redact, redact_plan

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "GLYPHS",
    "SENSITIVE",
    "ChangeLine",
    "GraphNode",
    "PlanDocument",
    "StepGraph",
    "StepView",
    "build_document",
    "change_glyph",
    "redact",
    "redact_plan",
    "render_dot",
    "render_human",
    "render_json",
    "render_markdown",
    "render_mermaid",
    "step_graph",
    "summary_line",
]
