"""Verify: JWT grant → token exchange → claim checks, the error catalogue, readiness.

Public API of the package; the modules inside own the details. May import `mpctl.secrets`,
`mpctl.model` and `mpctl.errors` only (never the remote client, the planner, apply or the
emulator). Nothing here prints; the CLI renders results and events.
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
from mpctl.verify.errors import EnvironmentConfigError, GrantError, VerifyError
from mpctl.verify.events import (
    JsonLinesEventLog,
    RecordingObserver,
    TokenEvent,
    TokenObserver,
    null_observer,
)
from mpctl.verify.grant import GrantRequest, grant_claims, new_jti, sign_grant
from mpctl.verify.readiness import (
    EnvCredentials,
    Readiness,
    ReadinessFailure,
    credentials_from_env,
    probe,
)
from mpctl.verify.tokens import (
    DEFAULT_BUDGET,
    GrantFactory,
    RetryBudget,
    TokenError,
    TokenResult,
    fresh_grants,
    request_token,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_BUDGET",
    "ClaimFailure",
    "Diagnosis",
    "Entry",
    "EnvCredentials",
    "EnvironmentConfigError",
    "ExpectedClaims",
    "GrantError",
    "GrantFactory",
    "GrantRequest",
    "JsonLinesEventLog",
    "Readiness",
    "ReadinessFailure",
    "RecordingObserver",
    "RetryBudget",
    "TokenError",
    "TokenEvent",
    "TokenObserver",
    "TokenResult",
    "VerifyError",
    "check_token",
    "claim_failures",
    "credentials_from_env",
    "diagnose",
    "explain",
    "fetch_issuer_keys",
    "fresh_grants",
    "grant_claims",
    "new_jti",
    "null_observer",
    "probe",
    "request_token",
    "sign_grant",
    "verify_token",
]
