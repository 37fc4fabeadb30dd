"""Linking manifest clients to remote clients that carry no marker of this project.

Owns the two rules that keep a missing or lost marker from ever creating a duplicate client:

* `adopt: <client_id>` in a manifest takes that remote client over: the planner emits an
  `adopt` step, which writes the marker (and the managed fields) on the next apply, under the
  lock, after review. `mpctl import` writes such manifests; it never writes to Digdir itself.
* A manifest client with no managed remote client, where an unmarked remote client looks like
  its own (the secret sink records that client_id, or it has exactly the client_name mpctl
  would give it), gets no step at all and an error that says how to decide.

Must not do I/O or build steps: it only says which remote client each name is linked to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mpctl.model import Client, DesiredState, ObservedClient, ObservedState, SinkState
from mpctl.plan.address import Address
from mpctl.plan.normalize import default_client_name
from mpctl.plan.ownership import ClientOwnership, Owner, parse_marker
from mpctl.plan.types import Diagnostic, Severity


@dataclass(frozen=True)
class ClientLinks:
    """What the planner does with each manifest client beyond the marker's verdict."""

    adopting: Mapping[str, ObservedClient]
    """Manifest name → the unmarked remote client an `adopt` step takes over."""
    held: frozenset[str]
    """Manifest names that get no step until a person decides (each has an error): those
    whose marker two remote clients carry, and those with an adoption or look-alike problem."""
    diagnostics: tuple[Diagnostic, ...]


def link_clients(
    desired: DesiredState,
    observed: ObservedState,
    sinks: Mapping[str, SinkState],
    ownership: ClientOwnership,
) -> ClientLinks:
    owner = Owner.of(desired)
    adopting: dict[str, ObservedClient] = {}
    held: set[str] = set(ownership.ambiguous)
    found: list[Diagnostic] = []
    claimed: dict[str, str] = {}
    unmarked = _Unmarked.of(observed)
    for name, client in desired.clients.items():
        if name in ownership.ambiguous:
            continue
        if client.adopt is not None:
            problem = _adoption_problem(
                name,
                client.adopt,
                observed=observed,
                ownership=ownership,
                owner=owner,
                claimed=claimed,
            )
            if problem is None and name not in ownership.managed:
                adopting[name] = observed.clients[client.adopt]
            claimed.setdefault(client.adopt, name)
        elif name not in ownership.managed:
            problem = _lookalike_problem(name, client, desired, unmarked, sinks.get(name))
        else:
            problem = None
        if problem is not None:
            held.add(name)
            found.append(_error(name, *problem))
    return ClientLinks(adopting=adopting, held=frozenset(held), diagnostics=tuple(found))


def _adoption_problem(
    name: str,
    client_id: str,
    *,
    observed: ObservedState,
    ownership: ClientOwnership,
    owner: Owner,
    claimed: Mapping[str, str],
) -> tuple[str, str] | None:
    managed = ownership.managed.get(name)
    if managed is not None:
        if managed.client_id == client_id:
            return None
        return (
            "client.adopt-conflict",
            f"adopt: {client_id} names another client than {managed.client_id}, which already "
            f"carries this client's marker; remove the `adopt:` line or fix the client_id",
        )
    if client_id in claimed:
        return (
            "client.adopt-conflict",
            f"adopt: {client_id} is also claimed by client/{claimed[client_id]}; one remote "
            "client can be adopted by one manifest client only",
        )
    target = observed.clients.get(client_id)
    if target is None or not target.active:
        return (
            "client.adopt-missing",
            f"adopt: {client_id} is not an active client of this organisation at Digdir; "
            "check the client_id (`mpctl plan` lists clients that are not managed)",
        )
    marker = parse_marker(target.description)
    if marker is not None and not owner.claims(marker):
        return (
            "client.adopt-foreign",
            f"adopt: {client_id} is {owner.describe(marker)}; it cannot be adopted here "
            "until that project lets it go (removes it from its manifests without deleting it)",
        )
    if marker is not None:
        return (
            "client.adopt-conflict",
            f"adopt: {client_id} already carries the marker {marker} of client/{marker.name}",
        )
    return None


@dataclass(frozen=True)
class _Unmarked:
    """Active remote clients without any mpctl marker, indexed once per plan."""

    ids: frozenset[str]
    by_name: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, observed: ObservedState) -> _Unmarked:
        ids = sorted(
            client_id
            for client_id, remote in observed.clients.items()
            if remote.active and parse_marker(remote.description) is None
        )
        by_name: dict[str, list[str]] = {}
        for client_id in ids:
            client_name = observed.clients[client_id].client_name
            if client_name is not None:
                by_name.setdefault(client_name, []).append(client_id)
        return cls(frozenset(ids), {k: tuple(v) for k, v in by_name.items()})


def _lookalike_problem(
    name: str,
    client: Client,
    desired: DesiredState,
    unmarked: _Unmarked,
    sink: SinkState | None,
) -> tuple[str, str] | None:
    """The first unmarked client (by client_id) whose id the sink records or whose name is
    exactly the one mpctl would give `client`."""
    expected_name = client.client_name or default_client_name(client, desired)
    recorded = sink.client_id if sink is not None else None
    by_sink = (recorded,) if recorded in unmarked.ids else ()
    candidates = sorted({*by_sink, *unmarked.by_name.get(expected_name, ())})
    if not candidates:
        return None
    client_id = candidates[0]
    if client_id == recorded:
        why = "the secret sink records this client_id for it"
    else:
        why = f"it has exactly the client_name {expected_name!r}"
    return (
        "client.looks-like-yours",
        f"Digdir has client {client_id} without mpctl's marker, and it looks like this one "
        f"({why}); nothing is created until you decide. To take it over, add "
        f"`adopt: {client_id}` to client {name!r} (under `overrides.{desired.env_name}` "
        f"if it exists in several environments) and apply; to make a new client instead, "
        "give this one another client_name",
    )


def _error(name: str, code: str, message: str) -> Diagnostic:
    return Diagnostic(
        severity=Severity.ERROR, code=code, address=Address.client(name), message=message
    )
