"""The one root of mpctl's exceptions.

Owns the error hierarchy and its stable codes; every subclass says what the caller should do
(fix input, retry, stop). It must not format output or choose exit codes: only `mpctl.cli`
turns errors into messages and exit codes. Messages never contain secret material.
"""

from __future__ import annotations


class MpctlError(Exception):
    """Root of every error mpctl raises on purpose. `code` is stable; `hint` says how to fix it."""

    code = "MPCTL"
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UserError(MpctlError):
    """The input (manifests, flags, files) is wrong; the user fixes it and runs again."""

    code = "USER"


class ConfigError(UserError):
    """`mpctl.yaml` or an environment setting is missing or inconsistent."""

    code = "CONFIG"


class RemoteError(MpctlError):
    """A call to Digdir (or the emulator) failed; subclasses in `mpctl.remote.errors`."""

    code = "REMOTE"


class StalePlanError(MpctlError):
    """A saved plan no longer matches what is observed; nothing was written."""

    code = "STALE_PLAN"


class LockedError(MpctlError):
    """Another apply holds the environment lock."""

    code = "LOCKED"


class SecretSinkError(MpctlError):
    """A secret sink refused a read or a write."""

    code = "SECRET_SINK"
