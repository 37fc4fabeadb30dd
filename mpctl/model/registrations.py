"""Digdir's wire format as types: what mpctl writes (registrations) and what the API returns.

Owns the request bodies of the self-service API as types, with the fields the server manages
declared once per kind (`SERVER_MANAGED`: never sent, whatever a GET returned), the fields that
can only be given when an object is created (`CREATE_ONLY`: a client's `client_orgno`, which is
how a supplier registers a client for a customer), and `overlay`, the one rule for a full-
replacement PUT: a fresh GET with the managed fields laid over it, so whatever mpctl does not
manage keeps its remote value. A registration carries only the fields that were set (an explicit
null means "clear it"), in code and in plan files alike.

Owns, too, the remote representations read back (`Observed*`: a client or scope is its
registration plus the server's fields; a registered JWK is the public JWK plus `exp`) and the
whole-environment snapshot `ObservedState`. Responses are read tolerantly: unknown fields are
ignored, timestamps are accepted in both the pre-v1 (`+02:00`) and v1 (`Z`) styles, and keys
registered before the 2025-05-22 API version may lack `use`. Clients and scopes keep unknown
fields (a PUT replaces the whole object, so dropping them would erase them at Digdir); keys drop
them, so private members can never ride along. Must not do I/O, and must never hold private key
members.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from mpctl.model.base import ObservedModel

R = TypeVar("R", bound="Registration")


class Registration(BaseModel):
    """A request body: the fields set, plus unknown remote fields a PUT must carry back."""

    model_config = ConfigDict(extra="allow", frozen=True)

    SERVER_MANAGED: ClassVar[frozenset[str]] = frozenset()
    CREATE_ONLY: ClassVar[frozenset[str]] = frozenset()
    DUMPED_WHOLE: ClassVar[bool] = False
    """An observation is dumped whole (what the server said, defaults included); a request
    body carries only the fields that were set."""

    @model_serializer(mode="wrap")
    def _only_what_was_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.DUMPED_WHOLE:
            return data
        kept = self.model_fields_set | set(self.model_extra or {})
        return {name: value for name, value in data.items() if name in kept}

    def wire(self) -> dict[str, JsonValue]:
        """The JSON object sent to Digdir."""
        return self.model_dump(mode="json")

    def for_update(self: R) -> R:
        """This body as a PUT sends it: without the fields only a create may give."""
        return type(self).model_validate(_without(self.wire(), self.CREATE_ONLY))


class ClientRegistration(Registration):
    """A client ("integration") as mpctl registers it."""

    SERVER_MANAGED: ClassVar[frozenset[str]] = frozenset(
        {"client_id", "supplier_orgno", "active", "created", "last_updated"}
    )
    CREATE_ONLY: ClassVar[frozenset[str]] = frozenset({"client_orgno"})

    client_name: str | None = None
    description: str | None = None
    integration_type: str | None = None
    application_type: str | None = None
    token_endpoint_auth_method: str | None = None
    grant_types: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    access_token_lifetime: int | None = None
    client_orgno: str | None = None
    """Supplier mode: the customer organisation the client is registered for (create only)."""


class ScopeRegistration(Registration):
    """A scope (API) as mpctl registers it. `active: true` reactivates a deleted scope (PUT)."""

    SERVER_MANAGED: ClassVar[frozenset[str]] = frozenset(
        {"name", "owner_orgno", "created", "last_updated"}
    )

    prefix: str | None = None
    subscope: str | None = None
    description: str | None = None
    long_description: str | None = None
    allowed_integration_types: tuple[str, ...] = ()
    visibility: str | None = None
    at_max_age: int | None = None
    authorization_max_lifetime: int | None = None
    delegation_source: str | None = None
    accessible_for_all: bool | None = None
    token_type: str | None = None
    active: bool | None = None


class PublicJwk(ObservedModel):
    """One public key as uploaded: members beyond these (private ones above all) are dropped."""

    kty: str
    kid: str
    alg: str | None = None
    use: str | None = None
    e: str | None = None
    n: str | None = None
    crv: str | None = None
    x: str | None = None
    y: str | None = None

    def wire(self) -> dict[str, JsonValue]:
        return self.model_dump(mode="json", exclude_none=True)


def overlay(current: R, desired: R) -> R | None:
    """The PUT body that makes `current` (a fresh GET: an observed client or scope, which is its
    registration plus the server's fields) what `desired` says; None when the object already
    is. Unmanaged and unknown fields keep their remote values."""
    if not isinstance(current, type(desired)):
        raise TypeError(f"cannot lay a {type(desired).__name__} over {type(current).__name__}")
    never_sent = desired.SERVER_MANAGED | desired.CREATE_ONLY
    remote = _without(current.model_dump(mode="json", exclude_none=True), never_sent)
    wanted = {**remote, **desired.for_update().wire()}
    if all(remote.get(name) == value for name, value in wanted.items()):
        return None
    return type(desired).model_validate(wanted)


def _without(data: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {name: value for name, value in data.items() if name not in names}


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

    DUMPED_WHOLE: ClassVar[bool] = True


class ObservedScope(ScopeRegistration):
    """A scope (API) as the API returns it: its registration plus the server's fields."""

    name: str
    accessible_for_all: bool = False
    owner_orgno: str | None = None
    active: bool = True
    created: datetime | None = None
    last_updated: datetime | None = None

    DUMPED_WHOLE: ClassVar[bool] = True


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
