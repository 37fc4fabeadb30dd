"""The error catalogue: lookups by code, error_uri, slug, description text and OAuth error."""

from __future__ import annotations

import json
import re

import pytest

from mpctl.verify.catalogue import CATALOGUE, diagnose, explain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MP-110", "MP-110"),
        ("mp110", "MP-110"),
        ("  MP-251 ", "MP-251"),
        ("https://maskinporten.no/errors/MP-121", "MP-121"),
        ("https://test.maskinporten.no/errors/MP-200", "MP-200"),
        ("Invalid assertion. Client authentication failed. Invalid JWT claim aud", "MP-110"),
        ("Invalid JWT claim aud", "MP-110"),
        (
            "Invalid assertion. Client authentication failed. Expired key. "
            "(trace_id: 356666143081bbec11d293753e9702ca)",
            "MP-121",
        ),
        ("Invalid assertion. Client authentication failed.", "MP-100"),
        (
            "Invalid assertion. Client authentication failed. "
            "(correlation id: 4b1f5e0a-8d1c-4a51-9d5e-0c1a2b3c4d5e)",
            "MP-100",
        ),
        ("Client not found", "MP-100"),
        ("Grant is used before", "MP-012"),
        ("Consumer ... has not delegated", "MP-251"),
        (
            "Consumer 910753614 has not delegated access to the scope brreg:reelle/offentlig "
            "to supplier 991825827.",
            "MP-251",
        ),
        ("Consumer has not been granted access to the scope lanekassen:lan/v1/x.", "MP-250"),
        ("Token request contains invalid scopes for client, example:x", "MP-200"),
        (
            "Token request contains scopes with integration types only allowed for user login",
            "MP-201",
        ),
        ("invalid assertion. invalid parameter value", "MP-011"),
        ("Client orgno 123456785 does not match certificate orgno 987654325", "MP-122"),
        ("Failed to extract certificate from jwt", "MP-123"),
        ("Could not validate JWT Signature", "MP-124"),
        ("JWT is expired", "MP-130"),
        ("Issue time is after now", "issue-time-after-now"),
        (
            "Invalid assertion. Client authentication failed. Unknown key identifier (kid) for "
            "client.",
            "unknown-kid",
        ),
        ("unknown-kid", "unknown-kid"),
        (
            "Validation of JWT claim failed: The combination consumer_org in claim and "
            "delegation scope on client is invalid",
            "consumer-org-is-own-org",
        ),
    ],
)
def test_explain_finds_the_entry(text: str, expected: str) -> None:
    found = explain(text)
    assert found
    assert found[0].id == expected


def test_explain_by_oauth_error_lists_every_candidate() -> None:
    assert [e.id for e in explain("invalid_scope")] == ["MP-200", "MP-201"]
    assert [e.id for e in explain("forbidden")] == ["MP-250", "MP-251"]


@pytest.mark.parametrize("text", ["", "   ", "MP-999", "the weather is nice"])
def test_explain_unknown_gives_nothing(text: str) -> None:
    assert explain(text) == []


def test_explain_a_pasted_error_body() -> None:
    body = json.dumps(
        {
            "error": "invalid_grant",
            "error_description": "Invalid assertion. Client authentication failed. Expired key.",
            "error_uri": "https://maskinporten.no/errors/MP-121",
        }
    )
    assert explain(body)[0].id == "MP-121"


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e.id)
def test_every_entry_explains_its_own_description(entry: object) -> None:
    assert explain(entry.description)[0] is entry  # type: ignore[attr-defined]


def test_catalogue_is_well_formed() -> None:
    assert len({e.id for e in CATALOGUE}) == len(CATALOGUE)
    for entry in CATALOGUE:
        assert entry.cause.strip()
        assert entry.fix.strip()
        assert entry.patterns
        for pattern in entry.patterns:
            re.compile(pattern)
        assert entry.error in {"invalid_grant", "invalid_request", "invalid_scope", "forbidden"}
        assert (entry.mp_code is None) == (not entry.id.startswith("MP-"))


def test_diagnose_prefers_error_uri_and_reads_the_trace_id() -> None:
    diagnosis = diagnose(
        {
            "error": "invalid_grant",
            "error_description": "Invalid assertion. Client authentication failed. Expired key. "
            "(trace_id: 356666143081bbec11d293753e9702ca)",
            "error_uri": "https://maskinporten.no/errors/MP-121",
        }
    )
    assert diagnosis.best is not None
    assert diagnosis.best.id == "MP-121"
    assert diagnosis.trace_id == "356666143081bbec11d293753e9702ca"
    assert diagnosis.error == "invalid_grant"


def test_diagnose_an_older_body_without_error_uri() -> None:
    diagnosis = diagnose(
        {
            "error": "invalid_grant",
            "error_description": "Grant is used before (correlation id: 4b1f5e0a-8d1c)",
        }
    )
    assert [e.id for e in diagnosis.entries] == ["MP-012"]
    assert diagnosis.trace_id == "4b1f5e0a-8d1c"


def test_diagnose_falls_back_to_the_error_code() -> None:
    diagnosis = diagnose({"error": "invalid_scope", "error_description": "something new"})
    assert [e.id for e in diagnosis.entries] == ["MP-200", "MP-201"]


def test_diagnose_tolerates_odd_bodies() -> None:
    diagnosis = diagnose({"error": 5, "detail": "x"})
    assert (diagnosis.error, diagnosis.entries, diagnosis.best) == (None, (), None)
