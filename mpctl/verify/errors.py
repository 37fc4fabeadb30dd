"""Errors of the verify package: what went wrong while building or checking a token request.

Owns `VerifyError` and its subclasses. Messages name kids, scopes, URLs and MP codes; they must
never contain private keys, signed grants or access tokens.
"""

from __future__ import annotations

from mpctl.errors import MpctlError


class VerifyError(MpctlError):
    """Verification could not be carried out or did not pass."""

    code = "VERIFY"


class EnvironmentConfigError(VerifyError):
    """The `MASKINPORTEN_*` environment is not ready for live use (see `readiness.probe`)."""

    code = "ENV_NOT_READY"
