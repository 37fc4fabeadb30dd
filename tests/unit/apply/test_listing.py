"""SharedClientListing: which listing a create may look for its marker in, and who shares it.

A fake `list_clients` counts its calls, can be held open (so callers overlap) and can fail; a
hand-moved clock stands for time. Covered: a seed (the stale-plan check's listing) serves every
create while it is recent, then one new listing serves the callers that ask at once; `fresh`
never answers with a listing begun before the call, however still the clock stands, even with
one pending, and the callers that arrive during a listing share the next; a failed listing
fails only the caller that made it, and the ones waiting list again; max age 0 lists for
every call made one after another.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from mpctl.apply.listing import SharedClientListing
from mpctl.model import ObservedClient

MAX_AGE = 10.0


def client(number: int) -> ObservedClient:
    return ObservedClient.model_validate(
        {
            "client_id": f"id-{number}",
            "client_name": f"client-{number}",
            "description": "made in a test",
            "integration_type": "maskinporten",
            "scopes": [],
            "active": True,
        }
    )


@dataclass
class FakeApi:
    """Lists `made` clients; `gate` (when set) holds each listing until it is opened."""

    made: list[ObservedClient] = field(default_factory=list)
    calls: int = 0
    gate: asyncio.Event | None = None
    fail_next: bool = False

    async def list_clients(self) -> tuple[ObservedClient, ...]:
        self.calls += 1
        seen = tuple(self.made)  # what the server holds when the request arrives
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("listing failed")
        return seen


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    """Let every task started so far run until it waits."""
    for _ in range(5):
        await asyncio.sleep(0)


def shared(api: FakeApi, clock: Clock, max_age: float = MAX_AGE) -> SharedClientListing:
    return SharedClientListing(api.list_clients, clock=clock, max_age=max_age)


async def test_the_seed_serves_every_call_while_recent_then_one_new_listing_serves_many() -> None:
    api, clock = FakeApi(made=[client(1)]), Clock()
    listing = shared(api, clock)
    listing.seed([client(1)], began=clock.now)
    for _ in range(5):
        assert [c.client_id for c in await listing.recent()] == ["id-1"]
    assert api.calls == 0

    clock.now += MAX_AGE + 1
    api.made.append(client(2))
    api.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(listing.recent()) for _ in range(8)]
    await settle()
    api.gate.set()
    answers = await asyncio.gather(*waiting)
    assert api.calls == 1  # eight callers at once, one request
    assert {tuple(c.client_id for c in answer) for answer in answers} == {("id-1", "id-2")}


async def test_fresh_never_answers_with_a_listing_begun_before_the_call() -> None:
    api, clock = FakeApi(), Clock()  # the clock never moves
    listing = shared(api, clock)
    listing.seed([], began=clock.now)
    api.gate = asyncio.Event()
    assert await listing.recent() == ()  # within max_age: the seed serves it
    clock.now += MAX_AGE + 1
    pending = asyncio.ensure_future(listing.recent())  # a listing begins, held open
    await settle()
    assert api.calls == 1
    api.made.append(client(7))  # say, a POST whose answer was lost lands now
    after_the_write = asyncio.ensure_future(listing.fresh())
    await settle()
    api.gate.set()
    assert await pending == ()  # it began before the client existed
    assert [c.client_id for c in await after_the_write] == ["id-7"]
    assert api.calls == 2


async def test_callers_arriving_during_a_listing_share_the_next_one() -> None:
    api, clock = FakeApi(made=[client(1)]), Clock()
    listing = shared(api, clock, max_age=0)
    api.gate = asyncio.Event()
    first = asyncio.ensure_future(listing.fresh())
    await settle()
    later = [asyncio.ensure_future(listing.fresh()) for _ in range(6)]
    await settle()
    assert api.calls == 1  # the later callers wait: the listing in flight began before them
    api.gate.set()
    answers = await asyncio.gather(first, *later)
    assert api.calls == 2  # one more listing, begun after all six asked, serves them all
    assert {len(answer) for answer in answers} == {1}


async def test_a_failed_listing_fails_its_own_caller_and_the_waiters_list_again() -> None:
    api, clock = FakeApi(made=[client(3)], fail_next=True), Clock()
    listing = shared(api, clock)
    api.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(listing.recent()) for _ in range(3)]
    await settle()
    api.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(results[0], ConnectionError)  # the caller that listed gets its error
    assert [[c.client_id for c in r] for r in results[1:] if isinstance(r, tuple)] == [
        ["id-3"],
        ["id-3"],
    ]
    assert api.calls == 2  # the two waiters shared the listing one of them made next


@pytest.mark.parametrize("method", ["recent", "fresh"])
async def test_no_age_allowed_lists_for_every_call(method: str) -> None:
    api, clock = FakeApi(made=[client(4)]), Clock()
    listing = shared(api, clock, max_age=0)
    listing.seed([], began=clock.now)
    for expected_calls in range(1, 4):
        assert len(await getattr(listing, method)()) == 1
        assert api.calls == expected_calls
