"""The secret-sink seam: where a client's private keys live, with pending/current/previous labels.

Owns the async `SecretSink` Protocol that apply, plan and verify program against, the
`BlockingSecretSink` each store implements (files, vendor SDKs) and `ThreadedSink` between
them, the `SinkContext` a sink is built with, and the `SINKS` registry (sink `type` →
factory). The labels follow AWS Secrets Manager's staging labels (reliability.md §1): `stage`
writes a *pending* key, `promote` moves it to *current* and the old current to *previous*,
`forget_previous` ends the grace. Must not generate keys, talk to Digdir or decide when to
rotate: the planner derives that from `read_state` plus the JWKS.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from mpctl.errors import SecretSinkError
from mpctl.model import SinkSpec, SinkState
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

    async def _run(self, client: str, call: Callable[[], T]) -> T:
        lock = self._locks.setdefault(client, asyncio.Lock())
        async with lock:
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

SINKS: dict[str, SinkFactory] = {}
"""Sink `type` → factory. Each sink module registers itself; `mpctl.secrets` imports them all."""


SINK_MODULES: dict[str, str] = {
    "file": "mpctl.secrets.file",
    "aws-secrets-manager": "mpctl.secrets.aws",
    "azure-key-vault": "mpctl.secrets.azure",
    "github-environment": "mpctl.secrets.github",
    "vercel": "mpctl.secrets.vercel",
    "vault-kv": "mpctl.secrets.vault",
    "kubernetes-secret": "mpctl.secrets.kubernetes",
}
"""Sink `type` → the module that registers it, imported on first use (vendor SDKs are heavy, and
optional: `pip install 'mpctl[aws]'`, `[azure]`, `[github]`, `[vault]`, `[kubernetes]`)."""


def open_sink(spec: SinkSpec, context: SinkContext) -> SecretSink:
    """The sink for `spec`, built from the registry, its calls run in a thread."""
    if spec.type not in SINKS and spec.type in SINK_MODULES:
        importlib.import_module(SINK_MODULES[spec.type])
    factory = SINKS.get(spec.type)
    if factory is None:
        raise SecretSinkError(
            f"no secret sink of type {spec.type!r}; known types: {', '.join(sorted(SINKS))}"
        )
    return ThreadedSink(factory(spec, context))
