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

from mpctl.model import (
    Client,
    DesiredState,
    ObservedClient,
    ObservedJwks,
    ObservedState,
    Scope,
    SinkState,
)
from mpctl.plan.address import Address
from mpctl.plan.adoption import ClientLinks
from mpctl.plan.diff import diff_fields
from mpctl.plan.keys import KeyInputs, KeyRequests, decide_keys
from mpctl.plan.normalize import (
    IMMUTABLE_CLIENT_FIELDS,
    client_body,
    compared_client_essences,
    observed_scope_essence,
    scope_body,
    scope_essence,
)
from mpctl.plan.ownership import ClientOwnership, Owner, ScopeOwnership
from mpctl.plan.types import (
    AccessStep,
    Action,
    ClientStep,
    Diagnostic,
    FieldChange,
    KeyStep,
    ScopeStep,
    Severity,
    Step,
)

_APPROVED = "APPROVED"


@dataclass(frozen=True)
class Planned:
    """Steps and findings for some resources, plus what was compared (for --target)."""

    steps: tuple[Step, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    unchanged: int = 0
    considered: frozenset[Address] = frozenset()

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


def _unchanged(address: Address) -> Planned:
    return Planned(unchanged=1, considered=frozenset({address}))


_ORPHAN = "carries the mpctl marker but is no longer declared in the manifests"


def _orphan_scope(name: str, users: Iterable[Address]) -> Planned:
    """Delete a scope that carries the marker but is no longer declared."""
    address = Address.scope(name)
    depends_on = tuple(sorted(users))
    return _changed(
        ScopeStep(address=address, action=Action.DELETE, depends_on=depends_on, reason=_ORPHAN)
    )


def _orphan_client(name: str, client_id: str) -> Planned:
    """Delete a client that carries the marker but is no longer declared."""
    step = ClientStep(
        address=Address.client(name), action=Action.DELETE, client_id=client_id, reason=_ORPHAN
    )
    return _changed(step)


def plan_scopes(desired: DesiredState, scopes: ScopeOwnership, clients: ClientOwnership) -> Planned:
    declared = [
        _scope(desired, scope, scopes)
        for name, scope in desired.scopes.items()
        if name not in scopes.foreign
    ]
    orphans = [_orphan_scope(name, _users(name, clients)) for name in scopes.orphaned]
    foreign = Planned(diagnostics=tuple(_foreign_scope(n, p) for n, p in scopes.foreign.items()))
    return Planned.merge([foreign, *declared, *orphans])


def _foreign_scope(name: str, project: str) -> Diagnostic:
    return Diagnostic(
        severity=Severity.ERROR,
        code="scope.foreign-marker",
        address=Address.scope(name),
        message=f"scope {name} carries the marker of mpctl project {project!r}; two projects "
        "must not manage one scope: declare it in one project only",
    )


def _users(scope: str, clients: ClientOwnership) -> list[Address]:
    """Addresses of the managed clients that use `scope` remotely."""
    return [Address.client(name) for name, c in clients.managed.items() if scope in c.scopes]


def _scope(desired: DesiredState, scope: Scope, scopes: ScopeOwnership) -> Planned:
    address = Address.scope(scope.name)
    remote = scopes.managed.get(scope.name)
    owner = Owner.of(desired)
    essence = scope_essence(scope, desired.environment, owner)
    changes = diff_fields(observed_scope_essence(remote) if remote else None, essence)
    if remote is not None and not changes:
        return _unchanged(address)
    step = ScopeStep(
        address=address,
        action=Action.CREATE if remote is None else Action.UPDATE,
        changes=changes,
        reason=_reason(remote is None, changes),
        body=scope_body(scope, desired.environment, remote, owner),
    )
    return _changed(step)


def plan_access(desired: DesiredState, observed: ObservedState, scopes: ScopeOwnership) -> Planned:
    """Grant and revoke access on declared scopes whose manifest manages `consumers`.

    Create before destroy: a scope's revocations depend on its grants, so a refused grant
    (say, an organisation number Digdir does not know) never leaves a scope with fewer
    approved consumers than before.
    """
    parts: list[Planned] = []
    for name, scope in desired.scopes.items():
        if name in scopes.foreign:
            continue
        if "consumers" not in scope.model_fields_set and not scope.consumers:
            continue
        states = {a.consumer_orgno: a.state for a in observed.access.get(name, ())}
        approved = {orgno for orgno, state in states.items() if state == _APPROVED}
        wanted = set(scope.consumers)
        grants = tuple(
            Address.access(name, o) for o in sorted(wanted) if states.get(o) != _APPROVED
        )
        for orgno in sorted(wanted | approved):
            part = _access(name, orgno, states.get(orgno), wanted=orgno in wanted)
            parts.append(_after_grants(part, grants))
    return Planned.merge(parts)


def _after_grants(part: Planned, grants: tuple[Address, ...]) -> Planned:
    """Make the revocations in `part` wait for `grants`."""
    steps = tuple(
        step.model_copy(update={"depends_on": (*step.depends_on, *grants)})
        if isinstance(step, AccessStep) and step.action is Action.DELETE and grants
        else step
        for step in part.steps
    )
    return Planned(steps, part.diagnostics, part.unchanged, part.considered)


def _access(scope: str, orgno: str, state: str | None, *, wanted: bool) -> Planned:
    address = Address.access(scope, orgno)
    if wanted == (state == _APPROVED):
        return _unchanged(address)
    step = AccessStep(
        address=address,
        action=Action.CREATE if wanted else Action.DELETE,
        changes=(FieldChange(path=("state",), old=state, new=_APPROVED if wanted else None),),
        depends_on=(Address.scope(scope),),
        reason=f"{orgno} is among the scope's consumers; access is {state or 'absent'}"
        if wanted
        else f"{orgno} has APPROVED access but is not among the scope's consumers",
    )
    return _changed(step)


def plan_clients(desired: DesiredState, clients: ClientOwnership, links: ClientLinks) -> Planned:
    declared = [
        _client(desired, client, _remote_client(name, clients, links), adopt=name in links.adopting)
        for name, client in desired.clients.items()
        if name not in links.held
    ]
    orphans = [
        _orphan_client(name, remote.client_id)
        for name, remote in clients.managed.items()
        if name not in desired.clients
    ]
    findings = Planned(diagnostics=(*_ambiguous(clients), *links.diagnostics))
    return Planned.merge([findings, *declared, *orphans])


def _remote_client(
    name: str, clients: ClientOwnership, links: ClientLinks
) -> ObservedClient | None:
    """The remote client a manifest client is linked to: by its marker, or being adopted."""
    return clients.managed.get(name) or links.adopting.get(name)


def _client(
    desired: DesiredState, client: Client, remote: ObservedClient | None, *, adopt: bool
) -> Planned:
    address = Address.client(client.name)
    observed_essence, essence = compared_client_essences(client, desired, remote)
    changes = diff_fields(observed_essence, essence)
    if remote is not None and not changes:
        return _unchanged(address)
    replace = remote is not None and any(_immutable_change(c) for c in changes)
    step = ClientStep(
        address=address,
        action=_client_action(remote is None, replace=replace, adopt=adopt),
        changes=changes,
        depends_on=tuple(Address.scope(s) for s in sorted(client.scopes)),
        reason=_client_reason(remote is None, changes, replace=replace, adopt=adopt),
        client_id=remote.client_id if remote else None,
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
            address=Address.client(name),
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
    links: ClientLinks,
    client_steps: Mapping[Address, Step],
    now: datetime,
    rotate: frozenset[str] = frozenset(),
    requests: KeyRequests | None = None,
) -> Planned:
    """Key steps for every declared client with a key policy (none for held ones).

    Clients named in `rotate` rotate their current key now, whatever its age; `requests`
    carries the explicit revocations (`--revoke`, ...).
    """
    parts: list[Planned] = []
    for name, client in desired.clients.items():
        if client.keys is None or name in links.held:
            continue
        step = client_steps.get(Address.client(name))
        new = step is not None and step.action in {Action.CREATE, Action.REPLACE}
        remote = None if new else _remote_client(name, clients, links)
        client_id = remote.client_id if remote else None
        test_scopes, test_consumer_org = _test_scopes(client)
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
                requests=requests or KeyRequests(),
                test_scopes=test_scopes,
                test_consumer_org=test_consumer_org,
            )
        )
        considered = frozenset(s.address for s in decision.steps)
        parts.append(Planned(decision.steps, decision.diagnostics, considered=considered))
    return Planned.merge(parts)


def _client_action(create: bool, *, replace: bool, adopt: bool) -> Action:
    if replace:
        return Action.REPLACE
    if adopt:
        return Action.ADOPT
    return Action.CREATE if create else Action.UPDATE


def _client_reason(
    create: bool, changes: tuple[FieldChange, ...], *, replace: bool, adopt: bool
) -> str:
    if replace:
        fields = sorted({c.path[0] for c in changes if _immutable_change(c)})
        return (
            f"{' and '.join(fields)} cannot change in place: the client is deleted and "
            "created again with a new client_id"
        )
    if adopt:
        return "adopt: takes over this existing client (writes mpctl's marker)"
    return _reason(create, changes)


def _reason(create: bool, changes: tuple[FieldChange, ...]) -> str:
    if create:
        return "declared in the manifests, not found at Digdir"
    fields = ", ".join(dict.fromkeys(".".join(c.path) for c in changes))
    return f"differs from the manifests in: {fields}"


_CREATING = frozenset({Action.CREATE, Action.ADOPT, Action.REPLACE})


def deletes_after_creates(steps: Iterable[Step]) -> tuple[Step, ...]:
    """Create before destroy, as explicit edges: a client delete waits for every client being
    created, adopted or replaced (and their keys), a scope delete for every scope being
    created, so a failure on the way in never follows a removal on the way out (a renamed
    client keeps its old one until the new one works)."""
    listed = tuple(steps)
    new_clients = {s.address for s in listed if isinstance(s, ClientStep) and s.action in _CREATING}
    client_waits = tuple(
        s.address
        for s in listed
        if isinstance(s, ClientStep | KeyStep) and s.resource in new_clients
    )
    scope_waits = tuple(
        s.address for s in listed if isinstance(s, ScopeStep) and s.action in _CREATING
    )
    return tuple(_after(step, client_waits, scope_waits) for step in listed)


def _after(step: Step, clients: tuple[Address, ...], scopes: tuple[Address, ...]) -> Step:
    """A delete made to wait for the creates of its kind; other steps as they are."""
    if step.action is not Action.DELETE:
        return step
    waits = (
        clients if isinstance(step, ClientStep) else scopes if isinstance(step, ScopeStep) else ()
    )
    if not waits:
        return step
    return step.model_copy(update={"depends_on": (*step.depends_on, *waits)})


def _test_scopes(client: Client) -> tuple[tuple[str, ...], str | None]:
    """What the rotation's token test asks for: the client's own scopes, else (a client that
    only acts for others) the first delegation's scopes on behalf of its organisation."""
    own = client.own_scopes
    if own or not client.delegations:
        return own, None
    first = client.delegations[0]
    return tuple(sorted(first.scopes)), first.consumer_org
