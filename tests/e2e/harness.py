"""The real apply against the real emulator, with crash injection and live invariant checks.

A `World` is one project copy (the example trimmed to a few clients, 2048-bit keys), one
embedded emulator app (in-process over httpx.ASGITransport, its state in memory and shared by
every run of the world, seeded from the state file that holds the admin certificate's CA), the
project's real file secret sinks, and an injected clock. `World.run()` is one apply process:
open the admin remote, observe, plan (`make_plan` with the injected `now`), then `apply_plan`
with the real `TokenKeyTester`. Every run starts from a fresh observation, as a re-run in CI
would. `copy_world` gives each crash case its own copy of a prepared world.

Crashes: `World.arm(CrashPoint(i, position), ...)` makes the i-th external write counted from
then raise `Crash` (a `BaseException`, like SIGKILL: no `except Exception` in mpctl swallows it
and nothing after it runs); further points arm in turn, counted from the previous crash.
External writes are Digdir writes (POST/PUT/DELETE under /api/v1, seen on the wire) and sink
writes that change something (stage, promote, forget_previous, discard_pending, set_client_id).
Positions: before sending; after sending (Digdir: the emulator handled the request, the answer
is lost; sink: the JSON file was replaced, the `.env` not yet rewritten); after the response
(the call returned, nothing after it ran).

Invariants (reliability.md §2: S1/S2 incl. the workload's `.env`, S3, S4, S5, S6, S7) are
checked after every HTTP call (admin token, reads, writes, token tests) and after every sink
write, against the emulator's own store (never through mpctl's client) and the sink files. A
violation raises `InvariantViolation` (also a `BaseException`). `STATS` counts everything for
the closing note (printed by tests/e2e/conftest.py).

Time: mpctl's `now` jumps by days for rotations; the emulator keeps wall-clock time because
grants are signed with it. An injected sleep instead ages the registered keys, which is all
Digdir's propagation delay looks at.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

import httpx

from mpctl.apply import ApplyContext, ApplyReport, ApplySettings, apply_plan
from mpctl.cli.environment import (
    Workspace,
    emulator_settings,
    ensure_admin_certificate,
    open_workspace,
)
from mpctl.cli.keytest import TokenKeyTester
from mpctl.emulator import EmulatorSettings, create_app
from mpctl.emulator.core import Emulator
from mpctl.emulator.state import EmulatorState
from mpctl.emulator.store import MemoryStateStore
from mpctl.model.keys import SinkState
from mpctl.plan import Plan, PlanOptions, make_plan
from mpctl.plan.ownership import parse_marker
from mpctl.remote.client import HttpRemote
from mpctl.remote.connect import open_http, open_remote
from mpctl.remote.protocol import RemoteApi
from mpctl.remote.retry import RetryPolicy
from mpctl.secrets import (
    BlockingSecretSink,
    FileSecretSink,
    PrivateKey,
    SecretSink,
    ThreadedSink,
)
from mpctl.state import Snapshot, observe
from tests.conftest import EXAMPLE_MANIFESTS

ENV = "local"
ORGNO = "313367002"
BASE_NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
"""The injected clock's start (mpctl's `now`; kids are dated from it, so runs compare)."""

DEFAULT_CLIENTS = ("altinn-sync", "billing-invoices", "reelle-supplier")
"""Own scopes, a scope mpctl creates (with an access grant), and a delegation-only client."""

FAST = ApplySettings(
    propagation_timeout=30.0,
    propagation_wait_initial=1.0,
    propagation_wait_max=2.0,
    read_after_write_attempts=3,
)
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})
ROTATE = timedelta(days=91)
"""Past the example's `rotate_after: 90d`."""
AFTER_GRACE = timedelta(days=92)
"""Past `rotate_after` plus the example's `grace: 1d`."""


class Crash(BaseException):
    """The process dies here (SIGKILL, os._exit): no later step, write or retry runs.

    Unwinding runs `finally` blocks; on apply's path (mpctl.apply, .secrets, .remote) those only
    close file descriptors and connections, so no durable state differs from a real kill.
    """


class InvariantViolation(BaseException):
    """A safety invariant of reliability.md §2 does not hold; never swallowed by mpctl."""


class Position(StrEnum):
    BEFORE = "before-send"
    AFTER_SEND = "after-send"
    AFTER_RESPONSE = "after-response"


POSITIONS = tuple(Position)


@dataclass(frozen=True)
class CrashPoint:
    """Crash at the `index`-th external write (0-based, counted from `World.arm`)."""

    index: int
    position: Position

    def __str__(self) -> str:
        return f"write #{self.index} {self.position}"


@dataclass(frozen=True)
class WriteEvent:
    """One external write as it happened; `index` counts from the last `World.arm`."""

    index: int
    target: str  # "digdir" or "sink"
    label: str


# ----------------------------------------------------------------------------------------------
# counts for the closing note (printed by tests/e2e/conftest.py)


@dataclass
class Stats:
    """Session-wide counts: invariant evaluations, crash points, facts for the closing note."""

    checks: Counter[str] = field(default_factory=Counter)
    check_points: int = 0
    """Moments the checker ran: after every HTTP call and every sink write."""
    crash_points: Counter[str] = field(default_factory=Counter)
    facts: dict[str, str] = field(default_factory=dict)

    def summary(self) -> list[str]:
        lines = []
        if self.crash_points:
            total = sum(self.crash_points.values())
            parts = ", ".join(f"{k} {v}" for k, v in sorted(self.crash_points.items()))
            lines.append(f"crash points tested: {total} ({parts})")
        if self.checks:
            total = sum(self.checks.values())
            parts = ", ".join(f"{k} {v}" for k, v in sorted(self.checks.items()))
            lines.append(f"invariant checks made: {total} ({parts})")
            lines.append(
                f"check points: {self.check_points} (after every HTTP call and every sink write)"
            )
        lines += [f"{k}: {v}" for k, v in sorted(self.facts.items())]
        return lines


STATS = Stats()


# ----------------------------------------------------------------------------------------------
# the project


def build_project(
    target: Path, *, clients: Sequence[str] = DEFAULT_CLIENTS, scopes: Sequence[str] | None = None
) -> Path:
    """A copy of the example project with only `clients` (and `scopes`), keys of 2048 bits."""
    shutil.copytree(EXAMPLE_MANIFESTS, target, ignore=shutil.ignore_patterns(".mpctl"))
    config_file = target / "mpctl.yaml"
    config = config_file.read_text(encoding="utf-8")
    assert "size: 3072" in config
    config = config.replace("size: 3072", "size: 2048")
    for team in ("billing", "ledger"):
        line = f"    - {{name: {team}, description: {team.capitalize()} team reads invoices}}\n"
        assert line in config
        if f"{team}-invoices" not in clients:
            config = config.replace(line, "")
    if not any(c.endswith("-invoices") for c in clients):
        config = config.replace("  teams:\n", "  teams: []\n")
    config_file.write_text(config, encoding="utf-8")
    for path in sorted((target / "resources" / "clients").glob("*.yaml")):
        _keep_documents(path, clients)
    if scopes is not None:
        _keep_documents(target / "resources" / "scopes.yaml", scopes)
    return target


def _keep_documents(path: Path, names: Iterable[str]) -> None:
    wanted = set(names)
    documents = path.read_text(encoding="utf-8").split("\n---\n")
    kept = [d for d in documents if any(f"\nname: {n}\n" in f"\n{d}\n" for n in wanted)]
    if kept:
        path.write_text("\n---\n".join(kept) + "\n", encoding="utf-8")
    else:
        path.unlink()


# ----------------------------------------------------------------------------------------------
# time


class VirtualClock:
    """mpctl's `now` and `sleep`: sleeping never waits, it moves this clock.

    The emulator keeps wall-clock time (grants are signed with it); what a sleep changes there
    is the age of registered keys (`listeners`), which is what Digdir's propagation delay reads.
    """

    def __init__(self, start: datetime = BASE_NOW) -> None:
        self.start = start
        self.shift = timedelta(0)
        self.elapsed = 0.0
        self.sleeps: list[float] = []
        self.listeners: list[Callable[[float], None]] = []

    def now(self) -> datetime:
        return self.start + self.shift + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += max(seconds, 0.0)
        for listener in self.listeners:
            listener(max(seconds, 0.0))
        await asyncio.sleep(0)

    def jump(self, delta: timedelta) -> None:
        """Days pass for mpctl (rotation and grace decisions); the emulator keeps real time."""
        self.shift += delta


# ----------------------------------------------------------------------------------------------
# invariant checks: pure functions over plain data, so tests can feed them broken states

RegisteredKeys = Mapping[str, Mapping[str, str]]
"""client_id → {kid: RFC 7638 thumbprint} as the emulator stores it."""


def thumbprint(n: str, e: str) -> str:
    """RFC 7638 SHA-256 thumbprint of an RSA public key, computed here (not by mpctl)."""
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def s1_violations(
    sinks: Mapping[str, SinkState],
    registered: RegisteredKeys,
    *,
    now: datetime,
    grace: Mapping[str, timedelta],
    exempt: Iterable[str] = (),
) -> list[str]:
    """S1 (+S2): the sink's current kid is registered, same key; the previous too, in grace."""
    found = []
    skip = set(exempt)
    for name, state in sorted(sinks.items()):
        if state.current is None or name in skip:
            continue
        keys = registered.get(state.client_id or "", {})
        current = state.current
        if current.kid not in keys:
            found.append(f"S1 {name}: current kid {current.kid} is not registered")
        elif keys[current.kid] != current.thumbprint:
            found.append(f"S2 {name}: kid {current.kid} is registered with other key material")
        previous = state.previous
        in_grace = current.promoted_at is not None and now < current.promoted_at + grace.get(
            name, timedelta(0)
        )
        if previous is not None and in_grace and previous.kid not in keys:
            found.append(f"S1 {name}: previous kid {previous.kid} left the JWKS inside its grace")
    return found


def s1_env_violations(
    workloads: Mapping[str, tuple[str, str]], registered: RegisteredKeys, exempt: Iterable[str] = ()
) -> list[str]:
    """S1 as the workload sees it: the kid in its `.env` (client_id, kid) is registered."""
    skip = set(exempt)
    return [
        f"S1 {name}: the workload's .env signs with {kid}, which is not registered"
        for name, (client_id, kid) in sorted(workloads.items())
        if name not in skip and kid not in registered.get(client_id, {})
    ]


def s4_violations(registered: RegisteredKeys, had_keys: set[str]) -> list[str]:
    """S4: a client that had a key never drops to zero keys. Updates `had_keys`."""
    found = []
    for client_id, keys in sorted(registered.items()):
        if keys:
            had_keys.add(client_id)
        elif client_id in had_keys:
            found.append(f"S4 client {client_id}: every key was removed")
    return found


def s6_violations(
    sinks: Mapping[str, SinkState],
    registered: RegisteredKeys,
    last_pending: dict[str, str],
    *,
    foreign: Mapping[str, frozenset[str]] | None = None,
) -> list[str]:
    """S6: one key in flight per client.

    A pending key is only ever replaced by being promoted (never by a second rotation), and every
    kid registered on a managed client is one the sink holds (current, previous or pending) or one
    that was there before mpctl (`foreign`): no orphan keys, so no second key in flight at Digdir.
    Updates `last_pending`.
    """
    found = []
    for name, state in sorted(sinks.items()):
        before = last_pending.get(name)
        pending = state.pending.kid if state.pending else None
        current = state.current.kid if state.current else None
        if before is not None and before not in (pending, current):
            found.append(f"S6 {name}: pending {before} was replaced by {pending} unpromoted")
        if pending is None:
            last_pending.pop(name, None)
        else:
            last_pending[name] = pending
        if state.client_id is None:
            continue
        known = state.kids | (foreign or {}).get(name, frozenset())
        orphans = sorted(set(registered.get(state.client_id, {})) - known)
        if orphans:
            found.append(f"S6 {name}: registered kids the sink does not hold: {orphans}")
    return found


def s5_violations(
    sinks: Mapping[str, SinkState], tested: set[tuple[str, str]], last_current: dict[str, str]
) -> list[str]:
    """S5: the sink's current only moves to a kid that minted a token at /token. Updates state."""
    found = []
    for name, state in sorted(sinks.items()):
        if state.current is None:
            continue
        kid = state.current.kid
        if last_current.get(name) != kid and (state.client_id or "", kid) not in tested:
            found.append(f"S5 {name}: {kid} became current without a successful token test")
        last_current[name] = kid
    return found


def s7_violations(body: Any) -> list[str]:
    """S7: a JWKS upload holds public members only."""
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list):
        return ["S7 the JWKS body has no key list"]
    found = []
    for key in keys:
        members = sorted(set(key) & PRIVATE_MEMBERS) if isinstance(key, dict) else ["?"]
        if members:
            found.append(f"S7 JWKS upload of {key.get('kid')!r} holds private members {members}")
    return found


def s3_violations(
    before: Iterable[str],
    after: Iterable[str],
    state: SinkState | None,
    *,
    now: datetime,
    grace: timedelta,
    preserve: Iterable[str] = (),
) -> list[str]:
    """S3: a JWKS write removes at most one kid: the sink's previous, after its grace."""
    removed = sorted(set(before) - set(after))
    if not removed:
        return []
    if len(removed) > 1:
        return [f"S3 one JWKS write removes {removed}"]
    kid = removed[0]
    if kid in set(preserve):
        return [f"S3 preserved kid {kid} removed"]
    if state is None or state.previous is None or state.previous.kid != kid:
        return [f"S3 removed {kid}, which is not the sink's previous key"]
    current = state.current
    if current is None or current.promoted_at is None or now < current.promoted_at + grace:
        return [f"S3 removed previous {kid} inside its grace"]
    return []


# ----------------------------------------------------------------------------------------------
# reading the emulator directly


@dataclass(frozen=True)
class RemoteClient:
    client_id: str
    name: str | None
    active: bool
    scopes: tuple[str, ...]
    keys: Mapping[str, str]  # kid → thumbprint


def remote_clients(state: EmulatorState) -> list[RemoteClient]:
    """ACME's clients as the emulator stores them (the admin client left out)."""
    found = []
    for client in state.clients.values():
        if client.admin or client.client_orgno != ORGNO:
            continue
        keys = {k.kid: thumbprint(k.n, k.e) for k in client.registered_keys()}
        marker = parse_marker(client.description)
        found.append(
            RemoteClient(
                client.client_id,
                marker.name if marker else None,
                client.active,
                tuple(sorted(client.scopes)),
                keys,
            )
        )
    return sorted(found, key=lambda c: (c.name or "", c.client_id))


class Checker:
    """Runs every invariant against the emulator's store and the sink files; counts the checks."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.had_keys: set[str] = set()
        self.last_pending: dict[str, str] = {}
        self.last_current: dict[str, str] = {}
        self.tested: set[tuple[str, str]] = set()
        self.exempt: set[str] = set()
        self.foreign: dict[str, frozenset[str]] = {}
        self.violations: list[str] = []
        self.counts: Counter[str] = Counter()
        self.runs = 0

    def baseline(self) -> None:
        """Accept what is there now (a world copied from a template) as the starting point."""
        registered, sinks = self._registered(), self.world.sink_states()
        s4_violations(registered, self.had_keys)
        self.last_pending = {n: s.pending.kid for n, s in sinks.items() if s.pending}
        self.last_current = {n: s.current.kid for n, s in sinks.items() if s.current}

    def _registered(self) -> dict[str, dict[str, str]]:
        with self.world.emulator.store.read() as state:
            return {c.client_id: dict(c.keys) for c in remote_clients(state) if c.active}

    def check(self) -> None:
        self.runs += 1
        STATS.check_points += 1
        registered, sinks = self._registered(), self.world.sink_states()
        now = self.world.clock.now()
        self._heal(sinks, registered, now)
        found = s1_violations(
            sinks, registered, now=now, grace=self.world.graces(), exempt=self.exempt
        )
        workloads = self.world.workloads()
        found += s1_env_violations(workloads, registered, self.exempt)
        found += s4_violations(registered, self.had_keys)
        found += s6_violations(sinks, registered, self.last_pending, foreign=self.foreign)
        found += s5_violations(sinks, self.tested, self.last_current)
        clients_with_current = sum(1 for s in sinks.values() if s.current)
        self._count(
            {
                "S1": clients_with_current + len(workloads),
                "S4": len(registered),
                "S6": len(sinks),
                "S5": clients_with_current,
            }
        )
        self._fail(found)

    def _heal(
        self, sinks: Mapping[str, SinkState], registered: RegisteredKeys, now: datetime
    ) -> None:
        """Exempt clients (broken on purpose by a test) rejoin the checks once S1 holds again."""
        for name in sorted(self.exempt):
            if not s1_violations({name: sinks[name]}, registered, now=now, grace={}):
                self.exempt.discard(name)

    def _count(self, counts: Mapping[str, int]) -> None:
        self.counts.update(counts)
        STATS.checks.update(counts)

    def before_jwks_write(self, client_id: str, body: Any) -> None:
        found = s7_violations(body)
        after = [k.get("kid") for k in body.get("keys", []) if isinstance(k, dict)]
        with self.world.emulator.store.read() as state:
            record = state.clients.get(client_id)
            before = [k.kid for k in record.registered_keys()] if record else []
        name, sink_state = self.world.sink_state_of(client_id)
        client = self.world.workspace.desired.clients.get(name or "")
        policy = client.keys if client else None
        found += s3_violations(
            before,
            [k for k in after if isinstance(k, str)],
            sink_state,
            now=self.world.clock.now(),
            grace=policy.grace if policy else timedelta(0),
            preserve=policy.preserve if policy else (),
        )
        self._count({"S7": 1, "S3": 1})
        self._fail(found)

    def before_jwks_delete(self, client_id: str) -> None:
        self._count({"S3": 1})
        self._fail([f"S3/S4 DELETE of the whole JWKS of {client_id}"])

    def token_answered(self, request: httpx.Request, response: httpx.Response) -> None:
        """Remember (client_id, kid) of every grant that got a token: S5's evidence."""
        form = parse_qs(request.content.decode("ascii", "replace"))
        parts = (form.get("assertion") or [""])[0].split(".")
        if len(parts) != 3:
            return
        header, claims = (_b64json(p) for p in parts[:2])
        kid, client_id = header.get("kid"), claims.get("iss")
        if not (isinstance(kid, str) and isinstance(client_id, str)):
            return  # the admin client's grant (x5c, no kid)
        self.world.timeline.append(f"token {kid} {response.status_code}")
        if response.status_code == 200:
            self.tested.add((client_id, kid))

    def _fail(self, found: list[str]) -> None:
        if found:
            self.violations += found
            raise InvariantViolation("; ".join(found))


def _b64json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# ----------------------------------------------------------------------------------------------
# the seams: wire (Digdir writes, every call checked), remote (after-response), sinks


def _digdir_write(request: httpx.Request) -> bool:
    return request.method in {"POST", "PUT", "DELETE"} and request.url.path.startswith("/api/v1/")


def _label(request: httpx.Request) -> str:
    parts = request.url.path.split("/")
    shown = ["{id}" if len(p) == 36 and p.count("-") == 4 else p for p in parts]
    return f"{request.method} {'/'.join(shown)}"


class WorldTransport(httpx.AsyncBaseTransport):
    """The emulator in-process, with Digdir-write crash points and a check after every call."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.inner = httpx.ASGITransport(app=world.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        world = self.world
        event = None
        if _digdir_write(request):
            await request.aread()
            self._before_write(request)
            event = world.record_write("digdir", _label(request))
            world.crash_if(event, Position.BEFORE)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        world.calls += 1
        for listener in world.wire_listeners:
            listener(request, response)
        if request.url.path == "/token":
            world.checker.token_answered(request, response)
        world.checker.check()
        if event is not None:
            world.crash_if(event, Position.AFTER_SEND)
            if world.crash_matches(event, Position.AFTER_RESPONSE):
                world.after_response_due = event
        return response

    def _before_write(self, request: httpx.Request) -> None:
        parts = request.url.path.split("/")
        if len(parts) == 6 and parts[3] == "clients" and parts[5] == "jwks":
            if request.method == "DELETE":
                self.world.checker.before_jwks_delete(parts[4])
            else:
                self.world.checker.before_jwks_write(parts[4], json.loads(request.content))

    async def aclose(self) -> None:
        await self.inner.aclose()


_WRITES = (
    "create_client",
    "update_client",
    "delete_client",
    "put_jwks",
    "delete_jwks",
    "create_scope",
    "update_scope",
    "delete_scope",
    "grant_access",
    "revoke_access",
)


class CrashingRemote:
    """`RemoteApi` around the real `HttpRemote`: a write returns, then the process may die."""

    def __init__(self, inner: HttpRemote, world: World) -> None:
        self._inner = inner
        self._world = world

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in _WRITES:
            return attribute

        async def write(*args: Any, **kwargs: Any) -> Any:
            try:
                return await attribute(*args, **kwargs)
            finally:
                self._world.crash_after_response()

        return write


def blocking_sinks(sinks: Mapping[str, SecretSink]) -> dict[str, BlockingSecretSink]:
    """The blocking sinks behind `open_sink`'s threaded ones (for checks between calls)."""
    return {name: cast(ThreadedSink, sink).blocking for name, sink in sinks.items()}


class CrashingSink:
    """`SecretSink` around the real `FileSecretSink`, with a crash point at each real write."""

    def __init__(self, inner: FileSecretSink, world: World) -> None:
        self._inner = inner
        self._world = world
        self._die_mid_write: WriteEvent | None = None
        sync = inner._sync_env_file

        def sync_env_file(client: str, document: Any) -> None:
            event, self._die_mid_write = self._die_mid_write, None
            if event is not None:  # the JSON file is replaced; the .env is not rewritten yet
                world.fire(event, Position.AFTER_SEND)
            sync(client, document)

        inner._sync_env_file = sync_env_file  # type: ignore[method-assign]

    def read_state(self, client: str) -> SinkState:
        return self._inner.read_state(client)

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        return self._inner.load_private_key(client, kid)

    def stage(self, client: str, key: PrivateKey) -> None:
        state = self._inner.read_state(client)
        done = key.kid in {s.kid for s in (state.pending, state.current) if s}
        self._write("stage", client, not done, lambda: self._inner.stage(client, key))

    def promote(self, client: str, kid: str, now: datetime) -> None:
        current = self._inner.read_state(client).current
        done = current is not None and current.kid == kid
        self._write("promote", client, not done, lambda: self._inner.promote(client, kid, now))

    def discard_pending(self, client: str, kid: str) -> None:
        pending = self._inner.read_state(client).pending
        changes = pending is not None and pending.kid == kid
        self._write(
            "discard_pending", client, changes, lambda: self._inner.discard_pending(client, kid)
        )

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        changes = self._inner.read_state(client).previous is not None
        self._write(
            "forget_previous", client, changes, lambda: self._inner.forget_previous(client, kid)
        )

    def set_client_id(self, client: str, client_id: str) -> None:
        changes = self._inner.read_state(client).client_id != client_id
        self._write(
            "set_client_id", client, changes, lambda: self._inner.set_client_id(client, client_id)
        )

    def _write(self, op: str, client: str, changes: bool, call: Callable[[], None]) -> None:
        world = self._world
        if not changes:
            call()
            return
        event = world.record_write("sink", f"sink.{op}")
        world.crash_if(event, Position.BEFORE)
        if world.crash_matches(event, Position.AFTER_SEND):
            self._die_mid_write = event
        try:
            call()
        finally:
            if self._die_mid_write is not None:  # the call ended before its JSON was replaced
                self._die_mid_write = None
                world.fire(event, Position.AFTER_SEND)
        world.checker.check()
        world.crash_if(event, Position.AFTER_RESPONSE)


# ----------------------------------------------------------------------------------------------
# the world


@dataclass
class Run:
    """One apply process: its plan, its report (None when it crashed or had nothing to do)."""

    plan: Plan
    report: ApplyReport | None
    crashed: Crash | None = None
    writes: list[WriteEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Shape:
    """The end state, without ids or key material: what an uninterrupted run is compared on."""

    clients: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]
    scopes: tuple[tuple[str, bool, str], ...]
    access: tuple[tuple[str, str, str], ...]
    sinks: tuple[tuple[str, str | None, str | None, str | None], ...]


@dataclass(frozen=True)
class Problem:
    """One way an end state differs from a converged one; `code` classifies it."""

    code: str
    text: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.text}"


def shape_problems(actual: Shape, expected: Shape) -> list[Problem]:
    """Which parts of two end states differ (ids and key material never compared)."""
    problems = [
        Problem(f"shape-{part}", f"{part}: {getattr(actual, part)} != {getattr(expected, part)}")
        for part in ("clients", "scopes", "access")
        if getattr(actual, part) != getattr(expected, part)
    ]
    if actual.sinks != expected.sinks:
        without_previous = [(n, c, None, p) for n, c, _, p in actual.sinks]
        code = "previous-left" if without_previous == list(expected.sinks) else "shape-sinks"
        problems.append(Problem(code, f"sinks: {actual.sinks} != {expected.sinks}"))
    return problems


@dataclass(frozen=True)
class Durable:
    """What survives a crash and decides what a re-run does (key material aside)."""

    shape: Shape
    client_ids: tuple[str, ...]
    env_kids: tuple[tuple[str, str], ...]
    markers: tuple[tuple[str, int], ...]


class World:
    """One project copy + one emulator + its sinks and clock; state survives between runs."""

    def __init__(
        self,
        directory: Path,
        *,
        clock: VirtualClock | None = None,
        state: EmulatorState | None = None,
    ) -> None:
        self.directory = directory
        self.workspace: Workspace = open_workspace(directory, ENV)
        self.clock = clock or VirtualClock()
        self.settings = _settings(self.workspace)
        ensure_admin_certificate(self.workspace, self.settings)
        self.app = create_app(self.settings)
        self.emulator: Emulator = cast(Any, self.app).emulator
        if state is None:  # the state file's content, once: the certificate's CA lives there
            with self.emulator.store.read() as stored:
                state = stored
        seed = state.model_copy(deep=True)
        self.emulator.store = MemoryStateStore(lambda: seed)  # one app per world: state survives
        self.clock.listeners.append(self._age_registered_keys)
        self.checker = Checker(self)
        self.writes: list[WriteEvent] = []
        self.timeline: list[str] = []
        """Writes and key tests at /token ("token KID STATUS"), in order."""
        self.wire_listeners: list[Callable[[httpx.Request, httpx.Response], None]] = []
        """Called with every request and its answer, in the task that made the call."""
        self.calls = 0
        self.crash: CrashPoint | None = None
        self.queued: list[CrashPoint] = []
        self.crashes_fired: list[tuple[CrashPoint, WriteEvent]] = []
        self.crash_states: list[Durable] = []
        self.after_response_due: WriteEvent | None = None
        self._armed_at = 0
        self._check_sinks = blocking_sinks(self.workspace.open_sinks())
        self.checker.baseline()

    # crash points

    def arm(self, *points: CrashPoint) -> None:
        """Crash at `points[0]`; once it fired, at `points[1]` counted from there, and so on."""
        self.crash, self.queued = (points[0], list(points[1:])) if points else (None, [])
        self._armed_at = len(self.writes)

    def record_write(self, target: str, label: str) -> WriteEvent:
        event = WriteEvent(len(self.writes) - self._armed_at, target, label)
        self.writes.append(event)
        self.timeline.append(label)
        return event

    def crash_matches(self, event: WriteEvent, position: Position) -> bool:
        point = self.crash
        return point is not None and point.index == event.index and point.position is position

    def crash_if(self, event: WriteEvent, position: Position) -> None:
        if self.crash_matches(event, position):
            self.fire(event, position)

    def fire(self, event: WriteEvent, position: Position) -> None:
        assert self.crash is not None
        self.crashes_fired.append((self.crash, event))
        self.crash_states.append(self.durable())
        self.arm(*self.queued)
        raise Crash(f"{position} of {event.label} (write #{event.index})")

    def crash_after_response(self) -> None:
        event, self.after_response_due = self.after_response_due, None
        if event is not None:
            self.fire(event, Position.AFTER_RESPONSE)

    # observation

    def sink_states(self) -> dict[str, SinkState]:
        return {name: sink.read_state(name) for name, sink in self._check_sinks.items()}

    def sink_state_of(self, client_id: str) -> tuple[str | None, SinkState | None]:
        for name, state in self.sink_states().items():
            if state.client_id == client_id:
                return name, state
        return None, None

    def graces(self) -> dict[str, timedelta]:
        return {
            name: client.keys.grace
            for name, client in self.workspace.desired.clients.items()
            if client.keys is not None
        }

    def remote_state(self) -> list[RemoteClient]:
        with self.emulator.store.read() as state:
            return remote_clients(state)

    def client_keys(self, name: str) -> dict[str, str]:
        """kid → thumbprint registered on the active client carrying `name`'s marker."""
        found = [c for c in self.remote_state() if c.name == name and c.active]
        assert len(found) == 1, f"{name}: {found}"
        return dict(found[0].keys)

    def client_id(self, name: str) -> str:
        found = [c.client_id for c in self.remote_state() if c.name == name and c.active]
        assert len(found) == 1, f"{name}: {found}"
        return found[0]

    # runs

    @asynccontextmanager
    async def session(
        self,
    ) -> AsyncIterator[tuple[RemoteApi, dict[str, SecretSink], TokenKeyTester]]:
        """What one apply process opens: the admin remote, the token client and the sinks."""
        environment = self.workspace.environment
        transport = WorldTransport(self)
        async with (
            open_remote(
                environment,
                base_dir=self.directory,
                environ={},
                access="write",
                transport=transport,
                retry=RetryPolicy.without_waits(),
            ) as remote,
            open_http(transport=transport) as http,
        ):
            sinks: dict[str, SecretSink] = {
                name: ThreadedSink(CrashingSink(cast(FileSecretSink, sink), self))
                for name, sink in blocking_sinks(self.workspace.open_sinks()).items()
            }
            tester = TokenKeyTester(
                http, issuer=environment.issuer, token_endpoint=str(environment.token_endpoint)
            )
            yield cast(RemoteApi, CrashingRemote(remote, self)), sinks, tester

    def context(
        self,
        api: RemoteApi,
        sinks: Mapping[str, SecretSink],
        tester: TokenKeyTester,
        settings: ApplySettings = FAST,
        allowed: frozenset[str] = frozenset(),
        *,
        saved: Plan | None = None,
    ) -> ApplyContext:
        """What `mpctl apply` gives the engine; a `saved` plan is held against the manifests."""
        return ApplyContext(
            allowed=allowed,
            api=api,
            env_name=self.workspace.env_name,
            sinks=sinks,
            rederive=None if saved is None else partial(self.make_plan, options=saved.options),
            tester=tester,
            now=self.clock.now,
            sleep=self.clock.sleep,
            monotonic=self.clock.monotonic,
            settings=settings,
        )

    async def observe(self, api: RemoteApi, sinks: Mapping[str, SecretSink]) -> Snapshot:
        return await observe(api, orgno=self.workspace.desired.organisation.orgno, sinks=sinks)

    def make_plan(self, snapshot: Snapshot, options: PlanOptions | None = None) -> Plan:
        return make_plan(
            self.workspace.desired,
            snapshot.observed,
            snapshot.sinks,
            options=options or PlanOptions(),
            now=self.clock.now(),
            manifests_fingerprint=self.workspace.fingerprint,
        )

    async def plan(self, options: PlanOptions | None = None) -> Plan:
        async with self.session() as (api, sinks, _):
            return self.make_plan(await self.observe(api, sinks), options)

    async def run(
        self,
        *,
        plan: Plan | None = None,
        options: PlanOptions | None = None,
        settings: ApplySettings = FAST,
    ) -> Run:
        """One apply process: observe and plan (unless `plan` is given), then apply."""
        first = len(self.writes)
        async with self.session() as (api, sinks, tester):
            saved = plan
            if plan is None:
                plan = self.make_plan(await self.observe(api, sinks), options)
            run = Run(plan, None)
            if plan.steps:
                assert plan.applyable, [d.message for d in plan.diagnostics]
                try:
                    allowed = (options or PlanOptions()).allows
                    context = self.context(api, sinks, tester, settings, allowed, saved=saved)
                    run.report = await apply_plan(plan, context)
                except Crash as crash:
                    run.crashed = crash
        run.writes = self.writes[first:]
        _no_secret_in(plan, run.report)
        return run

    async def converge(self, *, max_runs: int = 4, options: PlanOptions | None = None) -> list[Run]:
        """Apply until a fresh plan has no steps (bounded); every run must stay safe to re-run."""
        runs = []
        for _ in range(max_runs):
            run = await self.run(options=options)
            runs.append(run)
            if not run.plan.steps:
                return runs
            if run.report is not None and not run.report.ok:
                assert run.report.safe_to_rerun, _failures(run.report)
        raise AssertionError(f"no convergence after {max_runs} runs: {_history(runs)}")

    # the end state

    def shape(self) -> Shape:
        with self.emulator.store.read() as state:
            clients = [c for c in remote_clients(state) if c.name is not None and c.active]
            own = sorted((s for s in state.scopes.values() if s.owner_orgno == ORGNO), key=_name)
            access = sorted(
                (a.scope, a.consumer_orgno, str(a.state))
                for a in state.access.values()
                if a.owner_orgno == ORGNO
            )
        sinks = self.sink_states()
        return Shape(
            clients=tuple((c.name or "", c.scopes, tuple(sorted(c.keys))) for c in clients),
            scopes=tuple((s.name, s.active, s.visibility) for s in own),
            access=tuple(access),
            sinks=tuple(
                (
                    name,
                    s.current.kid if s.current else None,
                    s.previous.kid if s.previous else None,
                    s.pending.kid if s.pending else None,
                )
                for name, s in sorted(sinks.items())
            ),
        )

    def durable(self) -> Durable:
        """Everything a re-run can see: the shape plus client ids, `.env` kids, every marker."""
        with self.emulator.store.read() as state:
            markers = Counter(c.name for c in remote_clients(state) if c.name is not None)
        sinks = self.sink_states()
        return Durable(
            shape=self.shape(),
            client_ids=tuple(sorted(n for n, s in sinks.items() if s.client_id)),
            env_kids=tuple(
                sorted((n, self.env_file(n).get("MASKINPORTEN_KID", "")) for n in sinks)
            ),
            markers=tuple(sorted(markers.items())),
        )

    def env_file(self, name: str) -> dict[str, str]:
        """The workload's `.env` for `name` as variables (empty when there is none)."""
        path = self.directory / ".mpctl" / "secrets" / ENV / f"{name}.env"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
        return {key: value.strip('"') for key, value in pairs}

    def workloads(self) -> dict[str, tuple[str, str]]:
        """name → (client_id, kid) that each workload's `.env` would sign with."""
        found = {}
        for name in self._check_sinks:
            env = self.env_file(name)
            if "MASKINPORTEN_KID" in env and "MASKINPORTEN_CLIENT_ID" in env:
                found[name] = (env["MASKINPORTEN_CLIENT_ID"], env["MASKINPORTEN_KID"])
        return found

    def assert_converged(self) -> None:
        """One client per marker, one key per client: the sink's current, same material, .env."""
        problems = self.convergence_problems()
        assert not problems, [str(p) for p in problems]
        assert not self.checker.violations, self.checker.violations

    def convergence_problems(self) -> list[Problem]:
        problems = []
        remote = self.remote_state()
        names = Counter(c.name for c in remote if c.name is not None)
        problems += [
            Problem("duplicate-client", f"{n}: {k} clients carry its marker")
            for n, k in names.items()
            if k != 1
        ]
        by_name = {c.name: c for c in remote if c.name is not None}
        for name, state in sorted(self.sink_states().items()):
            client = by_name.get(name)
            if client is None or state.current is None:
                problems.append(Problem("missing", f"{name}: no client or no current key"))
                continue
            if state.pending is not None:
                problems.append(Problem("pending-left", f"{name}: pending {state.pending.kid}"))
            if state.previous is not None:
                text = f"{name}: the sink still holds previous {state.previous.kid}"
                problems.append(Problem("previous-left", text))
            if dict(client.keys) != {state.current.kid: state.current.thumbprint}:
                text = f"{name}: registered {sorted(client.keys)}, current {state.current.kid}"
                problems.append(Problem("keys", text))
            if state.client_id != client.client_id:
                text = f"{name}: sink client_id {state.client_id} != {client.client_id}"
                problems.append(Problem("client-id", text))
            problems += self._env_file_problems(name, client.client_id, state.current.kid)
        return problems

    def _env_file_problems(self, name: str, client_id: str, kid: str) -> list[Problem]:
        seen = self.workloads().get(name)
        if seen == (client_id, kid):
            return []
        text = f"{name}: the workload's .env has {seen}, the sink's current is {(client_id, kid)}"
        return [Problem("env-stale", text)]

    def _age_registered_keys(self, seconds: float) -> None:
        """Time passes for Digdir's key propagation while apply sleeps (never for grants)."""
        with self.emulator.store.write() as state:
            for client in state.clients.values():
                for key in client.registered_keys():
                    key.registered_at -= seconds

    # tampering behind mpctl's back (tests of the checker and of alarms)

    def remove_registered_key(self, name: str, kid: str) -> None:
        """Someone deletes a key in Samarbeidsportalen: S1 is broken until mpctl heals it."""
        client_id = self.client_id(name)
        with self.emulator.store.write() as state:
            record = state.clients[client_id]
            assert record.jwks is not None
            record.jwks.keys = [k for k in record.jwks.keys if k.kid != kid]
            if not record.jwks.keys:
                record.jwks = None
        self.checker.exempt.add(name)
        self.checker.had_keys.discard(client_id)


def _name(scope: Any) -> str:
    return str(scope.name)


def _settings(workspace: Workspace) -> EmulatorSettings:
    embedded = workspace.environment.emulator
    assert embedded is not None
    return emulator_settings(workspace, embedded).model_copy(update={"control_enabled": True})


def _failures(report: ApplyReport) -> list[str]:
    return [f"{o.address}: {o.message} (safe={o.safe_to_rerun})" for o in report.failed]


def _history(runs: Sequence[Run]) -> list[str]:
    lines = []
    for run in runs:
        steps = [f"{s.address}:{s.action}" for s in run.plan.steps]
        failed = _failures(run.report) if run.report else []
        lines.append(f"steps={steps} crashed={run.crashed} failed={failed}")
    return lines


_SECRET_MARKERS = ("PRIVATE KEY", '"d":', '"p":', '"q":', "eyJ")


def _no_secret_in(plan: Plan, report: ApplyReport | None) -> None:
    """S8 (cheap part): the plan document and the report's messages hold no key or grant."""
    texts = [plan.model_dump_json()]
    if report is not None:
        texts += [o.message for o in report.outcomes]
    for text in texts:
        for marker in _SECRET_MARKERS:
            assert marker not in text, f"S8: {marker!r} in a plan or report"
    STATS.checks.update({"S8": 1})


def copy_world(template: World, target: Path) -> World:
    """An independent copy of `template`: its files (project, sinks), emulator state and time."""
    shutil.copytree(template.directory, target)
    with template.emulator.store.read() as state:
        clock = VirtualClock(template.clock.now())
        return World(target, clock=clock, state=state)


def checks_one_at_a_time(world: World) -> None:
    """The checker compares each observation with the one before, which assumes one check at a
    time; with steps in flight, sink writes of different clients check from their worker
    threads while the event loop checks after each call, so checks take a lock (each still
    reads the whole state fresh)."""
    check, lock = world.checker.check, threading.RLock()

    def one_at_a_time() -> None:
        with lock:
            check()

    world.checker.check = one_at_a_time  # type: ignore[method-assign]
