"""Token events: names, levels, JSON-lines output, and the package's pinned export list."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

import mpctl.secrets
import mpctl.verify
from mpctl.remote import TokenEvent
from mpctl.verify import JsonLinesEventLog, RecordingObserver


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("token_request_start", "info"),
        ("token_request_retry", "warning"),
        ("token_request_success", "info"),
        ("token_request_exhausted", "error"),
    ],
)
def test_levels_follow_seed_002(name: str, level: str) -> None:
    assert TokenEvent(name, attempt=0).level == level  # type: ignore[arg-type]


def test_json_lines_log() -> None:
    stream = io.StringIO()
    log = JsonLinesEventLog(stream, clock=lambda: datetime(2026, 11, 21, tzinfo=UTC))
    log(TokenEvent("token_request_start", attempt=0, client="billing"))
    log(TokenEvent("token_request_retry", attempt=1, reason_code="rate_limited", wait_s=2.0))
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first == {
        "ts": "2026-11-21T00:00:00+00:00",
        "event": "token_request_start",
        "level": "info",
        "attempt": 0,
        "client": "billing",
    }
    assert (second["reason_code"], second["wait_s"], second["level"]) == (
        "rate_limited",
        2.0,
        "warning",
    )


def test_recording_observer() -> None:
    observer = RecordingObserver()
    observer(TokenEvent("token_request_start", attempt=0))
    assert [e.event for e in observer.events] == ["token_request_start"]


@pytest.mark.parametrize("package", [mpctl.verify, mpctl.secrets])
def test_export_list_is_pinned_and_resolves(package: object) -> None:
    exported = package.__all__  # type: ignore[attr-defined]
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n.islower(), n))
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert getattr(package, name) is not None


def test_verify_exports() -> None:
    assert set(mpctl.verify.__all__) == {
        "CATALOGUE",
        "CheckReport",
        "ClaimCheck",
        "ClaimFailure",
        "ClaimReport",
        "Diagnosis",
        "Entry",
        "EnvCredentials",
        "EnvironmentConfigError",
        "ExpectedClaims",
        "IssuerKeys",
        "JsonLinesEventLog",
        "Readiness",
        "ReadinessFailure",
        "RecordingObserver",
        "TokenError",
        "TokenResult",
        "VerifyError",
        "VerifyReport",
        "build_report",
        "check_token",
        "claim_failures",
        "credentials_from_env",
        "current_key",
        "diagnose",
        "explain",
        "fetch_issuer_keys",
        "probe",
        "request_token",
        "signing_key",
        "verify_report_schema",
        "verify_token",
        "verify_token_checks",
    }


def test_secrets_exports() -> None:
    assert set(mpctl.secrets.__all__) == {
        "ALGORITHMS",
        "BlockingSecretSink",
        "ThreadedSink",
        "DEFAULT_KEY_SIZE",
        "MAX_KEY_SIZE",
        "MIN_KEY_SIZE",
        "SINKS",
        "FileSecretSink",
        "KeyMaterialError",
        "KidReuseError",
        "PrivateKey",
        "RotationInFlightError",
        "SecretSink",
        "SinkContext",
        "SinkFactory",
        "SinkPlugin",
        "check_private_directory",
        "check_private_file",
        "choose_kid",
        "dated_kid",
        "ensure_private_directory",
        "from_pem",
        "from_private_jwk_base64",
        "generate_key",
        "generate_unnamed",
        "name_for_policy",
        "render_env_file",
        "workload_variables",
        "env_references",
        "unset_error",
        "unset_references",
        "jwks_document",
        "label_holding",
        "open_sink",
        "private_jwk",
        "public_jwk",
        "quiet_loggers",
        "read_states",
        "to_pem",
        "to_private_jwk_base64",
        "write_private_file",
    }
