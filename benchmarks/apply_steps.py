"""Where an apply's step time goes: per kind of step, its time in HTTP, in sinks, and the rest.

Runs `apply_scale`'s apply of N new clients (or, with `--rotate`, a forced rotation after they
were made) with a `StepClock`: an `ApplyObserver` timing each step from its start to its end, a
`CallObserver` on the admin remote and the token client adding each response's `duration` to the
step in flight (`STEP_IN_FLIGHT`), and every sink wrapped so the time of its calls goes to the
same step. Prints per kind (client step, key step) the mean time of a step, of its HTTP calls
and of its sink calls, and what is left: a create's wait for a shared listing (its own listing
call counts as HTTP), a key's generation beyond the read it overlaps, the event loop's queue.
While every slot stays busy, the wall time is close to the steps' total time / parallelism.
The wrapped sinks are not `ThreadedSink`s, so the stale-plan check before the steps reads them
one call each instead of in lanes (not timed here).

    .venv/bin/python benchmarks/apply_steps.py [--size 1000] [--parallelism 16]
        [--latency-ms 50] [--key-size 2048] [--lock local|s3] [--rotate]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

import apply_scale

from mpctl.apply import StepOutcome
from mpctl.apply.context import STEP_IN_FLIGHT
from mpctl.model import SinkState
from mpctl.plan import KeyStep, PlanOptions, Step
from mpctl.remote import CallEvent
from mpctl.secrets import PrivateKey, SecretSink

T = TypeVar("T")
Kind = Literal["client", "key"]


@dataclass
class Tally:
    """The time one kind of step spent, summed over its steps."""

    steps: int = 0
    total: float = 0.0
    http: float = 0.0
    http_calls: int = 0
    sink: float = 0.0
    sink_calls: int = 0

    def line(self, kind: str) -> str:
        n = max(self.steps, 1)
        rest = self.total - self.http - self.sink
        return (
            f"{kind:<7} {self.steps:>6} {1000 * self.total / n:>9.1f} "
            f"{1000 * self.http / n:>8.1f} {self.http_calls / n:>6.2f} "
            f"{1000 * self.sink / n:>8.1f} {self.sink_calls / n:>6.2f} {1000 * rest / n:>8.1f}"
        )


@dataclass
class StepClock:
    """Times steps (an `ApplyObserver`) and charges calls to the step in flight."""

    tallies: dict[Kind, Tally] = field(default_factory=lambda: defaultdict(Tally))
    _kinds: dict[str, Kind] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)

    def step_started(self, step: Step) -> None:
        address = str(step.address)
        self._kinds[address] = "key" if isinstance(step, KeyStep) else "client"
        self._started[address] = time.perf_counter()

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        del outcome
        address = str(step.address)
        tally = self.tallies[self._kinds[address]]
        tally.steps += 1
        tally.total += time.perf_counter() - self._started.pop(address)

    def call_seen(self, event: CallEvent) -> None:
        tally = self._in_flight()
        if tally is not None and event.duration is not None:
            tally.http += event.duration
            tally.http_calls += 1

    def sink_call(self, seconds: float) -> None:
        tally = self._in_flight()
        if tally is not None:
            tally.sink += seconds
            tally.sink_calls += 1

    def _in_flight(self) -> Tally | None:
        address = STEP_IN_FLIGHT.get(None)
        kind = self._kinds.get(address) if address is not None else None
        return self.tallies[kind] if kind is not None else None


class TimedSink:
    """A sink whose calls' time is reported to `report` (in the calling step's context)."""

    def __init__(self, sink: SecretSink, report: Callable[[float], None]) -> None:
        self._sink = sink
        self._report = report

    async def _timed(self, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await call
        finally:
            self._report(time.perf_counter() - started)

    async def read_state(self, client: str) -> SinkState:
        return await self._timed(self._sink.read_state(client))

    async def stage(self, client: str, key: PrivateKey) -> None:
        await self._timed(self._sink.stage(client, key))

    async def promote(self, client: str, kid: str, now: datetime) -> None:
        await self._timed(self._sink.promote(client, kid, now))

    async def discard_pending(self, client: str, kid: str) -> None:
        await self._timed(self._sink.discard_pending(client, kid))

    async def forget_previous(self, client: str, kid: str | None = None) -> None:
        await self._timed(self._sink.forget_previous(client, kid))

    async def load_private_key(self, client: str, kid: str) -> PrivateKey:
        return await self._timed(self._sink.load_private_key(client, kid))

    async def set_client_id(self, client: str, client_id: str) -> None:
        await self._timed(self._sink.set_client_id(client, client_id))


def timed_sinks(sinks: Mapping[str, SecretSink], clock: StepClock) -> dict[str, SecretSink]:
    return {name: TimedSink(sink, clock.sink_call) for name, sink in sinks.items()}


HEADER = (
    f"{'kind':<7} {'steps':>6} {'step ms':>9} {'HTTP ms':>8} {'calls':>6} "
    f"{'sink ms':>8} {'calls':>6} {'rest ms':>8}"
)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=16)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--key-size", type=int, default=2048)
    parser.add_argument("--lock", choices=["local", "s3"], default="local")
    parser.add_argument("--rotate", action="store_true", help="a forced rotation instead")
    arguments = parser.parse_args(argv)
    clock = StepClock()
    size, parallelism = arguments.size, arguments.parallelism
    life = 2 * apply_scale.lifetime(size, arguments.latency_ms, min(parallelism, 16))
    served = apply_scale.served_new_clients(
        size, arguments.latency_ms, life, arguments.key_size, arguments.lock
    )
    with served as (server, workspace):
        options = None
        if arguments.rotate:
            apply_scale.measure(server, workspace, size, 16)
            options = PlanOptions(rotate=tuple(sorted(workspace.desired.clients)))
        probe = apply_scale.Probe(clock, clock.call_seen, lambda s: timed_sinks(s, clock))
        applied = asyncio.run(apply_scale.plan_and_apply(workspace, parallelism, options, probe))
    print(
        f"{size} {'rotated' if arguments.rotate else 'new'} clients, {arguments.key_size}-bit "
        f"keys, {arguments.lock} lock, parallelism {parallelism}, +{arguments.latency_ms} ms "
        f"per API request: wall {applied.wall:.2f} s, {applied.requests} requests"
    )
    print(HEADER)
    for kind in sorted(clock.tallies):
        print(clock.tallies[kind].line(kind))
    steps_total = sum(t.total for t in clock.tallies.values())
    print(f"steps' total time / parallelism: {steps_total / parallelism:.2f} s")


if __name__ == "__main__":
    main()
