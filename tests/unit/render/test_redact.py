"""Plan redaction: private JWK members, token fields, PEM and JWT text (`mpctl.redaction`)."""

from __future__ import annotations

from typing import Any

import pytest

from mpctl.model import FileSink
from mpctl.plan.types import (
    Action,
    ClientStep,
    Diagnostic,
    FieldChange,
    Plan,
    PlanSummary,
    Severity,
)
from mpctl.render.redact import SENSITIVE, is_sensitive_text, redact, redact_plan

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJVadQssw5c"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "sensitive"),
    [
        (PEM, True),
        ("-----BEGIN CERTIFICATE-----\nMIIB", True),
        ("-----BEGIN RSA PRIVATE KEY-----", True),
        (JWT, True),
        (f"token was {JWT} yesterday", True),
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.", True),
        ("eyJ alone", False),
        ("Fetches invoices [mpctl:billing]", False),
        ("billing-TEST.2026-11-21", False),
        ("sha256:0123456789abcdef", False),
        ("", False),
    ],
)
def test_is_sensitive_text(text: str, sensitive: bool) -> None:
    assert is_sensitive_text(text) is sensitive


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"kty": "RSA", "kid": "k", "e": "AQAB", "n": "xyz", "d": "secret", "qi": "s"},
            {"kty": "RSA", "kid": "k", "e": "AQAB", "n": "xyz", "d": SENSITIVE, "qi": SENSITIVE},
        ),
        (
            {"access_token": "abc", "Client_Secret": "s", "token_type": "Bearer"},
            {"access_token": SENSITIVE, "Client_Secret": SENSITIVE, "token_type": "Bearer"},
        ),
        (
            {"keys": [{"p": "1", "q": "2", "dp": "3", "dq": "4", "k": "5"}]},
            {
                "keys": [
                    {
                        "p": SENSITIVE,
                        "q": SENSITIVE,
                        "dp": SENSITIVE,
                        "dq": SENSITIVE,
                        "k": SENSITIVE,
                    }
                ]
            },
        ),
        (
            {"description": f"see {JWT}", "n": 3, "list": [PEM, "ok", None]},
            {"description": f"see {SENSITIVE}", "n": 3, "list": [SENSITIVE, "ok", None]},
        ),
        ({"d": None}, {"d": None}),
        ("plain", "plain"),
    ],
)
def test_redact(value: Any, expected: Any) -> None:
    assert redact(value) == expected


def _plan(*changes: FieldChange, message: str = "fine") -> Plan:
    step = ClientStep(address="client/a", action=Action.UPDATE, changes=changes)
    found = (Diagnostic(severity=Severity.WARNING, code="x", message=message),)
    fields: dict[str, Any] = {
        "env_name": "test",
        "observed_fingerprint": "o",
        "manifests_fingerprint": "m",
        "steps": (step,),
        "diagnostics": found,
        "summary": PlanSummary.of((step,), found, unchanged=0),
    }
    if "project" in Plan.model_fields:  # the project identity (issue 8 item 3)
        fields["project"] = "313367002"
    return Plan.model_validate(fields)


def test_a_change_holding_a_secret_is_masked_on_both_sides() -> None:
    plan = _plan(
        FieldChange(path=("description",), old=PEM, new="clean"),
        FieldChange(path=("client_name",), old="a", new="b"),
        FieldChange(path=("flagged",), old=None, new="x", sensitive=True),
        message=f"saw {JWT}",
    )
    safe = redact_plan(plan)
    description, name, flagged = safe.steps[0].changes
    assert (description.old, description.new, description.sensitive) == (SENSITIVE, SENSITIVE, True)
    assert (name.old, name.new, name.sensitive) == ("a", "b", False)
    assert (flagged.old, flagged.new) == (None, SENSITIVE)
    assert safe.diagnostics[0].message == f"saw {SENSITIVE}"
    assert safe.summary == plan.summary


def test_a_clean_plan_is_unchanged() -> None:
    plan = _plan(FieldChange(path=("description",), old="a", new="b"))
    assert redact_plan(plan) == plan


def test_sink_references_are_shown_as_written() -> None:
    """`variables.private_key` names an environment variable; it is not a secret value."""
    plan = _plan().model_copy(update={"sinks": {"a": FileSink()}})
    sink = redact_plan(plan).sinks["a"]
    assert isinstance(sink, FileSink)
    assert sink.variables.private_key == "MASKINPORTEN_PRIVATE_KEY"
