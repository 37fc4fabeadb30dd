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

from pydantic import ConfigDict, Field

from mpctl.model.base import ObservedModel


class ObservedJwk(ObservedModel):
    """One registered public key. Private members are not part of this model and are dropped."""

    kty: str
    kid: str
    alg: str | None = None
    use: str | None = None
    e: str | None = None
    n: str | None = None
    exp: int | None = Field(default=None, description="Expiry, epoch seconds (set by Digdir)")


class ObservedJwks(ObservedModel):
    """A client's whole key set; Digdir replaces it as a unit."""

    keys: tuple[ObservedJwk, ...] = ()
    created: datetime | None = None
    last_updated: datetime | None = None

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(k.kid for k in self.keys)


class ObservedClient(ObservedModel):
    """A client ("integration") as the API returns it. Unknown fields are kept (not compared),
    so a full-replacement PUT built from a fresh GET never drops what mpctl does not model."""

    model_config = ConfigDict(extra="allow")

    client_id: str
    client_name: str | None = None
    description: str | None = None
    integration_type: str | None = None
    application_type: str | None = None
    token_endpoint_auth_method: str | None = None
    grant_types: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    client_orgno: str | None = None
    supplier_orgno: str | None = None
    access_token_lifetime: int | None = None
    active: bool = True
    created: datetime | None = None
    last_updated: datetime | None = None


class ObservedScope(ObservedModel):
    """A scope (API) as the API returns it. Unknown fields are kept, as for clients."""

    model_config = ConfigDict(extra="allow")

    name: str
    prefix: str | None = None
    subscope: str | None = None
    description: str | None = None
    long_description: str | None = None
    allowed_integration_types: tuple[str, ...] = ()
    visibility: str | None = None
    at_max_age: int | None = None
    authorization_max_lifetime: int | None = None
    delegation_source: str | None = None
    accessible_for_all: bool = False
    token_type: str | None = None
    owner_orgno: str | None = None
    active: bool = True
    created: datetime | None = None
    last_updated: datetime | None = None


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
