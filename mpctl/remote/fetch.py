"""`fetch`: one consistent, read-only snapshot (`ObservedState`) of an environment.

Owns the read sequence, all at once: the clients (listed once, then the JWKS of every active
one), the organisation's own scopes (deactivated included) with their access lists, the records
where it is a consumer (`/scopes/access/all`) and the public scopes (`/scopes/all`). A read per
client or per scope runs in `api.concurrency` lanes, so no more calls are under way than the
remote runs at once. Any failure fails the whole fetch: a partial snapshot is never returned.
Maps are built in sorted key order, so the same remote state always gives the same snapshot.
Must not write, and must not decide anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from mpctl.model import (
    ObservedAccess,
    ObservedClient,
    ObservedJwks,
    ObservedScope,
    ObservedState,
)
from mpctl.remote._paths import orgno_segment
from mpctl.remote.protocol import RemoteApi

T = TypeVar("T")


async def fetch(api: RemoteApi, *, orgno: str) -> ObservedState:
    """Read everything a plan compares against, for organisation `orgno`."""
    orgno = orgno_segment(orgno)
    clients: tuple[ObservedClient, ...]
    jwks: dict[str, ObservedJwks]
    scopes: tuple[ObservedScope, ...]
    access: dict[str, tuple[ObservedAccess, ...]]
    access_all: tuple[ObservedAccess, ...]
    public: tuple[ObservedScope, ...]
    (clients, jwks), (scopes, access), access_all, public = await _all_of(
        _clients_with_jwks(api),
        _own_scopes_with_access(api),
        api.list_access_all(),
        api.list_public_scopes(),
    )
    return ObservedState(
        clients=_by_key(clients, lambda c: c.client_id),
        jwks=jwks,
        scopes=_by_key(scopes, lambda s: s.name),
        access=access,
        consumable_scopes=_consumable(orgno, scopes, access_all, public),
        public_scopes=_by_key(public, lambda s: s.name),
    )


async def _clients_with_jwks(
    api: RemoteApi,
) -> tuple[tuple[ObservedClient, ...], dict[str, ObservedJwks]]:
    """Every client, and the JWKS of each active one (listed first: their ids come from it)."""
    clients = await api.list_clients()
    active_ids = sorted(c.client_id for c in clients if c.active)
    sets = await _each_of(active_ids, api.get_jwks, lanes=api.concurrency)
    return clients, dict(zip(active_ids, sets, strict=True))


async def _own_scopes_with_access(
    api: RemoteApi,
) -> tuple[tuple[ObservedScope, ...], dict[str, tuple[ObservedAccess, ...]]]:
    scopes = await api.list_scopes(inactive=True)
    names = sorted({s.name for s in scopes})
    lists = await _each_of(names, api.list_access, lanes=api.concurrency)
    access = {
        name: tuple(sorted(records, key=lambda r: (r.consumer_orgno, r.state)))
        for name, records in zip(names, lists, strict=True)
    }
    return scopes, access


def _consumable(
    orgno: str,
    own: Iterable[ObservedScope],
    access_all: Iterable[ObservedAccess],
    public: Iterable[ObservedScope],
) -> frozenset[str]:
    """Scopes this organisation may put on its own clients."""
    granted = {a.scope for a in access_all if a.approved and a.consumer_orgno == orgno}
    open_to_all = {s.name for s in public if s.accessible_for_all and s.active}
    owned = {s.name for s in own if s.active}
    return frozenset(granted | open_to_all | owned)


def _by_key(items: Iterable[T], key: Callable[[T], str]) -> Mapping[str, T]:
    return dict(sorted(((key(item), item) for item in items), key=lambda pair: pair[0]))


async def _each_of(
    items: Sequence[str], call: Callable[[str], Awaitable[T]], *, lanes: int
) -> list[T]:
    """`call` of each item, in the items' order, in at most `lanes` lanes: a lane takes the next
    item when its call is done, so each call is set up when the remote can take it. (A task per
    item set up all 1,000 JWKS reads, 40 ms of the event loop, before the first was sent.) On
    the first failure the other lanes are cancelled and that failure is raised itself."""
    results: dict[int, T] = {}
    indices = iter(range(len(items)))

    async def lane() -> None:
        for index in indices:  # shared: each index is taken by exactly one lane
            results[index] = await call(items[index])

    await _all_of(*(lane() for _ in range(min(max(lanes, 1), len(items)))))
    return [results[index] for index in range(len(items))]


async def _all_of(*coroutines: Coroutine[Any, Any, Any]) -> list[Any]:
    """Run concurrently; on the first failure cancel the rest and raise that failure itself."""
    failure: BaseException | None = None
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except BaseExceptionGroup as group_error:
        failure = _first_failure(group_error)
    if failure is not None:
        raise failure  # outside the handler: keeps the failure's own `from exc` chain intact
    return [task.result() for task in tasks]


def _first_failure(group_error: BaseExceptionGroup[BaseException]) -> BaseException:
    for exc in group_error.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_failure(exc)
        return exc
    return group_error
