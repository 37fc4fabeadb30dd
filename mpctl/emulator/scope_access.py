"""Who may use a scope: the access rules shared by client registration and the token endpoint.

Owns the meaning of "has access" (owner, `accessible_for_all`, or an APPROVED record), of
"may register" (access, or a delegation-capable scope) and integration-type compatibility.
It must not produce HTTP errors; callers turn a False into their own refusal.
"""

from __future__ import annotations

from mpctl.emulator.state import AccessRecord, EmulatorState, ScopeRecord


def has_approved_access(state: EmulatorState, scope: str, orgno: str) -> bool:
    record = state.access.get(AccessRecord.key(scope, orgno))
    return record is not None and record.state == "APPROVED"


def consumer_has_access(state: EmulatorState, scope: ScopeRecord, orgno: str) -> bool:
    """The org owns the scope, the scope is open to all, or the org's access is APPROVED."""
    return (
        scope.owner_orgno == orgno
        or scope.accessible_for_all
        or has_approved_access(state, scope.name, orgno)
    )


def may_register(state: EmulatorState, scope: ScopeRecord, orgno: str) -> bool:
    """Whether a client of `orgno` may carry the scope (delegation scopes are open to suppliers)."""
    return consumer_has_access(state, scope, orgno) or scope.delegation_source is not None


def allows_integration_type(scope: ScopeRecord, integration_type: str) -> bool:
    """An empty `allowed_integration_types` allows every type."""
    allowed = scope.allowed_integration_types
    return not allowed or integration_type in allowed
