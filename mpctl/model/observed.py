"""What Digdir's self-service API returns, read tolerantly.

Owns the remote representations (clients, JWKS, scopes, access records) and the whole-environment
snapshot `ObservedState`. Unknown fields are ignored and timestamps are accepted in both the pre-v1
(`+02:00`) and v1 (`Z`) styles. Keys registered before the 2025-05-22 API version may lack `use`.
Clients and scopes keep unknown fields (a PUT replaces the whole object, so dropping them would
erase them at Digdir); keys drop them, so private members can never ride along.
Must not do I/O, and must never hold private key members.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from mpctl.model.base import ObservedModel
from mpctl.model.registrations import ClientRegistration, PublicJwk, ScopeRegistration


class ObservedJwk(PublicJwk):
    """One registered public key: the uploaded members plus Digdir's expiry. Private members
    are not part of this model and are dropped."""

    exp: int | None = Field(default=None, description="Expiry, epoch seconds (set by Digdir)")


class ObservedJwks(ObservedModel):
    """A client's whole key set; Digdir replaces it as a unit."""

    keys: tuple[ObservedJwk, ...] = ()
    created: datetime | None = None
    last_updated: datetime | None = None

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(k.kid for k in self.keys)


class ObservedClient(ClientRegistration):
    """A client ("integration") as the API returns it: its registration plus the fields the
    server manages. Unknown fields are kept (not compared), so a full-replacement PUT built from
    a fresh GET never drops what mpctl does not model."""

    client_id: str
    supplier_orgno: str | None = None
    active: bool = True
    created: datetime | None = None
    last_updated: datetime | None = None

    @model_serializer(mode="wrap")
    def _only_what_was_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An observation is dumped whole: what the server said, defaults included."""
        data: dict[str, Any] = handler(self)
        return data


class ObservedScope(ScopeRegistration):
    """A scope (API) as the API returns it: its registration plus the server's fields."""

    name: str
    accessible_for_all: bool = False
    owner_orgno: str | None = None
    active: bool = True
    created: datetime | None = None
    last_updated: datetime | None = None

    @model_serializer(mode="wrap")
    def _only_what_was_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An observation is dumped whole: what the server said, defaults included."""
        data: dict[str, Any] = handler(self)
        return data


class ObservedAccess(ObservedModel):
    """One consumer's access record on a scope. Only APPROVED grants access."""

    scope: str
    consumer_orgno: str
    owner_orgno: str | None = None
    state: str = "APPROVED"

    @property
    def approved(self) -> bool:
        return self.state == "APPROVED"


@dataclass(frozen=True)
class ObservedState:
    """One consistent snapshot of an environment, fetched once per run.

    `clients` and `jwks` are keyed by client_id; `scopes` and `access` by scope name.
    `consumable_scopes` are the scopes this organisation may put on its own clients (APPROVED
    access, accessible_for_all, or its own); `public_scopes` is `/scopes/all` by name, used for
    delegation-source checks on scopes owned by others.
    """

    clients: Mapping[str, ObservedClient] = field(default_factory=dict)
    jwks: Mapping[str, ObservedJwks] = field(default_factory=dict)
    scopes: Mapping[str, ObservedScope] = field(default_factory=dict)
    access: Mapping[str, tuple[ObservedAccess, ...]] = field(default_factory=dict)
    consumable_scopes: frozenset[str] = frozenset()
    public_scopes: Mapping[str, ObservedScope] = field(default_factory=dict)
