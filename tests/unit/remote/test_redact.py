"""Redaction and excerpts: secret-looking text never survives, ordinary diagnostics do."""

from __future__ import annotations

import pytest

from mpctl.redaction import SENSITIVE
from mpctl.remote._redact import EXCERPT_LIMIT, excerpt, redact

JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzY29wZSI6ImlkcG9ydGVuOmRjci5yZWFkIn0"
    ".c2lnbmF0dXJlLWJ5dGVzLXRoYXQtYXJlLWxvbmctZW5vdWdo"
)
PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nabc\n-----END PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"token {JWT} refused", JWT),
        (f'{{"access_token": "{JWT}"}}', JWT),
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        (f"key: {PEM} end", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEcut-off-here", "MIIEcut-off-here"),
        ("assertion=aaaa.bbbb.cccc&grant_type=x", "aaaa.bbbb.cccc"),
        ('{"kty":"RSA","d":"privateexponent","kid":"k1"}', "privateexponent"),
        ('{"client_secret":"hunter2"}', "hunter2"),
        ("blob " + "A1b2" * 20, "A1b2" * 20),
    ],
)
def test_secret_looking_text_is_redacted(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert SENSITIVE in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "Invalid scope example:invoices.read for client",
        "correlation b496e785cbd430eee802c1eaafa76f46",
        "client 0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10 not found",
        '{"kid":"billing-sync-2025-06","kty":"RSA","token_type":"Bearer"}',
    ],
)
def test_ordinary_diagnostics_survive(text: str) -> None:
    assert redact(text) == text


def test_excerpt_is_truncated_single_line_and_redacted_before_truncation() -> None:
    body = ("x" * (EXCERPT_LIMIT - 5)) + JWT
    shown = excerpt(body.encode())
    assert len(shown) <= EXCERPT_LIMIT
    assert "eyJhbGci" not in shown
    assert excerpt(b"line one\n  line two") == "line one line two"


def test_excerpt_of_undecodable_bytes_does_not_fail() -> None:
    assert excerpt(b"\xff\xfe oops").endswith("oops")
