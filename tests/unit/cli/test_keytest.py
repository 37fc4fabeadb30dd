"""The rotation's test phase classifies token failures: poll, blame the clock, or stop."""

from __future__ import annotations

import pytest

from mpctl.apply import Verdict
from mpctl.cli.keytest import classify
from mpctl.verify import TokenError, TokenResult, diagnose


def _refused(description: str, error: str = "invalid_grant", status: int = 400) -> TokenResult:
    body = {"error": error, "error_description": f"{description} (trace_id: 1234abcd)"}
    return TokenResult(
        outcome="client_error",
        attempts=1,
        duration_ms=3,
        http_status=status,
        error=TokenError(status, diagnose(body)),
    )


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        (TokenResult(outcome="success", attempts=1, duration_ms=2), Verdict.OK),
        (
            _refused(
                "Invalid assertion. Client authentication failed. "
                "Unknown key identifier (kid) for client."
            ),
            Verdict.NOT_YET_KNOWN,
        ),
        (
            _refused("Invalid assertion. Client authentication failed. Client not found."),
            Verdict.NOT_YET_KNOWN,
        ),
        (_refused("Issue time is after now"), Verdict.CLOCK_SKEW),
        (_refused("JWT is expired"), Verdict.CLOCK_SKEW),
        (
            _refused("Consumer has not been granted access to the scope acme:x.", "forbidden", 403),
            Verdict.REFUSED,
        ),
        (TokenResult(outcome="exhausted", attempts=4, duration_ms=900), Verdict.UNAVAILABLE),
        (TokenResult(outcome="timeout", attempts=1, duration_ms=10_000), Verdict.UNAVAILABLE),
    ],
    ids=[
        "ok",
        "unknown-kid",
        "client-not-found",
        "iat-ahead",
        "expired",
        "mp-250",
        "5xx",
        "timeout",
    ],
)
def test_classify(result: TokenResult, verdict: Verdict) -> None:
    assert classify(result).verdict is verdict


def test_refusal_detail_names_the_code_and_never_a_token() -> None:
    detail = classify(
        _refused("Invalid assertion. Client authentication failed. Expired key")
    ).detail
    assert detail.startswith("MP-121")
    assert "trace_id" not in detail or "1234abcd" in detail
