"""The one place that decides what is sensitive in output, and replaces it by "(sensitive)".

Sensitive are: private JWK members (`d p q dp dq qi`, and `k` of symmetric keys), fields named
like tokens or secrets (`access_token`, `client_secret`, `assertion`, ...), and any text that
looks like a PEM block or a JWT, wherever it appears (a description typed into the portal, a
reason, a diagnostic). A whole string is replaced, never just the matching part. Plans should
carry no secrets at all; this is the last line of defence before anything is shown or posted.
Must not do I/O.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import JsonValue

from mpctl.plan.types import Plan

SENSITIVE = "(sensitive)"
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})
SECRET_FIELD_NAMES = frozenset(
    {
        "access_token",
        "assertion",
        "client_assertion",
        "client_secret",
        "id_token",
        "password",
        "refresh_token",
    }
)
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*-----")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")


def is_sensitive_name(name: str) -> bool:
    """True for a field whose value is secret whatever it looks like."""
    return name in PRIVATE_JWK_MEMBERS or name.lower() in SECRET_FIELD_NAMES


def is_sensitive_text(text: str) -> bool:
    """True for text holding a PEM block or a JWT (signed grant, access token)."""
    return bool(_PEM.search(text) or _JWT.search(text))


def redact_text(text: str) -> str:
    return SENSITIVE if is_sensitive_text(text) else text


def redact(value: Any, *, name: str | None = None) -> Any:
    """`value` with every sensitive part replaced; containers are copied, never changed."""
    if name is not None and is_sensitive_name(name) and value is not None:
        return SENSITIVE
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, name=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def redact_plan(plan: Plan) -> Plan:
    """A copy of `plan` safe to show: field changes holding a secret become sensitive (both
    values masked), then every other sensitive value anywhere is replaced."""
    data = plan.model_dump(mode="json")
    for step in data["steps"]:
        for change in step["changes"]:
            if change["sensitive"] or _holds_secret(change["old"], change["new"]):
                change.update(old=_mask(change["old"]), new=_mask(change["new"]), sensitive=True)
    return Plan.model_validate(redact(data))


def _holds_secret(*values: JsonValue) -> bool:
    return any(redact(v) != v for v in values)


def _mask(value: JsonValue) -> JsonValue:
    return None if value is None else SENSITIVE
