"""PURE renderers: a `Plan` → text for a terminal, Markdown for a pull request, JSON.

Every renderer reads one `PlanDocument` (built by `build_document`, which redacts) and returns
a string. Nothing here prints, reads the environment or touches a console or file: the CLI
decides colour (NO_COLOR, TTY) and where output goes.
"""

from __future__ import annotations

from mpctl.render.document import ChangeLine, PlanDocument, StepView, build_document, summary_line
from mpctl.render.human import GLYPHS, change_glyph, render_human
from mpctl.render.json import render_json
from mpctl.render.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from mpctl.render.redact import SENSITIVE, redact, redact_plan

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "GLYPHS",
    "SENSITIVE",
    "ChangeLine",
    "PlanDocument",
    "StepView",
    "build_document",
    "change_glyph",
    "redact",
    "redact_plan",
    "render_human",
    "render_json",
    "render_markdown",
    "summary_line",
]
