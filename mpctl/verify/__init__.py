"""Verify: token exchange outcome → claim checks, the error catalogue, readiness.

Public API of the package; the modules inside own the details. May import `mpctl.secrets`,
`mpctl.model`, `mpctl.errors` and `mpctl.remote`'s token exchange (`TokenExchange`, grants,
events), never the self-service client, the planner, apply or the emulator. Nothing here
prints; the CLI renders results and events.
"""

from mpctl.verify.catalogue import CATALOGUE, Diagnosis, Entry, diagnose, explain
from mpctl.verify.claims import (
    ClaimFailure,
    ExpectedClaims,
    check_token,
    claim_failures,
    fetch_issuer_keys,
    verify_token,
)
from mpctl.verify.errors import EnvironmentConfigError, VerifyError
from mpctl.verify.events import JsonLinesEventLog, RecordingObserver
from mpctl.verify.readiness import (
    EnvCredentials,
    Readiness,
    ReadinessFailure,
    credentials_from_env,
    probe,
)
from mpctl.verify.tokens import TokenError, TokenResult, request_token, signing_key

__all__ = [
    "CATALOGUE",
    "ClaimFailure",
    "Diagnosis",
    "Entry",
    "EnvCredentials",
    "EnvironmentConfigError",
    "ExpectedClaims",
    "JsonLinesEventLog",
    "Readiness",
    "ReadinessFailure",
    "RecordingObserver",
    "TokenError",
    "TokenResult",
    "VerifyError",
    "check_token",
    "claim_failures",
    "credentials_from_env",
    "diagnose",
    "explain",
    "fetch_issuer_keys",
    "probe",
    "request_token",
    "signing_key",
    "verify_token",
]
