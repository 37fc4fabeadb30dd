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
        check = _customer_may_use if desired.is_supplied(client) else _may_use
        for scope in sorted(client.scopes):
            problem = check(scope, desired.client_orgno(client), desired, observed)
            if problem is not None:
                severity, what = problem
                yield Diagnostic(
                    severity=severity,
                    code="client.scope-no-access",
                    address=f"client/{client.name}",
                    message=f"scope {scope} {what}",
                )


_NO_ACCESS = (
    Severity.ERROR,
    "is not this organisation's, not granted to it (no APPROVED access), not open to all and "
    "not delegable; Digdir will refuse the client",
)


def _may_use(
    scope: str, orgno: str, desired: DesiredState, observed: ObservedState
) -> tuple[Severity, str] | None:
    """Our own client: the scope is ours, granted to us, open to all, or delegable."""
    del orgno
    public = observed.public_scopes.get(scope)
    usable = (
        scope in desired.scopes
        or scope in observed.scopes
        or scope in observed.consumable_scopes
        or bool(public and public.delegation_source)
    )
    return None if usable else _NO_ACCESS


def _customer_may_use(
    scope: str, orgno: str, desired: DesiredState, observed: ObservedState
) -> tuple[Severity, str] | None:
    """A customer's client (supplier mode): what counts is the customer's access, not ours. Our
    own declared scope must name the customer as a consumer (or be open to all); another
    provider's scope is fine when open to all or delegable, and otherwise cannot be checked from
    here (we see only our own grants): a warning, not an error."""
    declared = desired.scopes.get(scope)
    if declared is not None:
        if declared.accessible_for_all or orgno in declared.consumers:
            return None
        return (
            Severity.ERROR,
            f"is this organisation's but not granted to customer {orgno}: add it to the "
            "scope's consumers, or Digdir will refuse the client",
        )
    public = observed.public_scopes.get(scope) or observed.scopes.get(scope)
    if public is not None and (public.accessible_for_all or public.delegation_source):
        return None
    return (
        Severity.WARNING,
        f"belongs to another provider; whether customer {orgno} has access cannot be seen "
        "with this organisation's admin token (Digdir refuses the client if it has not)",
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
