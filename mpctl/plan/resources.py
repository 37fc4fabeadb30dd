"""Steps for Digdir objects: scopes, their access grants, clients, and the clients' keys.

Owns the set algebra (declared − observed → create, observed managed − declared → delete,
both → compare) for each kind and the dependencies between steps: a client depends on the
scopes it uses, an access grant on its scope, key steps on their client, and a scope delete
on the client steps that stop using it. Ownership decides what counts as observed; normalise
and diff decide whether a change is needed. Must not order, filter or police steps.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    def __add__(self, other: Planned) -> Planned:
        return Planned(
            steps=self.steps + other.steps,
            diagnostics=self.diagnostics + other.diagnostics,
            unchanged=self.unchanged + other.unchanged,
            considered=self.considered | other.considered,
        )


def plan_scopes(desired: DesiredState, scopes: ScopeOwnership, clients: ClientOwnership) -> Planned:
    planned = Planned()
    for scope in desired.scopes.values():
        planned += _scope(desired, scope, scopes)
    for name in scopes.orphaned:
        users = sorted(f"client/{n}" for n, c in clients.managed.items() if name in c.scopes)
        step = Step(
            address=f"scope/{name}",
            kind=StepKind.SCOPE,
            action=Action.DELETE,
            depends_on=tuple(users),
            reason="carries the mpctl marker but is no longer declared in the manifests",
            remote_id=name,
        )
        planned += Planned(steps=(step,), considered=frozenset({step.address}))
    return planned


def _scope(desired: DesiredState, scope: Scope, scopes: ScopeOwnership) -> Planned:
    address = f"scope/{scope.name}"
    remote = scopes.managed.get(scope.name)
    essence = scope_essence(scope, desired.environment)
    changes = diff_fields(observed_scope_essence(remote) if remote else None, essence)
    if remote is not None and not changes:
        return Planned(unchanged=1, considered=frozenset({address}))
    step = Step(
        address=address,
        kind=StepKind.SCOPE,
        action=Action.CREATE if remote is None else Action.UPDATE,
        changes=changes,
        reason=_reason(remote is None, changes),
        remote_id=scope.name,
        body=scope_body(scope, desired.environment, remote),
    )
    return Planned(steps=(step,), considered=frozenset({address}))


def plan_access(desired: DesiredState, observed: ObservedState) -> Planned:
    """Grant and revoke access on declared scopes whose manifest manages `consumers`."""
    planned = Planned()
    for name, scope in desired.scopes.items():
        if "consumers" not in scope.model_fields_set and not scope.consumers:
            continue
        states = {a.consumer_orgno: a.state for a in observed.access.get(name, ())}
        approved = {orgno for orgno, state in states.items() if state == _APPROVED}
        for orgno in sorted(set(scope.consumers) | approved):
            planned += _access(name, orgno, states.get(orgno), wanted=orgno in scope.consumers)
    return planned


def _access(scope: str, orgno: str, state: str | None, *, wanted: bool) -> Planned:
    address = f"scope/{scope}/access/{orgno}"
    if wanted == (state == _APPROVED):
        return Planned(unchanged=1, considered=frozenset({address}))
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
    return Planned(steps=(step,), considered=frozenset({address}))


def plan_clients(desired: DesiredState, clients: ClientOwnership) -> Planned:
    planned = Planned(diagnostics=tuple(_ambiguous(clients)))
    for name, client in desired.clients.items():
        if name not in clients.ambiguous:
            planned += _client(desired, client, clients.managed.get(name))
    for name, remote in clients.managed.items():
        if name not in desired.clients:
            step = Step(
                address=f"client/{name}",
                kind=StepKind.CLIENT,
                action=Action.DELETE,
                reason="carries the mpctl marker but is no longer declared in the manifests",
                remote_id=remote.client_id,
            )
            planned += Planned(steps=(step,), considered=frozenset({step.address}))
    return planned


def _client(desired: DesiredState, client: Client, remote: ObservedClient | None) -> Planned:
    address = f"client/{client.name}"
    essence = client_essence(client, desired)
    changes = diff_fields(observed_client_essence(remote) if remote else None, essence)
    if remote is not None and not changes:
        return Planned(unchanged=1, considered=frozenset({address}))
    replace = remote is not None and any(c.path[0] in IMMUTABLE_CLIENT_FIELDS for c in changes)
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
    return Planned(steps=(step,), considered=frozenset({address}))


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
) -> Planned:
    """Key steps for every declared client with a key policy (none for ambiguous ones)."""
    planned = Planned()
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
            )
        )
        considered = frozenset(s.address for s in decision.steps)
        planned += Planned(decision.steps, decision.diagnostics, considered=considered)
    return planned


def _create_or_update(create: bool) -> Action:
    return Action.CREATE if create else Action.UPDATE


def _reason(create: bool, changes: tuple[FieldChange, ...]) -> str:
    if create:
        return "declared in the manifests, not found at Digdir"
    fields = ", ".join(".".join(c.path) for c in changes)
    return f"differs from the manifests in: {fields}"
