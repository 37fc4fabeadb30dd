"""Redacting a whole plan before it is shown or posted, with `mpctl.redaction`'s one rule set.

Owns `redact_plan`: a field change whose old or new value holds a secret is masked on both
sides (and flagged sensitive), then every other string anywhere in the plan goes through
`mpctl.redaction.redact_value` (private JWK members and secret-named fields whole, secret-looking
text such as PEM blocks, JWTs, `Bearer …` or `client_secret=…` in place). What counts as
sensitive is decided in `mpctl.redaction` only. Must not do I/O.
"""

from __future__ import annotations

from pydantic import JsonValue

from mpctl.plan import Plan
from mpctl.redaction import (
    PRIVATE_JWK_MEMBERS,
    SECRET_FIELD_NAMES,
    SENSITIVE,
    is_sensitive_name,
    is_sensitive_text,
    redact_text,
    redact_value,
)

__all__ = [
    "PRIVATE_JWK_MEMBERS",
    "SECRET_FIELD_NAMES",
    "SENSITIVE",
    "is_sensitive_name",
    "is_sensitive_text",
    "redact",
    "redact_plan",
    "redact_text",
]

redact = redact_value


def redact_plan(plan: Plan) -> Plan:
    """A copy of `plan` safe to show: field changes holding a secret become sensitive (both
    values masked), then every other sensitive value anywhere is replaced."""
    data = plan.model_dump(mode="json")
    sinks = data.pop("sinks")  # references only (variable names, paths): never secret values
    for step in data["steps"]:
        for change in step["changes"]:
            if change["sensitive"] or _holds_secret(change["old"], change["new"]):
                change.update(old=_mask(change["old"]), new=_mask(change["new"]), sensitive=True)
    shown = redact_value(data)
    assert isinstance(shown, dict)  # a dict redacted is a dict
    return Plan.model_validate({**shown, "sinks": sinks})


def _holds_secret(*values: JsonValue) -> bool:
    return any(redact_value(v) != v for v in values)


def _mask(value: JsonValue) -> JsonValue:
    return None if value is None else SENSITIVE
