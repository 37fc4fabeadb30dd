"""Plan-time checks on what the manifests ask for, given what Digdir shows.

Owns the diagnostics that are not about one step: consumed scopes this organisation has no
access to (Digdir refuses such a client), delegations (Altinn owns them, so they produce
diagnostics only) whose scope has no delegation source, and delegation sources the
environment does not name. Key diagnostics live in `mpctl.plan.keys`. Must not do I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from mpctl.model.observed import ObservedState
from mpctl.model.resources import Client, Delegation
from mpctl.model.state import DesiredState
from mpctl.plan.normalize import resolve_delegation_source
from mpctl.plan.types import Diagnostic, Severity

_URL_SCHEMES = ("https://", "http://")


def check_desired(desired: DesiredState, observed: ObservedState) -> tuple[Diagnostic, ...]:
    """All plan-time diagnostics about clients, scopes and delegations, in a stable order."""
    return (
        *_scope_access(desired, observed),
        *_delegations(desired, observed),
        *_delegation_source_names(desired),
    )


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
    address = f"client/{client.name}"
    consumer = delegation.consumer_org
    if consumer == desired.organisation.orgno:
        yield _error(
            address,
            "delegation.own-org",
            f"consumer_org {consumer} is this "
            "organisation; Maskinporten rejects consumer_org equal to the client's org",
        )
    for scope in sorted(delegation.scopes):
        if scope not in client.scopes:
            yield _warning(
                address,
                "delegation.scope-not-on-client",
                f"the delegation from "
                f"{consumer} names {scope}, which is not among the client's scopes",
            )
        known, source = _delegation_source(scope, desired, observed)
        if not known:
            yield _warning(
                address,
                "delegation.scope-unknown",
                f"scope {scope} (delegated by "
                f"{consumer}) is not declared here nor public at Digdir",
            )
        elif not source:
            yield _error(
                address,
                "delegation.no-source",
                f"scope {scope} has no "
                f"delegation_source, so {consumer} cannot delegate it through Altinn",
            )


def _delegation_source(
    scope: str, desired: DesiredState, observed: ObservedState
) -> tuple[bool, str | None]:
    """(whether the scope is known, its delegation source) from manifests, then Digdir."""
    if scope in desired.scopes:
        declared = desired.scopes[scope].delegation_source
        return True, resolve_delegation_source(declared, desired.environment)
    remote = observed.scopes.get(scope) or observed.public_scopes.get(scope)
    return remote is not None, remote.delegation_source if remote else None


def _delegation_source_names(desired: DesiredState) -> Iterator[Diagnostic]:
    known = desired.environment.delegation_sources
    for scope in desired.scopes.values():
        source = scope.delegation_source
        if source and source not in known and not source.startswith(_URL_SCHEMES):
            names = ", ".join(sorted(known)) or "none"
            yield _error(
                f"scope/{scope.name}",
                "scope.unknown-delegation-source",
                f"delegation_source {source!r} is neither a URL nor a delegation "
                f"source of environment {desired.env_name} (known: {names})",
            )


def _error(address: str, code: str, message: str) -> Diagnostic:
    return Diagnostic(severity=Severity.ERROR, code=code, message=message, address=address)


def _warning(address: str, code: str, message: str) -> Diagnostic:
    return Diagnostic(severity=Severity.WARNING, code=code, message=message, address=address)
