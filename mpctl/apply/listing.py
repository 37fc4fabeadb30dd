"""The organisation's client listing that one apply run's creates share.

Owns the freshness rule of a create's duplicate check (reliability.md S12: never a second client
for a name). A create looks for its ownership marker in a listing begun at most `max_age`
seconds before it asked. With `max_age` 0 (the default: a run cannot know that no other run
shares its environment) that is a listing begun after it asked; creates that ask while one is
in flight share the next, so one listing at a time is in flight, whatever the parallelism.
With a lock every run shares (S3), nothing but this run creates clients meanwhile, so the CLI
allows any age: the stale-plan check's observation seeds the listing and serves every create.
After an ambiguous write a create always asks for a listing begun after it (`fresh`).

Each listing is made in the task of the step that needs it first (the audit log credits the
call to that step); the others wait for its result, and look again if it fails or is cancelled.
Must not decide what a create does with what it finds (`mpctl.apply.resources` does), and must
not write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from mpctl.model import ObservedClient

ListClients = Callable[[], Awaitable[tuple[ObservedClient, ...]]]


@dataclass(frozen=True)
class _Listing:
    number: int
    """How many listings had begun when this one did (later ones have larger numbers)."""
    began: float
    clients: tuple[ObservedClient, ...]


@dataclass(frozen=True)
class _Pending:
    number: int
    began: float
    result: asyncio.Future[_Listing]


Acceptable = Callable[[int, float], bool]
"""Whether a listing of this number, begun at this time, is fresh enough for the caller."""


class SharedClientListing:
    """Listings of every client, each reused by whoever can accept how old it is."""

    def __init__(
        self, list_clients: ListClients, *, clock: Callable[[], float], max_age: float
    ) -> None:
        self._list_clients = list_clients
        self._clock = clock
        self._max_age = max_age
        self._begun = 0
        self._latest: _Listing | None = None
        self._pending: _Pending | None = None

    def seed(self, clients: Iterable[ObservedClient], *, began: float) -> None:
        """A listing the caller made itself (the stale-plan check's), begun at `began`."""
        self._begun += 1
        self._keep(_Listing(self._begun, began, tuple(clients)))

    async def recent(self) -> tuple[ObservedClient, ...]:
        """The clients as a listing begun at most `max_age` seconds ago saw them (with
        `max_age` 0, as `fresh`)."""
        if self._max_age <= 0:
            return await self.fresh()
        oldest = self._clock() - self._max_age
        return await self._listing(lambda _number, began: began >= oldest)

    async def fresh(self) -> tuple[ObservedClient, ...]:
        """The clients as a listing begun after this call saw them (after an ambiguous write:
        as fresh as a listing of the caller's own, whatever the clock says)."""
        begun_before = self._begun
        return await self._listing(lambda number, _began: number > begun_before)

    async def _listing(self, acceptable: Acceptable) -> tuple[ObservedClient, ...]:
        while True:
            latest = self._latest
            if latest is not None and acceptable(latest.number, latest.began):
                return latest.clients
            pending = self._pending
            if pending is None:
                return (await self._list_here()).clients
            await asyncio.wait([pending.result])  # never raises: a failure means look again
            if acceptable(pending.number, pending.began) and _succeeded(pending.result):
                return pending.result.result().clients

    async def _list_here(self) -> _Listing:
        """List in the caller's task; whoever waits meanwhile gets the result."""
        self._begun += 1
        pending = _Pending(self._begun, self._clock(), asyncio.get_running_loop().create_future())
        self._pending = pending
        try:
            listing = _Listing(pending.number, pending.began, await self._list_clients())
        except BaseException:
            pending.result.cancel()  # the waiters look again; the error is this caller's
            raise
        finally:
            if self._pending is pending:
                self._pending = None
        self._keep(listing)
        pending.result.set_result(listing)
        return listing

    def _keep(self, listing: _Listing) -> None:
        if self._latest is None or listing.number > self._latest.number:
            self._latest = listing


def _succeeded(result: asyncio.Future[_Listing]) -> bool:
    return result.done() and not result.cancelled()
