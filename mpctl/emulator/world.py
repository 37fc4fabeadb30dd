"""The world file: a YAML description of organisations, clients, scopes, grants and delegations.

Owns the world file's schema (unknown keys are errors), its safe YAML loading and its
cross-reference checks (known organisations, owned prefixes, existing scopes), and the file's
digest with the one warning when a state was seeded from another version of it. It must not
build emulator state; `seeding` turns a valid `World` into state.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mpctl.emulator.fault_rules import FaultRule
from mpctl.emulator.keys import public_key_from_members
from mpctl.emulator.orgno import is_valid_orgno
from mpctl.emulator.settings import Switches
from mpctl.emulator.vocabulary import (
    ADMIN_SCOPES,
    DEFAULT_DELEGATION_ISSUERS,
    JWT_BEARER_GRANT,
    AccessState,
    ApplicationType,
    AuthMethod,
    IntegrationType,
    ScopeIntegrationType,
    TokenType,
    Visibility,
)
from mpctl.errors import UserError


class WorldError(UserError):
    """The world file is unreadable or inconsistent."""

    code = "EMULATOR_WORLD"


def _digits_as_text(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _valid_orgno(value: str) -> str:
    if not is_valid_orgno(value):
        raise ValueError(f"{value!r} is not a valid organisation number (9 digits, mod-11)")
    return value


OrgNo = Annotated[str, BeforeValidator(_digits_as_text), AfterValidator(_valid_orgno)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorldOrganisation(_Strict):
    orgno: OrgNo
    name: str
    prefixes: list[str] = Field(default_factory=list)
    customers: list[OrgNo] | None = Field(
        default=None,
        description="Supplier mode: the organisations this one may register clients for "
        "with idporten:dcr.supplier. Left out: any known organisation (the reference names "
        "no such list).",
    )


class WorldKey(_Strict):
    """A public RSA JWK; `use: null` models keys registered before 2025-05-22."""

    kty: Literal["RSA"] = "RSA"
    use: str | None = "sig"
    kid: str
    alg: str = "RS256"
    e: str
    n: str
    exp: int | None = Field(default=None, description="Epoch seconds; default now + 1 year.")

    @model_validator(mode="after")
    def _is_an_rsa_public_key(self) -> Self:
        try:
            public_key_from_members(self.n, self.e)
        except ValueError:
            raise ValueError(f"key {self.kid}: n and e do not form an RSA public key") from None
        return self


class WorldAdminClient(_Strict):
    """A Digdir-provisioned self-service client; with no `jwks` it uses a business certificate."""

    client_id: str
    client_orgno: OrgNo
    scopes: list[str]
    description: str = "Self-service admin client (provisioned by Digdir)"
    access_token_lifetime: int = Field(default=0, ge=0)
    jwks: list[WorldKey] = Field(default_factory=list)


class WorldClient(_Strict):
    client_id: str | None = None
    client_orgno: OrgNo
    supplier_orgno: OrgNo | None = None
    integration_type: IntegrationType = "maskinporten"
    application_type: ApplicationType = "web"
    client_name: str | None = None
    description: str
    token_endpoint_auth_method: AuthMethod = "private_key_jwt"
    grant_types: list[str] = Field(default_factory=lambda: [JWT_BEARER_GRANT])
    scopes: list[str]
    access_token_lifetime: int = Field(default=0, ge=0)
    active: bool = True
    created: datetime | None = None
    jwks: list[WorldKey] = Field(default_factory=list)


class WorldScope(_Strict):
    name: str = Field(pattern=r"^[^:\s]+:\S+$")
    owner_orgno: OrgNo
    description: str
    long_description: str | None = None
    allowed_integration_types: list[ScopeIntegrationType] = Field(default_factory=list)
    token_type: TokenType = "SELF_CONTAINED"
    visibility: Visibility = "PUBLIC"
    at_max_age: int = Field(default=0, ge=0)
    authorization_max_lifetime: int = Field(default=0, ge=0)
    accessible_for_all: bool = False
    delegation_source: str | None = None
    requires_user_consent: bool = False
    active: bool = True
    created: datetime | None = None

    @property
    def prefix(self) -> str:
        return self.name.split(":", 1)[0]


class WorldAccess(_Strict):
    scope: str
    consumer_orgno: OrgNo
    state: AccessState = "APPROVED"


class WorldDelegation(_Strict):
    consumer_orgno: OrgNo
    supplier_orgno: OrgNo
    scope: str
    delegation_source: str | None = Field(default=None, description="Default: the scope's.")


class WorldDelegationSource(_Strict):
    name: str
    issuer: str


class World(_Strict):
    organisations: list[WorldOrganisation] = Field(default_factory=list)
    admin_clients: list[WorldAdminClient] = Field(default_factory=list)
    clients: list[WorldClient] = Field(default_factory=list)
    scopes: list[WorldScope] = Field(default_factory=list)
    access: list[WorldAccess] = Field(default_factory=list)
    delegations: list[WorldDelegation] = Field(default_factory=list)
    delegation_sources: list[WorldDelegationSource] | None = None
    switches: Switches | None = None
    faults: list[FaultRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        problems = [
            *_organisation_problems(self),
            *_client_problems(self),
            *_scope_problems(self),
            *_grant_problems(self),
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def known_issuers(self) -> set[str]:
        if self.delegation_sources is None:
            return set(DEFAULT_DELEGATION_ISSUERS.values())
        return {source.issuer for source in self.delegation_sources}


def _organisation_problems(world: World) -> list[str]:
    problems: list[str] = []
    seen_orgnos: set[str] = set()
    prefix_owner: dict[str, str] = {}
    for org in world.organisations:
        if org.orgno in seen_orgnos:
            problems.append(f"organisation {org.orgno} is listed twice")
        seen_orgnos.add(org.orgno)
        for prefix in org.prefixes:
            if prefix_owner.setdefault(prefix, org.orgno) != org.orgno:
                problems.append(f"prefix {prefix!r} is owned by two organisations")
    known = {org.orgno for org in world.organisations}
    for org in world.organisations:
        label = f"customers of {org.orgno}"
        problems += _unknown_orgs(org.customers or [], known, label)
    return problems


def _client_problems(world: World) -> list[str]:
    orgnos = {org.orgno for org in world.organisations}
    scope_names = {scope.name for scope in world.scopes}
    problems: list[str] = []
    ids = [c.client_id for c in world.admin_clients] + [c.client_id for c in world.clients]
    named_ids = [client_id for client_id in ids if client_id is not None]
    if len(named_ids) != len(set(named_ids)):
        problems.append("client_id values must be unique")
    for admin in world.admin_clients:
        problems += _unknown_orgs([admin.client_orgno], orgnos, f"admin client {admin.client_id}")
        unknown = set(admin.scopes) - scope_names - ADMIN_SCOPES
        problems += [
            f"admin client {admin.client_id}: unknown scope {s!r}" for s in sorted(unknown)
        ]
    for client in world.clients:
        label = f"client {client.client_id or client.description!r}"
        problems += _unknown_orgs([client.client_orgno, client.supplier_orgno], orgnos, label)
        unknown = set(client.scopes) - scope_names
        problems += [f"{label}: unknown scope {s!r}" for s in sorted(unknown)]
    return problems


def _scope_problems(world: World) -> list[str]:
    prefixes = {org.orgno: set(org.prefixes) for org in world.organisations}
    issuers = world.known_issuers()
    problems: list[str] = []
    names = [scope.name for scope in world.scopes]
    if len(names) != len(set(names)):
        problems.append("scope names must be unique")
    for scope in world.scopes:
        if scope.owner_orgno not in prefixes:
            problems.append(f"scope {scope.name}: unknown owner {scope.owner_orgno}")
        elif scope.prefix not in prefixes[scope.owner_orgno]:
            problems.append(f"scope {scope.name}: prefix not owned by {scope.owner_orgno}")
        if scope.delegation_source is not None and scope.delegation_source not in issuers:
            problems.append(f"scope {scope.name}: unknown delegation_source")
    return problems


def _grant_problems(world: World) -> list[str]:
    orgnos = {org.orgno for org in world.organisations}
    scopes = {scope.name: scope for scope in world.scopes}
    problems: list[str] = []
    for grant in world.access:
        problems += _unknown_orgs([grant.consumer_orgno], orgnos, f"access to {grant.scope}")
        if grant.scope not in scopes:
            problems.append(f"access: unknown scope {grant.scope!r}")
    for delegation in world.delegations:
        label = f"delegation of {delegation.scope}"
        orgs = [delegation.consumer_orgno, delegation.supplier_orgno]
        problems += _unknown_orgs(orgs, orgnos, label)
        scope = scopes.get(delegation.scope)
        if scope is None or scope.delegation_source is None:
            problems.append(f"{label}: the scope must exist and have a delegation_source")
    return problems


def _unknown_orgs(orgnos: Sequence[str | None], known: set[str], label: str) -> list[str]:
    return [
        f"{label}: unknown organisation {o}" for o in orgnos if o is not None and o not in known
    ]


def world_digest(path: Path) -> str | None:
    """SHA-256 (hex) of the world file's bytes, or None when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


WORLD_CHANGED = (
    "{name} changed after the emulator state was made; "
    "run `mpctl emulator reset` to start over from it"
)
_warned: set[tuple[str, str]] = set()


def warn_if_world_changed(path: Path, recorded: str | None, current: str | None) -> bool:
    """Warn once per process and world file version (stderr) when a state was seeded from
    another version of the world file. Not an error: the state stays usable. True if warned.

    A state without a recorded digest (made before digests were kept) is not judged.
    """
    if recorded is None or current is None or recorded == current:
        return False
    key = (str(path.resolve()), recorded)
    if key in _warned:
        return False
    _warned.add(key)
    print(f"warning: {WORLD_CHANGED.format(name=path.name)}", file=sys.stderr)
    return True


def load_world(path: Path) -> World:
    """Read and validate a world file with a safe YAML loader (no tags, no duplicate keys)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise WorldError(f"cannot read world file {path}: {error.strerror}") from None
    return parse_world(text, source=str(path))


def parse_world(text: str, *, source: str = "<world>") -> World:
    """Validate world YAML text; every problem is reported with its location."""
    try:
        document = YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise WorldError(f"{source}: not valid YAML: {error}") from None
    try:
        return World.model_validate(document or {})
    except ValidationError as error:
        raise WorldError(f"{source}: {_describe(error)}") from None


def _describe(error: ValidationError) -> str:
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{location}: {problem['msg']}")
    return "; ".join(lines)
