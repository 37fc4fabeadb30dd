"""Canonical machine output of a plan: the redacted plan as JSON.

Owns `render_json`. The output is a plan file (same `format_version`, same shape: each
distinct key policy and sink written once and referenced by id, `mpctl.plan.planfile`; same
published schema, `mpctl.plan.plan_json_schema`) with every sensitive value replaced by
"(sensitive)"; keys are sorted and the same plan always gives the same bytes. Must not do I/O.
"""

from __future__ import annotations

from mpctl.render.document import PlanDocument


def render_json(document: PlanDocument) -> str:
    """Sorted-key, indented JSON ending with a newline."""
    return document.plan.to_json()
