"""A seeded fault soak of apply and rotation on the end-to-end harness (issue 13).

Owns `SoakConfig`, `SoakResult` and `soak`: one world (the trimmed example plus bulk clients,
file sinks, the in-process emulator, `tests/e2e/harness.World`) driven through `runs` runs. A
run is one random change (a manifest edit, a forced rotation, days passing, or nothing), random
faults for that run only (5xx, 429, dropped connections, lost writes on random API paths; late
key propagation at /token; the emulator's clock up to ±8 s from the applier's), then an apply at
`parallelism` under the environment lock, sometimes with a second apply started beside it (it
must be refused by the lock, or run after the first and converge). Every so often the faults
stop and apply must converge (the last plan empty, one client per marker, the workload's `.env`
on the sink's current key).

The invariants of reliability.md §2 are the harness's `Checker`, run after every API call and
every sink write: this module checks none itself, it counts and reports. Everything random is
drawn from one `random.Random(seed)` (and the emulator's seeded fault draws), so a seed names a
soak; thread and task timing may still differ between two runs of one seed. Must not talk to
anything but the in-process emulator, and must not print (callers print `SoakResult.lines`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import mpctl.remote.credentials
import mpctl.secrets.keys
from mpctl.apply import apply_plan
from mpctl.apply.lock import EnvironmentLock
from mpctl.cli.environment import open_workspace
from mpctl.emulator import FaultRule
from mpctl.errors import LockedError, MpctlError
from mpctl.plan import PlanOptions
from tests.e2e.harness import (
    DEFAULT_CLIENTS,
    ENV,
    InvariantViolation,
    World,
    build_project,
    checks_one_at_a_time,
    thumbprint,
)

DAY = timedelta(days=1)
SKEW_SECONDS = 8.0
KNOWN_CONSUMERS = ("910753614", "923456783", "934567897")
SCOPES = ("acme:invoices.read", "acme:reports/monthly")
BULK_SCOPES = ("altinn:instances.read", "altinn:instances.write")
FAULT_PATHS = (
    "/api/v1/*",
    "/api/v1/clients*",
    "/api/v1/clients/*/jwks",
    "/api/v1/scopes*",
)
FAULT_METHODS: tuple[tuple[str, ...], ...] = ((), ("GET",), ("POST", "PUT", "DELETE"))
FAULT_KINDS = ("5xx", "429", "drop", "lost_write")
SECOND_APPLY_STARTS: tuple[float | None, ...] = (0.0, 0.0, 0.005, 0.02, None)
"""When the second apply starts: seconds after the first (at once, mid-way), or None: once the
first has ended (then it must run, and find what the first left)."""


@dataclass(frozen=True)
class SoakConfig:
    runs: int
    seed: int
    parallelism: int = 16
    bulk_clients: int = 9
    """Clients beside the harness's three (each with a key, so rotations fill the slots)."""
    converge_every: int = 25
    second_apply: float = 0.2
    """The share of runs with a concurrent second apply."""
    runs_per_world: int = 250
    """A fresh world (and clock skew) after this many runs."""

    @property
    def clients(self) -> int:
        return len(DEFAULT_CLIENTS) + self.bulk_clients

    @property
    def pool_size(self) -> int:
        """Enough pool keys that no client's current, previous and pending ever share one."""
        return 3 * self.clients + 8


@dataclass
class SoakResult:
    """What a soak did and found; `violations` and `problems` must stay empty."""

    config: SoakConfig
    runs: int = 0
    applies: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    api_calls: int = 0
    check_points: int = 0
    invariant_checks: int = 0
    convergences: int = 0
    violations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Not a §2 invariant, but wrong: no convergence, or a failure not safe to re-run."""
    skews: list[float] = field(default_factory=list)
    """Each world's clock skew (Digdir's clock minus the applier's), in seconds."""
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.violations and not self.problems

    def lines(self) -> list[str]:
        def counts(found: Counter[str]) -> str:
            return ", ".join(f"{key} {value}" for key, value in sorted(found.items())) or "none"

        config = self.config
        return [
            f"seed {config.seed}, parallelism {config.parallelism}, {config.clients} clients",
            f"runs: {self.runs} ({counts(self.actions)})",
            f"worlds: {len(self.skews)}, clock skew (s): {self.skews}",
            f"applies: {self.applies} ({counts(self.outcomes)})",
            f"faults injected: {sum(self.faults.values())} ({counts(self.faults)})",
            f"API calls: {self.api_calls}",
            f"invariant checks: {self.invariant_checks} at {self.check_points} check points "
            "(after every API call and sink write)",
            f"quiet convergences: {self.convergences}",
            f"violations: {len(self.violations)}",
            *[f"  {violation}" for violation in self.violations],
            f"problems: {len(self.problems)}",
            *[f"  {problem}" for problem in self.problems],
            f"wall time: {self.seconds:.1f} s",
        ]


# ------------------------------------------------------------------------------------------
# key material: real keys from a pool (speed only), never one a client still holds


class _PooledRsa:
    """`cryptography`'s rsa module as `mpctl.secrets.keys` sees it: generation takes the next
    pool key whose public half is registered nowhere, so a rotation never gets a key back."""

    def __init__(self, pool: Sequence[rsa.RSAPrivateKey]) -> None:
        self._pool = itertools.cycle([(key, _thumbprint(key)) for key in pool])
        self._size = len(pool)
        self.world: World | None = None
        """The world whose keys must not come back (set before each world's first apply)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(rsa, name)

    def generate_private_key(self, *, public_exponent: int, key_size: int) -> rsa.RSAPrivateKey:
        assert (public_exponent, key_size) == (65537, 2048)
        in_use = self._world_thumbprints()
        for key, public in itertools.islice(self._pool, self._size):
            if public not in in_use:
                return key
        raise AssertionError("the key pool is too small for this world")

    def _world_thumbprints(self) -> set[str]:
        assert self.world is not None
        found = {t for client in self.world.remote_state() for t in client.keys.values()}
        for state in self.world.sink_states().values():
            found |= {
                slot.thumbprint for slot in (state.current, state.previous, state.pending) if slot
            }
        return found


def _thumbprint(key: rsa.RSAPrivateKey) -> str:
    numbers = key.public_key().public_numbers()
    return thumbprint(_b64url_uint(numbers.n), _b64url_uint(numbers.e))


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def key_pool(size: int) -> list[rsa.RSAPrivateKey]:
    """`size` real 2048-bit RSA keys."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(size)]


@contextmanager
def fast_key_material(pool: Sequence[rsa.RSAPrivateKey]) -> Iterator[_PooledRsa]:
    """New keys from `pool`, PEM parsing memoised, fsync skipped (no power loss modelled here);
    everything restored on exit. The same shortcuts as tests/e2e/conftest.py's `fast_crypto`."""
    cached = functools.lru_cache(maxsize=512)(serialization.load_pem_private_key)
    pooled = _PooledRsa(pool)
    patches: list[tuple[object, str, object]] = [
        (mpctl.secrets.keys, "rsa", pooled),
        (serialization, "load_pem_private_key", cached),
        (mpctl.remote.credentials, "load_pem_private_key", cached),
        (os, "fsync", _no_fsync),
    ]
    saved = [(target, name, getattr(target, name)) for target, name, _ in patches]
    for target, name, value in patches:
        setattr(target, name, value)
    try:
        yield pooled
    finally:
        for target, name, value in reversed(saved):
            setattr(target, name, value)


def _no_fsync(descriptor: int) -> None:
    del descriptor


# ------------------------------------------------------------------------------------------
# the world


def bulk_names(count: int) -> list[str]:
    return [f"bulk-{index:02d}" for index in range(1, count + 1)]


def build_soak_project(target: Path, bulk_clients: int) -> Path:
    """The harness's trimmed example plus `bulk_clients` clients with a key each."""
    project = build_project(target, clients=DEFAULT_CLIENTS)
    documents = [
        json.dumps(
            {
                "kind": "Client",
                "name": name,
                "description": f"Bulk client {name}",
                "scopes": [BULK_SCOPES[0]],
            }
        )
        for name in bulk_names(bulk_clients)
    ]
    if documents:
        bulk = project / "resources" / "clients" / "bulk.yaml"
        bulk.write_text("\n---\n".join(documents) + "\n", encoding="utf-8")
    return project


# ------------------------------------------------------------------------------------------
# one run


@dataclass(frozen=True)
class Faults:
    rules: tuple[FaultRule, ...]
    propagation: float


def random_faults(rng: random.Random) -> Faults:
    """0-3 wire faults on random paths and methods, maybe late key propagation at /token."""
    rules = []
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        kind = rng.choice(FAULT_KINDS)
        fields: dict[str, Any] = {
            "kind": {"5xx": "error", "429": "rate_limit"}.get(kind, kind),
            "path": rng.choice(FAULT_PATHS),
            "methods": list(rng.choice(FAULT_METHODS)),
            "probability": rng.choice((0.1, 0.25, 0.5)),
            "max_hits": rng.choice((1, 3, 8, None)),
        }
        if kind == "5xx":
            fields["status"] = rng.choice((500, 502, 503, 504))
        if kind == "429":
            fields["retry_after"] = 0
        rules.append(FaultRule.model_validate(fields))
    propagation = rng.choice((0.0, 0.0, 5.0, 20.0, 45.0))
    return Faults(tuple(rules), propagation)


def fault_label(rule: FaultRule) -> str:
    return {"error": "5xx", "rate_limit": "429"}.get(rule.kind, rule.kind)


class Soak:
    """One world and the random choices made on it."""

    def __init__(
        self, world: World, config: SoakConfig, rng: random.Random, result: SoakResult
    ) -> None:
        self.world = world
        self.config = config
        self.rng = rng
        self.result = result
        self.clients = [*DEFAULT_CLIENTS, *bulk_names(config.bulk_clients)]
        self.lock = EnvironmentLock(world.directory / ".mpctl" / ENV / "soak.lock")

    # changes

    def change(self) -> PlanOptions:
        """One random change; the options the run's plan is made with."""
        action = self.rng.choice(("edit", "edit", "rotate", "rotate", "time", "nothing"))
        self.result.actions[action] += 1
        if action == "edit":
            self.edit_manifests()
        elif action == "time":
            self.world.clock.jump(self.rng.choice((1, 2, 40, 91)) * DAY)
        allow_delete = self.rng.random() < 0.7
        if action == "rotate":
            count = self.rng.choice((1, 2, len(self.clients)))
            chosen = tuple(sorted(self.rng.sample(self.clients, count)))
            return PlanOptions(allow_delete=allow_delete, rotate=chosen)
        return PlanOptions(allow_delete=allow_delete)

    def edit_manifests(self) -> None:
        which = self.rng.choice(("consumers", "client scopes", "client description"))
        if which == "consumers" or not self.config.bulk_clients:
            consumers = self.rng.sample(KNOWN_CONSUMERS, self.rng.randint(0, 3))
            self.edit_consumers(self.rng.choice(SCOPES), consumers)
        else:
            name = self.rng.choice(bulk_names(self.config.bulk_clients))
            self.edit_bulk_client(name, which)
        self.world.workspace = open_workspace(self.world.directory, ENV)

    def edit_consumers(self, scope: str, consumers: Sequence[str]) -> None:
        path = self.world.directory / "resources" / "scopes.yaml"
        documents = path.read_text(encoding="utf-8").split("\n---\n")
        listed = ", ".join(f'"{orgno}"' for orgno in sorted(consumers))
        for index, document in enumerate(documents):
            if f"\nname: {scope}\n" in f"\n{document}\n":
                lines = [
                    f"consumers: [{listed}]" if line.startswith("consumers:") else line
                    for line in document.split("\n")
                ]
                documents[index] = "\n".join(lines)
        path.write_text("\n---\n".join(documents), encoding="utf-8")

    def edit_bulk_client(self, name: str, which: str) -> None:
        path = self.world.directory / "resources" / "clients" / "bulk.yaml"
        documents = [json.loads(d) for d in path.read_text(encoding="utf-8").split("\n---\n")]
        for document in documents:
            if document["name"] != name:
                continue
            if which == "client scopes":
                count = self.rng.randint(1, len(BULK_SCOPES))
                document["scopes"] = sorted(self.rng.sample(BULK_SCOPES, count))
            else:
                document["description"] = f"Bulk client {name}, edit {self.rng.randint(1, 99)}"
        text = "\n---\n".join(json.dumps(d) for d in documents) + "\n"
        path.write_text(text, encoding="utf-8")

    # faults

    def inject(self, faults: Faults) -> None:
        emulator = self.world.emulator
        with emulator.store.write() as state:
            state.faults = [rule.model_copy() for rule in faults.rules]
        delay = {"key_propagation_delay_seconds": faults.propagation}
        emulator.switches = emulator.switches.model_copy(update=delay)
        self.result.faults["late key propagation (runs)"] += 1 if faults.propagation else 0

    def clear_faults(self) -> None:
        emulator = self.world.emulator
        with emulator.store.write() as state:
            for rule in state.faults:
                self.result.faults[fault_label(rule)] += rule.hits
            state.faults = []
        delay = {"key_propagation_delay_seconds": 0.0}
        emulator.switches = emulator.switches.model_copy(update=delay)

    # applies

    async def apply(self, options: PlanOptions) -> str:
        """One `mpctl apply` process: take the lock, observe, plan, apply at `parallelism`."""
        self.result.applies += 1
        try:
            with self.lock.held("apply"):
                return await self._plan_and_apply(options)
        except LockedError:
            return "refused by the lock"
        except MpctlError as exc:
            return f"stopped: {type(exc).__name__}"

    async def two_applies(self, options: PlanOptions, start: float | None) -> None:
        """The first apply, and a second started `start` seconds later or after it ended."""
        first_ended = asyncio.Event()

        async def first() -> None:
            try:
                self.result.outcomes[await self.apply(options)] += 1
            finally:
                first_ended.set()

        async def second() -> None:
            if start is None:
                await first_ended.wait()
            else:
                await asyncio.sleep(start)
            when = "after the first" if start is None else "beside the first"
            self.result.outcomes[f"second, {when}: {await self.apply(options)}"] += 1

        await asyncio.gather(first(), second())

    async def _plan_and_apply(self, options: PlanOptions) -> str:
        world = self.world
        async with world.session() as (api, sinks, tester):
            plan = world.make_plan(await world.observe(api, sinks), options)
            if not plan.steps:
                return "no changes"
            if not plan.applyable:
                return "plan refused"
            context = world.context(api, sinks, tester, allowed=options.allows)
            context.parallelism = self.config.parallelism
            report = await apply_plan(plan, context)
        unsafe = [o for o in report.failed if not o.safe_to_rerun]
        self.result.problems += [f"not safe to re-run: {o.address}: {o.message}" for o in unsafe]
        return "complete" if report.ok else "partial"

    async def run_once(self) -> None:
        options = self.change()
        self.inject(random_faults(self.rng))
        try:
            if self.rng.random() < self.config.second_apply:
                self.result.actions["with a second apply"] += 1
                await self.two_applies(options, self.rng.choice(SECOND_APPLY_STARTS))
            else:
                self.result.outcomes[await self.apply(options)] += 1
        finally:
            self.clear_faults()

    async def converge(self) -> None:
        """No faults: apply until the plan is empty (bounded), then nothing may be left wrong."""
        world, options = self.world, PlanOptions(allow_delete=True)
        for _ in range(4):
            await self._plan_and_apply(options)
            plan = await world.plan(options)
            if not plan.steps:
                break
        else:
            self.result.problems.append(f"no convergence after 4 quiet applies: {plan.steps}")
            return
        wrong = [p for p in world.convergence_problems() if p.code not in _IN_GRACE]
        self.result.problems += [f"after converging: {p}" for p in wrong]
        self.result.convergences += 1


_IN_GRACE = frozenset({"previous-left", "keys"})
"""A rotated client keeps its previous key (registered and in the sink) until the grace ends."""


async def soak_world(driver: Soak, runs: int) -> None:
    """`runs` runs on the driver's converged world; stops at the first violation or problem."""
    world, result = driver.world, driver.result
    calls, points, checks = world.calls, world.checker.runs, sum(world.checker.counts.values())
    try:
        for index in range(runs):
            result.runs += 1
            await driver.run_once()
            if (index + 1) % driver.config.converge_every == 0 or index + 1 == runs:
                await driver.converge()
            if result.problems:
                break
    except InvariantViolation as violation:
        result.violations.append(f"run {result.runs} of seed {driver.config.seed}: {violation}")
    finally:
        result.api_calls += world.calls - calls
        result.check_points += world.checker.runs - points
        result.invariant_checks += sum(world.checker.counts.values()) - checks


def skewed_world(directory: Path, config: SoakConfig, skew: float) -> World:
    """A fresh soak project whose Digdir (the emulator) runs `skew` seconds off the applier's
    clock for the world's whole life, as a skewed runner would see it (a clock that jumped
    back between two of Digdir's answers is no fault mpctl could meet)."""
    world = World(build_soak_project(directory, config.bulk_clients))
    with world.emulator.store.write() as state:
        state.clock_offset = skew
    checks_one_at_a_time(world)
    return world


def run_soak(
    directory: Path,
    config: SoakConfig,
    pool: Sequence[rsa.RSAPrivateKey],
    *,
    after_world: Callable[[SoakResult], None] = lambda result: None,
) -> SoakResult:
    """`config.runs` runs over fresh worlds of `runs_per_world` runs each, every world with its
    own clock skew (the sign alternating, up to ±8 s); each world converges without faults
    first; `after_world` hears the result so far after each. Stops at the first violation or
    problem."""
    rng = random.Random(config.seed)
    result = SoakResult(config)
    started = time.perf_counter()
    with fast_key_material(pool) as keys:
        for index in itertools.count():
            left = config.runs - result.runs
            if left <= 0 or not result.clean:
                break
            skew = (-1) ** index * rng.uniform(SKEW_SECONDS / 2, SKEW_SECONDS)
            world = skewed_world(directory / f"world-{index}", config, skew)
            keys.world = world
            result.skews.append(round(skew, 1))
            driver = Soak(world, config, rng, result)
            asyncio.run(_converged_then_soaked(driver, min(left, config.runs_per_world)))
            after_world(result)
    result.seconds = time.perf_counter() - started
    return result


async def _converged_then_soaked(driver: Soak, runs: int) -> None:
    try:
        await driver.world.converge()
    except InvariantViolation as violation:
        driver.result.violations.append(
            f"first apply of a world of seed {driver.config.seed}: {violation}"
        )
        return
    driver.world.assert_converged()
    await soak_world(driver, runs)
