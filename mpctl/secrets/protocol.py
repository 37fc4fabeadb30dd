"""The secret-sink seam: where a client's private keys live, with pending/current/previous labels.

Owns the async `SecretSink` Protocol that apply, plan and verify program against, the
`BlockingSecretSink` each store implements (files, vendor SDKs, a plug-in's store) and
`ThreadedSink` between them, the `SinkContext` a sink is built with, `SinkPlugin` (what a sink
module declares), and the `SINKS` registry (sink `type` → plug-in, found through the entry
point group `mpctl.sinks` by `mpctl.secrets.plugins`), which checks a plug-in's block with the
plug-in's own model before a sink is opened. The labels follow AWS Secrets Manager's staging
labels (reliability.md §1): `stage` writes a *pending* key, `promote` moves it to *current* and
the old current to *previous*, `forget_previous` ends the grace. Must not generate keys, talk
to Digdir or decide when to rotate: the planner derives that from `read_state` plus the JWKS.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, get_args, runtime_checkable

from pydantic import BaseModel, ValidationError

from mpctl.errors import SecretSinkError
from mpctl.model import (
    BUILTIN_SINK_SPECS,
    DURABLE_SINK_TYPES,
    PLUGIN_SINK_TYPE,
    PluginSink,
    SinkSpec,
    SinkState,
)
from mpctl.secrets.plugins import (
    ENTRY_POINT_GROUP,
    NOT_INSTALLED_HINT,
    installed_sinks,
    load_installed,
)

if TYPE_CHECKING:
    import asyncio

    from mpctl.secrets.keys import PrivateKey

T = TypeVar("T")


class RotationInFlightError(SecretSinkError):
    """A different pending key exists: one rotation in flight per client (S6). Never forced."""

    code = "ROTATION_IN_FLIGHT"


class KidReuseError(SecretSinkError):
    """A kid the sink holds would name different key material (S2)."""

    code = "KID_REUSE"


def label_holding(state: SinkState, kid: str, thumbprint: str) -> str | None:
    """The label (`pending` or `current`) already holding this key, or None when neither does.

    The one home of the kid rule every sink applies before it stages (S2): a kid that names
    other key material, or the previous key, is refused with `KidReuseError`.
    """
    for label, slot in (("pending", state.pending), ("current", state.current)):
        if slot is not None and slot.kid == kid:
            if slot.thumbprint != thumbprint:
                raise KidReuseError(f"kid {kid!r} is already {label} with different key material")
            return label
    if state.previous is not None and state.previous.kid == kid:
        raise KidReuseError(f"kid {kid!r} is the previous key; a kid is never reused")
    return None


@runtime_checkable
class BlockingSecretSink(Protocol):
    """One environment's secret store, over a blocking client (files, a vendor SDK).

    `client` is the manifest name of the client. Every method is idempotent: repeating a call
    that already took effect changes nothing and does not fail, so an interrupted apply can
    always run again. Apply and verify never call these directly: `open_sink` runs them in a
    thread behind the async `SecretSink`.
    """

    def read_state(self, client: str) -> SinkState:
        """The public view (kids, thumbprints, times); an empty state if nothing is stored."""
        ...

    def stage(self, client: str, key: PrivateKey) -> None:
        """Store `key` as pending. Refuses a different pending key (S6) and kid reuse (S2)."""
        ...

    def promote(self, client: str, kid: str, now: datetime) -> None:
        """current := pending `kid` (promoted_at = now), previous := old current."""
        ...

    def discard_pending(self, client: str, kid: str) -> None:
        """Abandon the pending `kid` (an explicit, named abort of a rotation; never implicit)."""
        ...

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        """Drop the previous key after it was retired from the JWKS (only `kid`, if given)."""
        ...

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        """The private key stored under `kid` in any slot (for token tests and verify)."""
        ...

    def set_client_id(self, client: str, client_id: str) -> None:
        """Record Digdir's client_id for `client` (the workload's MASKINPORTEN_CLIENT_ID)."""
        ...


@runtime_checkable
class SecretSink(Protocol):
    """What apply, plan and verify program against: `BlockingSecretSink`'s calls, awaited, so
    the labels of many clients are read concurrently."""

    async def read_state(self, client: str) -> SinkState: ...

    async def stage(self, client: str, key: PrivateKey) -> None: ...

    async def promote(self, client: str, kid: str, now: datetime) -> None: ...

    async def discard_pending(self, client: str, kid: str) -> None: ...

    async def forget_previous(self, client: str, kid: str | None = None) -> None: ...

    async def load_private_key(self, client: str, kid: str) -> PrivateKey: ...

    async def set_client_id(self, client: str, client_id: str) -> None: ...


class ThreadedSink:
    """A `SecretSink` that runs a blocking sink's calls in a worker thread, one at a time per
    client (a sink's writes for one client are never interleaved; different clients run
    concurrently)."""

    def __init__(self, blocking: BlockingSecretSink) -> None:
        self.blocking = blocking
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"ThreadedSink({self.blocking!r})"

    def lock(self, client: str) -> asyncio.Lock:
        """The lock each call for `client` holds: its calls never run at the same time."""
        import asyncio  # noqa: PLC0415 - fast start: validate opens no sink

        return self._locks.setdefault(client, asyncio.Lock())

    async def _run(self, client: str, call: Callable[[], T]) -> T:
        import asyncio  # noqa: PLC0415 - fast start: validate opens no sink

        async with self.lock(client):
            return await asyncio.to_thread(call)

    async def read_state(self, client: str) -> SinkState:
        return await self._run(client, lambda: self.blocking.read_state(client))

    async def stage(self, client: str, key: PrivateKey) -> None:
        await self._run(client, lambda: self.blocking.stage(client, key))

    async def promote(self, client: str, kid: str, now: datetime) -> None:
        await self._run(client, lambda: self.blocking.promote(client, kid, now))

    async def discard_pending(self, client: str, kid: str) -> None:
        await self._run(client, lambda: self.blocking.discard_pending(client, kid))

    async def forget_previous(self, client: str, kid: str | None = None) -> None:
        await self._run(client, lambda: self.blocking.forget_previous(client, kid))

    async def load_private_key(self, client: str, kid: str) -> PrivateKey:
        return await self._run(client, lambda: self.blocking.load_private_key(client, kid))

    async def set_client_id(self, client: str, client_id: str) -> None:
        await self._run(client, lambda: self.blocking.set_client_id(client, client_id))


@dataclass(frozen=True)
class SinkContext:
    """What every sink needs to know about the environment it writes for."""

    environment: str
    base_dir: Path
    issuer: str
    token_endpoint: str
    embedded_emulator: bool = False
    """The environment's Digdir is the embedded emulator, whose state lives beside the sink:
    both go with a CI runner, so a file sink there loses nothing."""
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    """Where `{env: NAME}` credential references and CI markers are read."""


SinkFactory = Callable[[SinkSpec, SinkContext], BlockingSecretSink]
"""Builds a sink from its (validated) block; called once per environment and client set."""

S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class SinkPlugin(Generic[S]):
    """A secret sink as a package ships it: what an `mpctl.sinks` entry point names.

    A sink module ends with `PLUGIN = SinkPlugin(type=..., spec=..., open=..., durable=...)`
    and its distribution declares `[project.entry-points."mpctl.sinks"] <type> =
    "<module>:PLUGIN"`; the built-in sinks register the same way.
    """

    type: str
    """The manifest's `type:` (lower-case letters, digits and '-', a letter first)."""
    spec: builtins.type[S]
    """The sink block's pydantic model; its `type` field is `Literal["<type>"]`."""
    open: Callable[[S, SinkContext], BlockingSecretSink]
    """Builds the sink for one environment from the block as `spec` validated it."""
    durable: bool
    """The store outlives the machine mpctl runs on (not a file on a CI runner's disk)."""

    def __post_init__(self) -> None:
        if not PLUGIN_SINK_TYPE.match(self.type):
            raise TypeError(f"sink type {self.type!r}: use lower-case letters, digits and '-'")
        field_ = self.spec.model_fields.get("type")
        if field_ is None or get_args(field_.annotation) != (self.type,):
            raise TypeError(
                f"the {self.type!r} sink's spec {self.spec.__name__} needs a field "
                f"`type: Literal[{self.type!r}]`"
            )


@dataclass(frozen=True)
class SinkSpecProblem:
    """Why a sink block cannot be used: at `path` inside the block, with how to fix it."""

    path: tuple[str | int, ...]
    message: str
    hint: str


class SinkRegistry(MutableMapping[str, SinkFactory]):
    """Sink `type` → factory: the installed plug-ins (entry point group `mpctl.sinks`, each
    module imported when its type is first used) and built-in sinks registered in-process by
    assignment (`SINKS[type] = factory`, the way before plug-ins, kept for code and tests that
    swap a factory; an assignment takes precedence). Deleting a type forgets what was loaded or
    assigned for it: it is loaded again on next use.
    """

    def __init__(self) -> None:
        self._assigned: dict[str, SinkFactory] = {}
        self._loaded: dict[str, SinkPlugin[Any]] = {}

    def types(self) -> tuple[str, ...]:
        """Every sink type that can be used, sorted."""
        return tuple(sorted({*installed_sinks(), *self._assigned}))

    def plugin(self, sink_type: str) -> SinkPlugin[Any]:
        """The plug-in for `sink_type`, loaded on first use; `SecretSinkError` if none is."""
        if sink_type in self._assigned:
            return _assigned_plugin(sink_type, self._assigned[sink_type])
        if sink_type not in self._loaded:
            self._loaded[sink_type] = self._load(sink_type)
        return self._loaded[sink_type]

    def rediscover(self) -> None:
        """Forget what was discovered and loaded: the next use reads the entry points again
        (after `sys.path` changed, or a plug-in was installed into a running process)."""
        installed_sinks.cache_clear()
        self._loaded.clear()

    def durable_types(self) -> tuple[str, ...]:
        """The types whose store outlives the machine (every plug-in that loads is asked)."""
        durable = set(DURABLE_SINK_TYPES) & set(self.types())
        for sink_type in self.types():
            with contextlib.suppress(SecretSinkError):
                if self.plugin(sink_type).durable:
                    durable.add(sink_type)
        return tuple(sorted(durable))

    def problems(self, spec: SinkSpec) -> tuple[SinkSpecProblem, ...]:
        """Why `spec` cannot be used here: its type is not installed, or a plug-in's block does
        not validate with the plug-in's own model. Empty when it can be opened."""
        try:
            if spec.type not in self.types():
                return (self._not_installed(spec.type),)
            if not isinstance(spec, PluginSink):
                return ()
            plugin = self.plugin(spec.type)
        except SecretSinkError as exc:
            return (SinkSpecProblem(("type",), str(exc), exc.hint or ""),)
        try:
            plugin.spec.model_validate(spec.model_dump())
        except ValidationError as exc:
            return _spec_problems(exc, plugin)
        return ()

    def checked(self, spec: SinkSpec, environment: str) -> tuple[SinkPlugin[Any], BaseModel]:
        """The plug-in for `spec` and the block as its model validates it, or `SecretSinkError`
        naming the environment, the field and the plug-in's message."""
        problems = self.problems(spec)
        if problems:
            first = problems[0]
            where = ".".join(str(part) for part in first.path)
            raise SecretSinkError(
                f"environment {environment!r}, sink block of type {spec.type!r}: "
                + (first.message if first.path == ("type",) else f"{where}: {first.message}"),
                hint=first.hint,
            )
        plugin = self.plugin(spec.type)
        if isinstance(spec, plugin.spec):
            return plugin, spec
        return plugin, plugin.spec.model_validate(spec.model_dump())

    def _load(self, sink_type: str) -> SinkPlugin[Any]:
        installed = installed_sinks().get(sink_type)
        if installed is None:
            problem = self._not_installed(sink_type)
            raise SecretSinkError(problem.message, hint=problem.hint)
        found = load_installed(installed)
        if found is None and sink_type in self._assigned:  # the module registered itself
            return _assigned_plugin(sink_type, self._assigned[sink_type])
        if not isinstance(found, SinkPlugin) or found.type != sink_type:
            raise SecretSinkError(
                f"the entry point {installed.describe()} names "
                f"{type(found).__name__}, not a SinkPlugin with type {sink_type!r}",
                hint="the package that provides it is broken: report it to its authors",
            )
        return found

    def _not_installed(self, sink_type: str) -> SinkSpecProblem:
        return SinkSpecProblem(
            ("type",),
            f"no secret sink of type {sink_type!r} is installed; known: "
            f"{', '.join(self.types())}; install the package that provides it (its entry "
            f"point group is {ENTRY_POINT_GROUP})",
            NOT_INSTALLED_HINT,
        )

    def __getitem__(self, sink_type: str) -> SinkFactory:
        if sink_type not in self:
            raise KeyError(sink_type)
        return self.plugin(sink_type).open

    def __setitem__(self, sink_type: str, factory: SinkFactory) -> None:
        self._assigned[sink_type] = factory

    def __delitem__(self, sink_type: str) -> None:
        if sink_type not in self:
            raise KeyError(sink_type)
        self._assigned.pop(sink_type, None)
        self._loaded.pop(sink_type, None)

    def __contains__(self, sink_type: object) -> bool:
        return sink_type in self.types()

    def __iter__(self) -> Iterator[str]:
        return iter(self.types())

    def __len__(self) -> int:
        return len(self.types())


def _assigned_plugin(sink_type: str, factory: SinkFactory) -> SinkPlugin[Any]:
    """A built-in sink registered by assignment, as the plug-in it will declare."""
    spec = BUILTIN_SINK_SPECS.get(sink_type)
    if spec is None:
        raise SecretSinkError(
            f"the secret sink type {sink_type!r} was registered by assignment, which only "
            "built-in sinks may do",
            hint="declare it as a SinkPlugin in the entry point group mpctl.sinks",
        )
    return SinkPlugin(sink_type, spec, factory, durable=sink_type in DURABLE_SINK_TYPES)


def _spec_problems(exc: ValidationError, plugin: SinkPlugin[Any]) -> tuple[SinkSpecProblem, ...]:
    """The plug-in model's errors (never the input values), each with how to fix it."""
    fields = sorted(plugin.spec.model_fields)
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        path = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            message, hint = "unknown field", f"fields of a {plugin.type} block: {', '.join(fields)}"
        elif error["type"] == "missing":
            message, hint = "missing required field", f"add '{path[-1]}:' to the block"
        else:
            message = error["msg"].removeprefix("Value error, ")
            hint = f"fix this field of the {plugin.type} block (the plug-in's documentation says "
            hint += "what it accepts)"
        problems.append(SinkSpecProblem(path, message, hint))
    return tuple(sorted(problems, key=lambda p: [str(part) for part in p.path]))


SINKS = SinkRegistry()
"""Every sink type → factory (installed plug-ins and in-process registrations)."""


def open_sink(spec: SinkSpec, context: SinkContext) -> SecretSink:
    """The sink for `spec`, built by its plug-in from the block the plug-in validated, its calls
    run in a thread."""
    plugin, checked = SINKS.checked(spec, context.environment)
    return ThreadedSink(plugin.open(checked, context))


READ_LANES = 8
"""Worker-thread calls that share the label reads of many clients' blocking sinks. A thread
hop per client cost more CPU than the reads themselves (0.15 s against 0.07 s for 1,000 file
sinks), CPU the event loop waits for while Digdir's answers arrive; the default executor runs
no more than a few threads at once anyway."""


async def read_states(sinks: Mapping[str, SecretSink]) -> dict[str, SinkState]:
    """Every client's labels, by client name. The reads of `ThreadedSink`s run in at most
    `READ_LANES` worker-thread calls, one client after another in each, each client's lock held
    as its own `read_state` would hold it; other sinks' reads are awaited side by side. The
    first failure is raised as itself and cancels the other reads; a cancelled lane stops
    before its next client."""
    import asyncio  # noqa: PLC0415 - fast start: validate opens no sink

    names = sorted(sinks)
    threaded = {n: s for n in names if isinstance(s := sinks[n], ThreadedSink)}
    lanes = [lane for i in range(READ_LANES) if (lane := list(threaded)[i::READ_LANES])]
    others = [n for n in names if n not in threaded]
    reads = [
        *(asyncio.ensure_future(_read_lane(threaded, lane)) for lane in lanes),
        *(asyncio.ensure_future(_read_one(sinks[n], n)) for n in others),
    ]
    try:
        results = await asyncio.gather(*reads)
    except BaseException:
        for read in reads:
            read.cancel()
        raise
    states: dict[str, SinkState] = {}
    for lane, lane_states in zip([*lanes, *([n] for n in others)], results, strict=True):
        states.update(zip(lane, lane_states, strict=True))
    return {name: states[name] for name in names}


async def _read_one(sink: SecretSink, client: str) -> list[SinkState]:
    return [await sink.read_state(client)]


async def _read_lane(sinks: Mapping[str, ThreadedSink], lane: list[str]) -> list[SinkState]:
    """The labels of `lane`'s clients, read one after another in one worker-thread call."""
    import asyncio  # noqa: PLC0415 - fast start: validate opens no sink
    import threading  # noqa: PLC0415 - fast start: validate opens no sink

    stop = threading.Event()

    def read_each() -> list[SinkState]:
        states = []
        for name in lane:
            if stop.is_set():
                raise asyncio.CancelledError
            states.append(sinks[name].blocking.read_state(name))
        return states

    async with contextlib.AsyncExitStack() as held:
        for name in lane:
            await held.enter_async_context(sinks[name].lock(name))
        try:
            return await asyncio.to_thread(read_each)
        except asyncio.CancelledError:
            stop.set()
            raise
