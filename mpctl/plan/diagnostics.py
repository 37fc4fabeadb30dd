"""Plan-time checks on what the manifests ask for, given what Digdir shows.

Owns the diagnostics that are not about one step and need Digdir's observed state: consumed
scopes this organisation has no access to (Digdir refuses such a client), and delegations
(Altinn owns them, so they produce diagnostics only) of a scope Digdir does not know or shows
without a delegation source. Rules that need only the manifests (own organisation as
consumer_org, a delegated scope missing from the client, a declared scope without or with an
unknown delegation source) are `mpctl.manifests.lint`'s (MPL102, MPL112, MPL103, MPL113), which
every command runs before planning; they must not be repeated here. Key diagnostics live in
`mpctl.plan.keys`. Must not do I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from mpctl.model import Client, Delegation, DesiredState, ObservedScope, ObservedState
from mpctl.plan.types import Diagnostic, Severity


def check_desired(desired: DesiredState, observed: ObservedState) -> tuple[Diagnostic, ...]:
    """All plan-time diagnostics about clients, scopes and delegations, in a stable order."""
    return (*_scope_access(desired, observed), *_delegations(desired, observed))


def _scope_access(desired: DesiredState, observed: ObservedState) -> Iterator[Diagnostic]:
    for client in desired.clients.values():
        for scope in sorted(client.scopes):
            if not _may_use(scope, desired, observed):
                yield Diagnostic(
                    severity=Severity.ERROR,
                    code="client.scope-no-access",
                    address=f"client/{client.name}",
                    message=f"scope {scope} is not this organisation's, not granted to it "
                    "(no APPROVED access), not open to all and not delegable; Digdir will "
                    "refuse the client",
                )


def _may_use(scope: str, desired: DesiredState, observed: ObservedState) -> bool:
    public = observed.public_scopes.get(scope)
    return (
        scope in desired.scopes
        or scope in observed.scopes
        or scope in observed.consumable_scopes
        or bool(public and public.delegation_source)
    )


def _delegations(desired: DesiredState, observed: ObservedState) -> Iterator[Diagnostic]:
    for client in desired.clients.values():
        for delegation in client.delegations:
            yield from _check_delegation(client, delegation, desired, observed)


def _check_delegation(
    client: Client, delegation: Delegation, desired: DesiredState, observed: ObservedState
) -> Iterator[Diagnostic]:
    """Delegated scopes Digdir owns; a scope declared in the manifests is lint's (MPL103)."""
    for scope in sorted(set(delegation.scopes) - set(desired.scopes)):
        remote = observed.scopes.get(scope) or observed.public_scopes.get(scope)
        problem = _remote_delegation_problem(remote, delegation.consumer_org)
        if problem is not None:
            severity, code, what = problem
            address = f"client/{client.name}"
            yield Diagnostic(
                severity=severity, code=code, address=address, message=f"scope {scope} {what}"
            )


def _remote_delegation_problem(
    remote: ObservedScope | None, consumer: str
) -> tuple[Severity, str, str] | None:
    """(severity, code, what is wrong) for a delegated scope as Digdir shows it, if anything is."""
    if remote is None:
        return (
            Severity.WARNING,
            "delegation.scope-unknown",
            f"(delegated by {consumer}) is not declared here nor public at Digdir",
        )
    if not remote.delegation_source:
        return (
            Severity.ERROR,
            "delegation.no-source",
            f"has no delegation_source, so {consumer} cannot delegate it through Altinn",
        )
    return None
