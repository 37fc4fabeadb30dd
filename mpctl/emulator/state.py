"""The emulator's whole world as data: organisations, clients, keys, scopes, grants, key material.

Owns the persisted state model and its JSON form. Private keys are `SecretStr` fields: they
print as stars and are written in clear only when serialised with the `persist` context (the
state file, which `store` creates 0600). Every record is a `JournaledModel` and every top-level
dict a `JournaledDict`, so an in-memory transaction can undo what it changed (`journal`). It
must not hold rules or HTTP concerns.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PlainSerializer, SecretStr, SerializationInfo

from mpctl.emulator.fault_rules import FaultRule
from mpctl.emulator.journal import JournaledModel, journaled
from mpctl.emulator.vocabulary import AccessState

_MASK = "**********"


def _reveal_only_when_persisting(value: SecretStr, info: SerializationInfo) -> str:
    context = info.context
    if isinstance(context, dict) and context.get("persist") is True:
        return value.get_secret_value()
    return _MASK


PersistedSecret = Annotated[SecretStr, PlainSerializer(_reveal_only_when_persisting)]


class _Record(JournaledModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Organisation(_Record):
    orgno: str
    name: str
    prefixes: list[str] = Field(default_factory=list)
    customers: list[str] | None = None
    """Supplier mode: whom this organisation may register clients for (None: anyone)."""

    def may_supply(self, orgno: str) -> bool:
        return self.customers is None or orgno in self.customers


class StoredKey(_Record):
    """A registered public JWK plus its expiry and when it was registered (for propagation)."""

    kty: str
    use: str | None = None
    kid: str
    alg: str
    e: str
    n: str
    x5c: list[str] | None = None
    exp: int
    registered_at: float

    def same_material(self, kid: str, n: str, e: str) -> bool:
        return self.kid == kid and self.n == n and self.e == e


class KeySet(_Record):
    keys: list[StoredKey] = Field(default_factory=list)
    created: float
    last_updated: float


class ClientRecord(_Record):
    """A client registration. `admin` marks Digdir-provisioned self-service clients (hidden)."""

    client_id: str
    client_orgno: str
    supplier_orgno: str | None = None
    integration_type: str
    application_type: str = "web"
    client_name: str | None = None
    description: str
    token_endpoint_auth_method: str = "private_key_jwt"
    grant_types: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    client_uri: str | None = None
    redirect_uris: list[str] | None = None
    post_logout_redirect_uris: list[str] | None = None
    frontchannel_logout_uri: str | None = None
    frontchannel_logout_session_required: bool = False
    access_token_lifetime: int = 0
    authorization_lifetime: int = 0
    refresh_token_lifetime: int = 0
    refresh_token_usage: str = "ONETIME"
    sso_disabled: bool | None = None
    code_challenge_method: str | None = None
    active: bool = True
    created: float
    last_updated: float
    jwks: KeySet | None = None
    admin: bool = False

    def registered_keys(self) -> list[StoredKey]:
        return [] if self.jwks is None else self.jwks.keys


class ScopeRecord(_Record):
    name: str
    prefix: str
    subscope: str
    owner_orgno: str
    description: str
    long_description: str | None = None
    localised: dict[str, str] = Field(default_factory=dict)
    allowed_integration_types: list[str] = Field(default_factory=list)
    token_type: str = "SELF_CONTAINED"
    visibility: str = "PUBLIC"
    requires_user_consent: bool = False
    requires_user_authentication: bool = False
    requires_pseudonymous_tokens: bool = False
    delegation_source: str | None = None
    at_max_age: int = 0
    authorization_max_lifetime: int = 0
    accessible_for_all: bool = False
    supports_european_businesses: bool = False
    enforced_aud_for_access_token: str | None = None
    active: bool = True
    created: float
    last_updated: float


class AccessRecord(_Record):
    scope: str
    consumer_orgno: str
    owner_orgno: str
    state: AccessState
    created: float
    last_updated: float

    @staticmethod
    def key(scope: str, consumer_orgno: str) -> str:
        return f"{scope}|{consumer_orgno}"


class Delegation(_Record):
    """An Altinn delegation: `consumer_orgno` lets `supplier_orgno` use `scope`."""

    consumer_orgno: str
    supplier_orgno: str
    scope: str
    delegation_source: str


class DelegationSource(_Record):
    name: str
    issuer: str
    created: float
    last_updated: float


class CertificateAuthority(_Record):
    certificate_pem: str
    private_key_pem: PersistedSecret


class SigningKey(_Record):
    kid: str
    private_key_pem: PersistedSecret


class EmulatorState(_Record):
    format: Literal[1] = 1
    world_sha256: str | None = Field(
        default=None, description="SHA-256 of the world file this state was seeded from"
    )
    id_counter: int = 0
    clock_offset: float = 0.0
    organisations: dict[str, Organisation] = Field(default_factory=dict)
    clients: dict[str, ClientRecord] = Field(default_factory=dict)
    scopes: dict[str, ScopeRecord] = Field(default_factory=dict)
    access: dict[str, AccessRecord] = Field(default_factory=dict)
    delegations: list[Delegation] = Field(default_factory=list)
    delegation_sources: list[DelegationSource] = Field(default_factory=list)
    faults: list[FaultRule] = Field(default_factory=list)
    used_grants: dict[str, float] = Field(default_factory=dict)
    authorities: dict[str, CertificateAuthority] = Field(default_factory=dict)
    signing_key: SigningKey | None = None

    def model_post_init(self, context: Any, /) -> None:
        for name, value in self.__dict__.items():
            if isinstance(value, dict):
                self.__dict__[name] = journaled(value)

    def __setattr__(self, name: str, value: Any) -> None:
        """Assigned dicts are kept as `JournaledDict` copies, so later changes stay undoable."""
        super().__setattr__(name, journaled(value) if isinstance(value, dict) else value)

    def top_level_lists(self) -> list[list[Any]]:
        """The list-valued fields (delegations, faults, ...): a transaction copies them whole."""
        return [value for value in self.__dict__.values() if isinstance(value, list)]

    def persistable(self) -> dict[str, Any]:
        """The JSON-ready form for the state file, private keys included."""
        return self.model_dump(mode="json", context={"persist": True})

    def without_secrets(self) -> dict[str, Any]:
        """The JSON-ready form for dumps: no private keys, no replay cache."""
        dumped = self.model_dump(mode="json", exclude={"used_grants"})
        for authority in dumped["authorities"].values():
            del authority["private_key_pem"]
        if dumped["signing_key"] is not None:
            del dumped["signing_key"]["private_key_pem"]
        return dumped

    def working_copy(self) -> EmulatorState:
        """An independent copy (a JSON round trip: faster than a deep copy); O(size of state)."""
        return EmulatorState.model_validate_json(self.model_dump_json(context={"persist": True}))

    def next_counter(self) -> int:
        self.id_counter += 1
        return self.id_counter
