"""The verify report model: totals, its JSON and schema, and no secret in either."""

from __future__ import annotations

import json

import jsonschema
import pytest

from mpctl.redaction import SENSITIVE
from mpctl.verify import (
    CATALOGUE,
    CheckReport,
    ClaimCheck,
    ClaimReport,
    VerifyReport,
    build_report,
    verify_report_schema,
)

ISSUER = "https://test.maskinporten.no/"
TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0"
    ".eyJzY29wZSI6ImFjbWU6aW52b2ljZXMucmVhZCIsImlzcyI6Imh0dHBzOi8vdGVzdCJ9"
    ".c2lnbmF0dXJlLW9mLWEtcmVhbC1sb29raW5nLXRva2VuLWZvci10ZXN0cw"
)
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
MP_251 = next(entry for entry in CATALOGUE if entry.id == "MP-251")


def ok_check() -> CheckReport:
    claims = [
        ClaimCheck("signature", f"a key of {ISSUER}jwk", "verifies"),
        ClaimCheck("scope", "acme:invoices.read", "acme:invoices.read"),
        ClaimCheck("supplier", None, None),
    ]
    return CheckReport(
        address="client/billing",
        client="billing",
        scopes=["acme:invoices.read"],
        outcome="ok",
        code="ok",
        claims=[ClaimReport.of(claim) for claim in claims],
        attempts=1,
        duration_ms=12,
    )


def refused_check() -> CheckReport:
    return CheckReport(
        address="client/reports/delegation/910753614",
        client="reports",
        consumer_org="910753614",
        scopes=["acme:reports.read"],
        outcome="failed",
        code=MP_251.id,
        reason=f"{MP_251.id}: {MP_251.description}",
        mp_code=MP_251.mp_code,
        cause=MP_251.cause,
        fix=MP_251.fix,
        trace_id="4b6f7c2a",
        attempts=1,
        duration_ms=9,
    )


def a_report() -> VerifyReport:
    skipped = CheckReport.skipped(
        address="client/legacy", client="legacy", reason="keys: null: mpctl manages no key"
    )
    return build_report(
        environment="test",
        issuer=ISSUER,
        checks=[ok_check(), refused_check(), skipped],
        requests={"POST /token": 2, "GET /jwk": 1},
        duration_ms=40,
    )


def test_totals_and_verdict_are_counted_from_the_checks() -> None:
    report = a_report()
    assert report.format_version == "1"
    assert report.totals.model_dump() == {"checks": 3, "ok": 1, "failed": 1, "skipped": 1}
    assert not report.ok
    assert build_report(environment="test", issuer=ISSUER, checks=[ok_check()]).ok


def test_json_is_one_document_with_sorted_keys_that_reads_back() -> None:
    report = a_report()
    text = report.to_json()
    document = json.loads(text)
    assert text == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert list(document["requests"]) == ["GET /jwk", "POST /token"]
    assert VerifyReport.model_validate_json(text) == report


def test_the_json_validates_against_the_published_schema() -> None:
    schema = verify_report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "mpctl verify report (format_version 1)"
    jsonschema.validate(json.loads(a_report().to_json()), schema)
    broken = json.loads(a_report().to_json())
    broken["checks"][0]["outcome"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_a_refusal_carries_the_catalogues_code_cause_and_fix() -> None:
    document = json.loads(a_report().to_json())
    (failed,) = [c for c in document["checks"] if c["outcome"] == "failed"]
    assert failed["address"] == "client/reports/delegation/910753614"
    assert (failed["code"], failed["fix"]) == (MP_251.id, MP_251.fix)
    assert failed["cause"] == MP_251.cause


def test_a_claim_check_keeps_expected_actual_and_verdict() -> None:
    failed = ClaimCheck("consumer.ID", "0192:910753614", "0192:974760673", "wrong consumer")
    assert ClaimReport.of(failed).model_dump() == {
        "name": "consumer.ID",
        "expected": "0192:910753614",
        "actual": "0192:974760673",
        "ok": False,
        "problem": "wrong consumer",
    }


@pytest.mark.parametrize("secret", [TOKEN, PEM, f"Bearer {TOKEN[:40]}", f"assertion={TOKEN}"])
def test_a_secret_in_any_text_never_reaches_the_json_or_a_repr(secret: str) -> None:
    check = CheckReport(
        address="client/billing",
        client="billing",
        outcome="failed",
        code="refused",
        reason=f"the endpoint said: {secret}",
        fix=f"try again with {secret}",
        claims=[ClaimReport(name="scope", expected="x", actual=secret, ok=False)],
    )
    report = build_report(environment="test", issuer=ISSUER, checks=[check])
    for text in (report.to_json(), repr(report), str(check)):
        assert secret not in text
        assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in text
        assert TOKEN.split(".")[1] not in text
    document = json.loads(report.to_json())
    assert SENSITIVE in document["checks"][0]["reason"]
    assert document["checks"][0]["reason"].startswith("the endpoint said: ")
