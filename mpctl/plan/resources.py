"""Steps for Digdir objects: scopes, their access grants, clients, and the clients' keys.

Owns the set algebra (declared − observed → create, observed managed − declared → delete,
both → compare) for each kind and the dependencies between steps: a client depends on the
scopes it uses, an access grant on its scope, key steps on their client, and a scope delete
on the client steps that stop using it. Ownership decides what counts as observed; normalise
and diff decide whether a change is needed. Must not order, filter or police steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from mpctl.model.keys import SinkState
from mpctl.model.observed import ObservedClient, ObservedJwks, ObservedState
from mpctl.model.resources import Client, Scope
from mpctl.model.state import DesiredState
from mpctl.plan.diff import diff_fields
from mpctl.plan.keys import KeyInputs, decide_keys
from mpctl.plan.normalize import (
    IMMUTABLE_CLIENT_FIELDS,
    client_body,
    client_essence,
    observed_client_essence,
    observed_scope_essence,
    scope_body,
    scope_essence,
)
from mpctl.plan.ownership import ClientOwnership, ScopeOwnership
from mpctl.plan.types import Action, Diagnostic, FieldChange, Severity, Step, StepKind

_APPROVED = "APPROVED"


@dataclass(frozen=True)
class Planned:
    """Steps and findings for some resources, plus what was compared (for --target)."""

    steps: tuple[Step, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    unchanged: int = 0
    considered: frozenset[str] = frozenset()

    @classmethod
    def merge(cls, parts: Iterable[Planned]) -> Planned:
        listed = list(parts)
        return cls(
            steps=tuple(step for part in listed for step in part.steps),
            diagnostics=tuple(found for part in listed for found in part.diagnostics),
            unchanged=sum(part.unchanged for part in listed),
            considered=frozenset(address for part in listed for address in part.considered),
        )


def _changed(step: Step) -> Planned:
    return Planned(steps=(step,), considered=frozenset({step.address}))


def _unchanged(address: str) -> Planned:
    return Planned(unchanged=1, considered=frozenset({address}))


def _orphan(kind: StepKind, name: str, remote_id: str, users: Iterable[str] = ()) -> Planned:
    """Delete a remote object that carries the marker but is no longer declared."""
    return _changed(
        Step(
            address=f"{kind.value}/{name}",
            kind=kind,
            action=Action.DELETE,
            depends_on=tuple(sorted(users)),
            reason="carries the mpctl marker but is no longer declared in the manifests",
            remote_id=remote_id,
        )
    )


def plan_scopes(desired: DesiredState, scopes: ScopeOwnership, clients: ClientOwnership) -> Planned:
    declared = [_scope(desired, scope, scopes) for scope in desired.scopes.values()]
    orphans = [
        _orphan(StepKind.SCOPE, name, name, _users(name, clients)) for name in scopes.orphaned
    ]
    return Planned.merge([*declared, *orphans])


def _users(scope: str, clients: ClientOwnership) -> list[str]:
    """Addresses of the managed clients that use `scope` remotely."""
    return [f"client/{name}" for name, c in clients.managed.items() if scope in c.scopes]


def _scope(desired: DesiredState, scope: Scope, scopes: ScopeOwnership) -> Planned:
    address = f"scope/{scope.name}"
    remote = scopes.managed.get(scope.name)
    essence = scope_essence(scope, desired.environment)
    changes = diff_fields(observed_scope_essence(remote) if remote else None, essence)
    if remote is not None and not changes:
        return _unchanged(address)
    step = Step(
        address=address,
        kind=StepKind.SCOPE,
        action=Action.CREATE if remote is None else Action.UPDATE,
        changes=changes,
        reason=_reason(remote is None, changes),
        remote_id=scope.name,
        body=scope_body(scope, desired.environment, remote),
    )
    return _changed(step)


def plan_access(desired: DesiredState, observed: ObservedState) -> Planned:
    """Grant and revoke access on declared scopes whose manifest manages `consumers`."""
    parts: list[Planned] = []
    for name, scope in desired.scopes.items():
        if "consumers" not in scope.model_fields_set and not scope.consumers:
            continue
        states = {a.consumer_orgno: a.state for a in observed.access.get(name, ())}
        approved = {orgno for orgno, state in states.items() if state == _APPROVED}
        for orgno in sorted(set(scope.consumers) | approved):
            parts.append(_access(name, orgno, states.get(orgno), wanted=orgno in scope.consumers))
    return Planned.merge(parts)


def _access(scope: str, orgno: str, state: str | None, *, wanted: bool) -> Planned:
    address = f"scope/{scope}/access/{orgno}"
    if wanted == (state == _APPROVED):
        return _unchanged(address)
    step = Step(
        address=address,
        kind=StepKind.ACCESS,
        action=Action.CREATE if wanted else Action.DELETE,
        changes=(FieldChange(path=("state",), old=state, new=_APPROVED if wanted else None),),
        depends_on=(f"scope/{scope}",),
        reason=f"{orgno} is among the scope's consumers; access is {state or 'absent'}"
        if wanted
        else f"{orgno} has APPROVED access but is not among the scope's consumers",
        remote_id=scope,
        consumer_orgno=orgno,
    )
    return _changed(step)


def plan_clients(desired: DesiredState, clients: ClientOwnership) -> Planned:
    declared = [
        _client(desired, client, clients.managed.get(name))
        for name, client in desired.clients.items()
        if name not in clients.ambiguous
    ]
    orphans = [
        _orphan(StepKind.CLIENT, name, remote.client_id)
        for name, remote in clients.managed.items()
        if name not in desired.clients
    ]
    ambiguous = Planned(diagnostics=tuple(_ambiguous(clients)))
    return Planned.merge([ambiguous, *declared, *orphans])


def _client(desired: DesiredState, client: Client, remote: ObservedClient | None) -> Planned:
    address = f"client/{client.name}"
    essence = client_essence(client, desired)
    changes = diff_fields(observed_client_essence(remote) if remote else None, essence)
    if remote is not None and not changes:
        return _unchanged(address)
    replace = remote is not None and any(_immutable_change(c) for c in changes)
    step = Step(
        address=address,
        kind=StepKind.CLIENT,
        action=Action.REPLACE if replace else _create_or_update(remote is None),
        changes=changes,
        depends_on=tuple(f"scope/{s}" for s in sorted(client.scopes)),
        reason="integration_type cannot change in place: the client is deleted and created "
        "again with a new client_id"
        if replace
        else _reason(remote is None, changes),
        remote_id=remote.client_id if remote else None,
        body=client_body(client, desired),
    )
    return _changed(step)


def _immutable_change(change: FieldChange) -> bool:
    """A field Digdir will not change in place, changed from a value it did report."""
    return change.path[0] in IMMUTABLE_CLIENT_FIELDS and change.old is not None


def _ambiguous(clients: ClientOwnership) -> list[Diagnostic]:
    return [
        Diagnostic(
            severity=Severity.ERROR,
            code="client.ambiguous-marker",
            address=f"client/{name}",
            message=f"clients {', '.join(ids)} all carry the marker [mpctl:{name}]; none is "
            "touched until only one does",
        )
        for name, ids in clients.ambiguous.items()
    ]


def plan_keys(
    desired: DesiredState,
    observed: ObservedState,
    sinks: Mapping[str, SinkState],
    *,
    clients: ClientOwnership,
    client_steps: Mapping[str, Step],
    now: datetime,
    rotate: frozenset[str] = frozenset(),
) -> Planned:
    """Key steps for every declared client with a key policy (none for ambiguous ones).

    Clients named in `rotate` rotate their current key now, whatever its age.
    """
    parts: list[Planned] = []
    for name, client in desired.clients.items():
        if client.keys is None or name in clients.ambiguous:
            continue
        step = client_steps.get(f"client/{name}")
        new = step is not None and step.action in {Action.CREATE, Action.REPLACE}
        remote = None if new else clients.managed.get(name)
        client_id = remote.client_id if remote else None
        decision = decide_keys(
            KeyInputs(
                client=name,
                policy=client.keys,
                sink=sinks.get(name, SinkState()),
                jwks=observed.jwks.get(client_id, ObservedJwks()) if client_id else ObservedJwks(),
                now=now,
                client_id=client_id,
                new_client=new,
                rotate_requested=name in rotate,
            )
        )
        considered = frozenset(s.address for s in decision.steps)
        parts.append(Planned(decision.steps, decision.diagnostics, considered=considered))
    return Planned.merge(parts)


def _create_or_update(create: bool) -> Action:
    return Action.CREATE if create else Action.UPDATE


def _reason(create: bool, changes: tuple[FieldChange, ...]) -> str:
    if create:
        return "declared in the manifests, not found at Digdir"
    fields = ", ".join(".".join(c.path) for c in changes)
    return f"differs from the manifests in: {fields}"
