"""Desired-state kinds written in manifests: `Client` and `Scope`.

Owns the shape of each manifest document and its per-environment overrides. Validation here is
about one document on its own; rules that look across documents live in
`mpctl.manifests.lint`. Must not do I/O or know about Digdir's wire format.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, StrictBool, ValidationInfo, field_validator

from mpctl.model.base import SpecModel
from mpctl.model.identifiers import (
    ClientId,
    Duration,
    Kid,
    OrgNo,
    ResourceName,
    ScopeName,
    format_duration,
)
from mpctl.model.secrets import SinkSpec

IntegrationType = Literal[
    "maskinporten", "api_klient", "idporten", "ansattporten", "krr", "eformidling"
]
ScopeIntegrationType = Literal[
    "maskinporten",
    "api_klient",
    "idporten",
    "ansattporten",
    "krr",
    "eformidling",
    "idporten_saml2",
]
SigningAlgorithm = Literal["RS256", "RS384", "RS512"]
Visibility = Literal["PUBLIC", "PRIVATE"]

MAX_GRANT_LIFETIME_SECONDS = 120
MAX_KEYS_PER_CLIENT = 5
ROTATION_SLOTS = 3
"""Keys one rotation can hold registered at once: current, previous (in grace) and pending."""


def _no_duplicates(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"{what} listed more than once: {', '.join(duplicates)}")
    return values


MIN_GRACE = timedelta(hours=1)
MIN_ROTATE_AFTER = timedelta(days=1)
MIN_RENEW_BEFORE_EXPIRY = timedelta(days=7)
MAX_RENEW_BEFORE_EXPIRY = timedelta(days=180)
_GRACE_REASON = (
    "workloads need time to pick up the new key (a restart, a secret sync: kubelet sync plus "
    "cache is minutes) and Digdir's JWKS changes propagate slowly; with 0s every apply retires "
    "the old key with no overlap"
)
_ROTATE_AFTER_REASON = (
    "more often than daily, every scheduled run rotates and the JWKS (5 keys at most) churns"
)
_RENEW_REASON = "a key near expiry must be caught by at least one weekly run before it expires"


def _at_least(value: timedelta, minimum: timedelta, name: str, reason: str) -> timedelta:
    if value < minimum:
        raise ValueError(
            f"{name} {format_duration(value)} is below the minimum "
            f"{format_duration(minimum)}; set {name}: {format_duration(minimum)} or more "
            f"({reason})"
        )
    return value


class KeyPolicy(SpecModel):
    """How mpctl makes, rotates and stores a client's signing keys."""

    algorithm: SigningAlgorithm = "RS256"
    size: Annotated[int, Field(ge=2048, le=8192, multiple_of=1024)] = 3072
    rotate_after: Duration = Field(
        default=timedelta(days=90),
        description="Rotate a key older than this (at least 1d, and longer than grace)",
    )
    grace: Duration = Field(
        default=timedelta(days=1),
        description="Overlap: how long the old key stays registered after promotion (at least 1h)",
    )
    renew_before_expiry: Duration = Field(
        default=timedelta(days=30),
        description="Rotate when Digdir's key expiry is closer than this (7d-180d, longer than "
        "grace)",
    )
    kid_format: Literal["name-env-date", "thumbprint"] = Field(
        default="name-env-date",
        description="'name-env-date' gives kids like 'billing-TEST.2026-11-21' (altinn-jwks "
        "style); 'thumbprint' uses the RFC 7638 thumbprint",
    )
    preserve: tuple[Kid, ...] = Field(
        default=(),
        description="kids registered by something else that mpctl must never remove",
    )
    sink: SinkSpec | None = Field(
        default=None,
        description="Where the key is written for the workload; default: the environment's "
        "`sink` (a local file unless the environment names a durable store)",
    )

    @field_validator("preserve")
    @classmethod
    def _unique_preserve(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _no_duplicates(value, "preserved kid")

    @field_validator("rotate_after")
    @classmethod
    def _sane_rotate_after(cls, value: timedelta) -> timedelta:
        return _at_least(value, MIN_ROTATE_AFTER, "rotate_after", _ROTATE_AFTER_REASON)

    @field_validator("grace")
    @classmethod
    def _sane_grace(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        _at_least(value, MIN_GRACE, "grace", _GRACE_REASON)
        rotate_after = info.data.get("rotate_after")
        if isinstance(rotate_after, timedelta) and rotate_after <= value:
            raise ValueError(
                f"grace ({format_duration(value)}) must be shorter than rotate_after "
                f"({format_duration(rotate_after)}); shorten grace or raise rotate_after (else "
                "the next rotation is due before the old key can be retired)"
            )
        return value

    @field_validator("renew_before_expiry")
    @classmethod
    def _sane_renewal(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        _at_least(value, MIN_RENEW_BEFORE_EXPIRY, "renew_before_expiry", _RENEW_REASON)
        if value > MAX_RENEW_BEFORE_EXPIRY:
            raise ValueError(
                f"renew_before_expiry {format_duration(value)} is over the maximum "
                f"{format_duration(MAX_RENEW_BEFORE_EXPIRY)}; set 30d, as digdirator does "
                "(Digdir keys live one year: mpctl would rotate keys not half-way to expiry)"
            )
        grace = info.data.get("grace")
        if isinstance(grace, timedelta) and value <= grace:
            raise ValueError(
                f"renew_before_expiry ({format_duration(value)}) must be longer than grace "
                f"({format_duration(grace)}); raise it or shorten grace (else the old key "
                "expires while still in use)"
            )
        return value


class Delegation(SpecModel):
    """A consumer organisation this client acts for through an Altinn delegation (seed 003/004)."""

    consumer_org: OrgNo
    scopes: tuple[ScopeName, ...] = Field(min_length=1)
    description: str | None = None


class _ClientFields(SpecModel):
    description: str | None = Field(default=None, min_length=1, max_length=512)
    client_name: str | None = Field(default=None, min_length=1, max_length=256)
    scopes: tuple[ScopeName, ...] | None = None
    access_token_lifetime: Annotated[int, Field(ge=1, le=86400)] | None = None
    grant_lifetime: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Seconds between iat and exp in grants mpctl signs (max 120)"
    )
    keys: KeyPolicy | None = None
    delegations: tuple[Delegation, ...] | None = None
    client_orgno: OrgNo | None = Field(
        default=None,
        description="Supplier mode: the customer organisation the client is registered for "
        "(Digdir's `client_orgno`); default: the project's own organisation. Another "
        "organisation needs the environment's admin to hold idporten:dcr.supplier "
        "(`admin.supplier: true`). It cannot change in place: a change replaces the client",
    )
    adopt: ClientId | None = Field(
        default=None,
        description="Take over this existing client_id (one without mpctl's marker) instead of "
        "creating a client; usually per environment, as `mpctl import` writes it",
    )


class ClientOverride(_ClientFields):
    """Fields a client may change for one environment; anything left out keeps the base value."""


class Client(_ClientFields):
    """A Maskinporten client (an "integration" in Samarbeidsportalen) that mpctl manages."""

    kind: Literal["Client"] = "Client"
    name: ResourceName
    description: str = Field(min_length=1, max_length=512)
    integration_type: IntegrationType = "maskinporten"
    scopes: tuple[ScopeName, ...] = ()
    access_token_lifetime: Annotated[int, Field(ge=1, le=86400)] = 120
    grant_lifetime: Annotated[int, Field(ge=1)] = 120
    keys: KeyPolicy | None = Field(
        default_factory=KeyPolicy,
        description="How mpctl makes and rotates this client's keys; the defaults when left "
        "out. `keys: null` means mpctl manages no key for it (and verify cannot mint a token)",
    )
    delegations: tuple[Delegation, ...] = ()
    environments: tuple[str, ...] | None = Field(
        default=None, description="Environments this client exists in; all when left out"
    )
    overrides: dict[str, ClientOverride] = Field(default_factory=dict)

    @field_validator("scopes")
    @classmethod
    def _unique_scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _no_duplicates(value, "scope")

    @property
    def own_scopes(self) -> tuple[str, ...]:
        """Scopes the client uses for its own organisation: those no delegation names, sorted.

        A delegated scope only yields a token with `consumer_org`, so token checks use these.
        """
        delegated = {scope for d in self.delegations for scope in d.scopes}
        return tuple(sorted(s for s in self.scopes if s not in delegated))


class _ScopeFields(SpecModel):
    description: str | None = Field(default=None, min_length=1, max_length=512)
    long_description: str | None = None
    allowed_integration_types: tuple[ScopeIntegrationType, ...] | None = None
    visibility: Visibility | None = None
    at_max_age: Annotated[int, Field(ge=0, le=86400)] | None = None
    authorization_max_lifetime: Annotated[int, Field(ge=0)] | None = None
    delegation_source: str | None = Field(
        default=None,
        description="A delegation source name from the environment (e.g. 'altinn') "
        "or its issuer URL",
    )
    accessible_for_all: StrictBool | None = None
    consumers: tuple[OrgNo, ...] | None = None


class ScopeOverride(_ScopeFields):
    """Fields a scope may change for one environment."""


class Scope(_ScopeFields):
    """An API this organisation provides: a Maskinporten scope and the consumers granted access."""

    kind: Literal["Scope"] = "Scope"
    name: ScopeName
    description: str = Field(min_length=1, max_length=512)
    allowed_integration_types: tuple[ScopeIntegrationType, ...] = ("maskinporten",)
    visibility: Visibility = "PUBLIC"
    at_max_age: Annotated[int, Field(ge=0, le=86400)] = 0
    accessible_for_all: StrictBool = False
    consumers: tuple[OrgNo, ...] = ()
    environments: tuple[str, ...] | None = None
    overrides: dict[str, ScopeOverride] = Field(default_factory=dict)

    @field_validator("consumers")
    @classmethod
    def _unique_consumers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _no_duplicates(value, "consumer")

    @property
    def prefix(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def subscope(self) -> str:
        return self.name.split(":", 1)[1]


Resource = Annotated[Client | Scope, Field(discriminator="kind")]
RESOURCE_KINDS: tuple[type[Client] | type[Scope], ...] = (Client, Scope)
