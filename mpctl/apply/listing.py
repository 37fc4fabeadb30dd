"""The organisation's client listing that one apply run's creates share.

Owns the freshness rule of a create's duplicate check (issue 13). A create looks for its
ownership marker in a listing begun at most `max_age` seconds before it asks; the stale-plan
check's observation is the first such listing, and creates asking at once share one request.
After an ambiguous write a create asks for a listing begun after that moment, which is as fresh
as a listing of its own. So N creates list O(run time / max_age) times instead of N times, and
each listing is O(N): a thousand creates no longer download a thousand full listings, while a
client another, unlocked run made more than `max_age` seconds earlier is still found.

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
        latest = self._latest
        if latest is not None and acceptable(latest.number, latest.began):
            return latest.clients
        pending = self._pending
        if pending is None or not acceptable(pending.number, pending.began):
            pending = self._start()
        return (await asyncio.shield(pending.result)).clients

    def _start(self) -> _Pending:
        self._begun += 1
        number, began = self._begun, self._clock()
        self._pending = _Pending(number, began, asyncio.ensure_future(self._fetch(number, began)))
        return self._pending

    async def _fetch(self, number: int, began: float) -> _Listing:
        try:
            listing = _Listing(number, began, await self._list_clients())
        finally:
            if self._pending is not None and self._pending.number == number:
                self._pending = None
        self._keep(listing)
        return listing

    def _keep(self, listing: _Listing) -> None:
        if self._latest is None or listing.number > self._latest.number:
            self._latest = listing
