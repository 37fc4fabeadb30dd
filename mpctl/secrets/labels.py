"""The labels of one client's keys in a store, as the document a sink keeps them in.

Owns `Labels`: which client it belongs to, its Digdir client_id and its pending / current /
previous slots, and the public `SinkState` every sink returns from `read_state`. Generic over what
a slot is in each store: the public `KeySlot` itself (GitHub, Vercel), a pointer to the secret
version holding the key (Azure Key Vault), or the key material itself (the local file). Must not
read or write anything; a store's layout is its sink's.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

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


def public(slot: BaseModel | None) -> KeySlot | None:
    """A slot's public view: the `KeySlot` fields it carries, nothing else."""
    if slot is None or isinstance(slot, KeySlot):
        return slot
    return KeySlot.model_validate(slot.model_dump(include=_PUBLIC))
