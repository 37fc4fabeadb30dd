"""The secret-sink seam: where a client's private keys live, with pending/current/previous labels.

Owns the `SecretSink` Protocol that apply and verify program against, the `SinkContext` a sink
is built with, and the `SINKS` registry (sink `type` → factory). The labels follow AWS Secrets
Manager's staging labels (reliability.md §1): `stage` writes a *pending* key, `promote` moves it
to *current* and the old current to *previous*, `forget_previous` ends the grace. Must not
generate keys, talk to Digdir or decide when to rotate: the planner derives that from
`read_state` plus the JWKS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from mpctl.errors import SecretSinkError
from mpctl.model import SinkSpec, SinkState
from mpctl.secrets.keys import PrivateKey


class RotationInFlightError(SecretSinkError):
    """A different pending key exists: one rotation in flight per client (S6). Never forced."""

    code = "ROTATION_IN_FLIGHT"


class KidReuseError(SecretSinkError):
    """A kid the sink holds would name different key material (S2)."""

    code = "KID_REUSE"


@runtime_checkable
class SecretSink(Protocol):
    """One environment's secret store. `client` is the manifest name of the client.

    Every method is idempotent: repeating a call that already took effect changes nothing and
    does not fail, so an interrupted apply can always run again.
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


@dataclass(frozen=True)
class SinkContext:
    """What every sink needs to know about the environment it writes for."""

    environment: str
    base_dir: Path
    issuer: str
    token_endpoint: str


SinkFactory = Callable[[SinkSpec, SinkContext], SecretSink]

SINKS: dict[str, SinkFactory] = {}
"""Sink `type` → factory. Each sink module registers itself; `mpctl.secrets` imports them all."""


def open_sink(spec: SinkSpec, context: SinkContext) -> SecretSink:
    """The sink for `spec`, built from the registry."""
    factory = SINKS.get(spec.type)
    if factory is None:
        raise SecretSinkError(
            f"no secret sink of type {spec.type!r}; known types: {', '.join(sorted(SINKS))}"
        )
    return factory(spec, context)
