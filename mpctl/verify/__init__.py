"""Verify: token exchange outcome → claim checks, the error catalogue, readiness.

Public API of the package; the modules inside own the details. May import `mpctl.secrets`,
`mpctl.model`, `mpctl.errors` and `mpctl.remote`'s token exchange (`TokenExchange`, grants,
events), never the self-service client, the planner, apply or the emulator. Nothing here
prints; the CLI renders results and events.
"""

from mpctl.verify.catalogue import CATALOGUE, Diagnosis, Entry, diagnose, explain
from mpctl.verify.claims import (
    ClaimCheck,
    ClaimFailure,
    ExpectedClaims,
    IssuerKeys,
    check_token,
    claim_failures,
    fetch_issuer_keys,
    verify_token,
    verify_token_checks,
)
from mpctl.verify.errors import EnvironmentConfigError, VerifyError
from mpctl.verify.events import JsonLinesEventLog, RecordingObserver
from mpctl.verify.keycache import current_key
from mpctl.verify.readiness import (
    EnvCredentials,
    Readiness,
    ReadinessFailure,
    credentials_from_env,
    probe,
)
from mpctl.verify.report import (
    CheckReport,
    ClaimReport,
    VerifyReport,
    build_report,
    verify_report_schema,
)
from mpctl.verify.tokens import TokenError, TokenResult, request_token, signing_key

__all__ = [
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
]
