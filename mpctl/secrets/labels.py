"""The labels of one client's keys in a store, as the document a sink keeps them in.

Owns `Labels`: which client it belongs to, its Digdir client_id and its pending / current /
previous slots, and the public `SinkState` every sink returns from `read_state`. Generic over what
a slot is in each store: the public `KeySlot` itself (GitHub, Vercel), a pointer to the secret
version holding the key (Azure Key Vault), or the key material itself (the local file). Owns, too,
the label moves every sink makes the same way: which pending slot a promote may take (only the
named pending key, never while a previous key is still held: that would drop it while it may be
registered), discarding a pending key and forgetting the previous one. Must not read or write
anything; a store's layout is its sink's.
"""

from __future__ import annotations

from typing import Generic, Literal, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from mpctl.errors import SecretSinkError
from mpctl.model import KeySlot, SinkState

S = TypeVar("S", bound=BaseModel)
_PUBLIC = set(KeySlot.model_fields)


class Labels(BaseModel, Generic[S]):
    """One client's labels; `format_version` 1 in every store that keeps such a document."""

    model_config = ConfigDict(extra="forbid")

    format_version: Literal[1] = 1
    client: str
    client_id: str | None = None
    current: S | None = None
    previous: S | None = None
    pending: S | None = None

    def slots(self) -> tuple[S, ...]:
        """The slots held, current first."""
        return tuple(s for s in (self.current, self.previous, self.pending) if s is not None)

    def state(self) -> SinkState:
        """The public view: kids, thumbprints and times, never key material."""
        return SinkState(
            client_id=self.client_id,
            current=public(self.current),
            previous=public(self.previous),
            pending=public(self.pending),
        )

    def promotable(self, kid: str) -> S:
        """The pending slot a promote of `kid` takes; refused when `kid` is not the pending key,
        or while a previous key is still held."""
        if self.pending is None or _kid(self.pending) != kid:
            raise SecretSinkError(f"kid {kid!r} is not pending for client {self.client!r}")
        if self.previous is not None:
            raise SecretSinkError(
                f"client {self.client!r} still holds previous key {_kid(self.previous)!r}; "
                f"refusing to promote {kid!r}, which would drop it while it may be registered",
                hint="retire the previous key (JWKS − old, then forget_previous) first",
            )
        return self.pending

    def discard_pending(self, kid: str) -> bool:
        """Drop the pending slot when it holds `kid`; True when something changed."""
        if self.pending is None or _kid(self.pending) != kid:
            return False
        self.pending = None
        return True

    def forget_previous(self, kid: str | None = None) -> bool:
        """Drop the previous slot (only when it holds `kid`, if named); True when something
        changed. A previous slot holding another kid is an error: nothing is forgotten."""
        if self.previous is None:
            return False
        if kid is not None and _kid(self.previous) != kid:
            raise SecretSinkError(
                f"client {self.client!r} holds previous key {_kid(self.previous)!r}, not {kid!r}; "
                "nothing was forgotten"
            )
        self.previous = None
        return True


class _Keyed(Protocol):
    kid: str


def _kid(slot: BaseModel) -> str:
    """Every slot type carries the public `kid`."""
    return cast("_Keyed", slot).kid


def public(slot: BaseModel | None) -> KeySlot | None:
    """A slot's public view: the `KeySlot` fields it carries, nothing else."""
    if slot is None or type(slot) is KeySlot:
        return slot
    return KeySlot.model_validate(slot.model_dump(include=_PUBLIC))
