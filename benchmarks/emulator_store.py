"""The cost of one write transaction in the emulator's in-memory store, by number of clients.

Builds a state with N clients (each with a two-key JWKS, like a client mid-rotation), then
times a typical write: soft-delete one client and register one new client (the id counter, a
record attribute and a dict item change). "journal" is `MemoryStateStore` (an undo journal);
"full copy" is the former design (a JSON round trip of the whole state per write), kept here
only as the yardstick. Prints the median of many writes; no network, no RSA work.

    .venv/bin/python benchmarks/emulator_store.py [--sizes 100 1000 5000] [--writes 30]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from mpctl.emulator.state import ClientRecord, EmulatorState, KeySet, StoredKey
from mpctl.emulator.store import MemoryStateStore

Seeder = Callable[[], EmulatorState]
NOW = 1_780_000_000.0
MODULUS = "u" * 342  # the length of a 2048-bit modulus in base64url


class FullCopyStore:
    """The store as it was: every write works on a JSON round-trip copy of the whole state."""

    def __init__(self, seeder: Seeder) -> None:
        self._state = seeder()
        self._lock = threading.Lock()

    @contextmanager
    def write(self) -> Iterator[EmulatorState]:
        with self._lock:
            working = self._state.working_copy()
            yield working
            self._state = working


def key(kid: str) -> StoredKey:
    return StoredKey(kty="RSA", use="sig", kid=kid, alg="RS256", e="AQAB", n=MODULUS,
                     exp=int(NOW) + 86_400, registered_at=NOW)  # fmt: skip


def client(number: int) -> ClientRecord:
    keys = KeySet(keys=[key(f"k{number}-a"), key(f"k{number}-b")], created=NOW, last_updated=NOW)
    return ClientRecord(
        client_id=f"client-{number:06d}",
        client_orgno="313367002",
        integration_type="maskinporten",
        client_name=f"client {number}",
        description=f"benchmark client {number}",
        grant_types=["urn:ietf:params:oauth:grant-type:jwt-bearer"],
        scopes=["acme:invoices.read", "acme:invoices.write"],
        created=NOW,
        last_updated=NOW,
        jwks=keys,
    )


def state_with(size: int) -> EmulatorState:
    return EmulatorState(
        id_counter=size, clients={c.client_id: c for c in map(client, range(size))}
    )


def one_write(store: MemoryStateStore | FullCopyStore, turn: int) -> None:
    with store.write() as state:
        old = state.clients[f"client-{turn:06d}"]
        old.active = False
        old.last_updated = NOW + turn
        fresh = client(state.next_counter())
        state.clients[fresh.client_id] = fresh


def median_ms(store: MemoryStateStore | FullCopyStore, writes: int) -> float:
    timings = []
    for turn in range(writes):
        started = time.perf_counter()
        one_write(store, turn)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--writes", type=int, default=30)
    options = parser.parse_args()
    print(f"{'clients':>8} {'journal ms/write':>17} {'full copy ms/write':>19} {'ratio':>8}")
    for size in options.sizes:
        journal = MemoryStateStore(partial(state_with, size))
        full = FullCopyStore(partial(state_with, size))
        new = median_ms(journal, options.writes)
        old = median_ms(full, options.writes)
        print(f"{size:>8} {new:>17.4f} {old:>19.2f} {old / new:>7.0f}x")


if __name__ == "__main__":
    main()
