"""The project file `mpctl.yaml`: organisation, environments, admin credentials, defaults.

Owns the shape of project-wide settings and the well-known Digdir endpoints. Cross-field advice
(wrong environment, retired hosts) is linted in `mpctl.manifests.lint`. Must not read files or
environment variables: credentials are references (`SecretSource`).
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from mpctl.model.base import SpecModel
from mpctl.model.identifiers import OrgNo, ResourceName
from mpctl.model.resources import ClientOverride, ScopeOverride
from mpctl.model.secrets import FileSink, SecretSource, SinkSpec, loopback_endpoint

DIGDIR_TEST = {
    "api_base_url": "https://api.test.samarbeid.digdir.no/api/v1",
    "issuer": "https://test.maskinporten.no/",
    "token_endpoint": "https://test.maskinporten.no/token",
    "altinn": "https://tt02.altinn.no/",
}
DIGDIR_PROD = {
    "api_base_url": "https://api.samarbeid.digdir.no/api/v1",
    "issuer": "https://maskinporten.no/",
    "token_endpoint": "https://maskinporten.no/token",
    "altinn": "https://www.altinn.no/",
}
DIGDIR: dict[str, dict[str, str]] = {"test": DIGDIR_TEST, "prod": DIGDIR_PROD}
ENDPOINT_FIELDS = ("api_base_url", "issuer", "token_endpoint")
READ_SCOPES = ("idporten:dcr.read", "idporten:scopes.read")
WRITE_SCOPES = frozenset({"idporten:dcr.write", "idporten:dcr.modify", "idporten:scopes.write"})
DCR_SUPPLIER = "idporten:dcr.supplier"
"""Supplier mode: create, read, update and delete clients for other organisations."""
Access = Literal["read", "write"]
"""What a command does at Digdir: reading commands get read-only admin scopes."""
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def endpoint_variable(env_name: str, field: str) -> str:
    """The environment variable that overrides one endpoint of one environment, e.g.
    `MPCTL_TEST_API_BASE_URL`. The only way to send an environment elsewhere: never a
    manifest field."""
    return f"MPCTL_{re.sub(r'[^A-Za-z0-9]', '_', env_name).upper()}_{field.upper()}"


class Organisation(SpecModel):
    """The organisation whose clients and scopes this project manages."""

    orgno: OrgNo
    name: str = Field(min_length=1)
    scope_prefixes: tuple[str, ...] = Field(
        default=(), description="Scope prefixes Digdir has assigned to this organisation"
    )


class AdminCredential(SpecModel):
    """The admin ("selvbetjening") client and its business certificate or registered key."""

    client_id: str = Field(min_length=1)
    private_key: SecretSource
    passphrase: SecretSource | None = Field(
        default=None,
        description="Passphrase of an encrypted PEM private key (PKCS#8 or Proc-Type "
        "4,ENCRYPTED); a reference like private_key, never inline",
    )
    certificate: SecretSource | None = Field(
        default=None, description="Business certificate chain (PEM); sent as x5c"
    )
    kid: str | None = Field(default=None, description="Registered kid, when not using x5c")
    supplier: bool = Field(
        default=False,
        description="Supplier mode: this admin client holds idporten:dcr.supplier (Digdir "
        "grants it on request), so mpctl asks for it and may manage clients for other "
        "organisations (`client_orgno`). Digdir has no read-only supplier scope: with it, a "
        "read-only admin can also change those clients",
    )
    scopes: tuple[str, ...] = (
        "idporten:dcr.read",
        "idporten:dcr.write",
        "idporten:dcr.modify",
        "idporten:scopes.read",
        "idporten:scopes.write",
    )

    @model_validator(mode="after")
    def _certificate_or_kid(self) -> AdminCredential:
        if (self.certificate is None) == (self.kid is None):
            raise ValueError("give exactly one of 'certificate' (x5c) or 'kid'")
        return self

    @property
    def holds_supplier(self) -> bool:
        """Whether this admin client may act for other organisations (idporten:dcr.supplier)."""
        return self.supplier or DCR_SUPPLIER in self.scopes

    def scopes_for(self, access: Access) -> tuple[str, ...]:
        """The scopes to ask for: all of them to write, the read-only ones to read; a supplier
        asks for idporten:dcr.supplier either way (reading customers' clients needs it)."""
        wanted = (
            self.scopes
            if access == "write"
            else tuple(s for s in self.scopes if s not in WRITE_SCOPES)
        )
        if self.holds_supplier and DCR_SUPPLIER not in wanted:
            wanted = (*wanted, DCR_SUPPLIER)
        return wanted


class ReadOnlyAdminCredential(AdminCredential):
    """A separate admin client for reading commands (plan on pull requests, drift): it holds
    read scopes only, so its token can never change anything at Digdir."""

    scopes: tuple[str, ...] = READ_SCOPES

    @field_validator("scopes")
    @classmethod
    def _read_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        writing = sorted(WRITE_SCOPES.intersection(value))
        if writing:
            raise ValueError(f"a read-only admin client must not hold {', '.join(writing)}")
        return value


class EmbeddedEmulator(SpecModel):
    """Run Digdir's API in-process: the `local` environment needs no network or credentials."""

    world: str = Field(description="World file (YAML), relative to mpctl.yaml")
    state: str = Field(
        default=".mpctl/{env}/emulator-state.json",
        description="State file, relative to mpctl.yaml; {env} is substituted",
    )


class LocalLock(SpecModel):
    """The environment lock as a file under `.mpctl/<env>/` beside mpctl.yaml: it serialises
    runs sharing one checkout (a laptop, one runner), and takes over from a holder that is
    provably gone. The default."""

    backend: Literal["local"] = "local"


_LOCK_KEY_FIELDS = frozenset({"project", "env"})
_S3_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_S3_KEY_CHARACTERS = re.compile(r"^[A-Za-z0-9/_.=@+-]+$")


class S3Lock(SpecModel):
    """The environment lock as an S3 object `<key>.lock`, created with a conditional write
    (If-None-Match: *) as Terraform's S3 backend does with `use_lockfile`: every laptop and CI
    runner sees it. A lock left by a crash is broken only by `mpctl apply --force-unlock ID`.
    Credentials come from boto3's usual chain, never from the manifests."""

    backend: Literal["s3"]
    bucket: str = Field(pattern=_S3_BUCKET, description="The S3 bucket that holds the lock")
    key: str = Field(
        default="mpctl/{project}/{env}",
        description="The lock object's key without `.lock`; {project} and {env} are substituted",
    )
    region: str | None = Field(
        default=None, description="The bucket's region; default: boto3's (AWS_REGION, profile)"
    )
    endpoint_url: str | None = Field(
        default=None,
        description="A loopback endpoint (http://127.0.0.1:PORT) for testing; real S3 "
        "otherwise (set AWS_ENDPOINT_URL_S3 for a VPC endpoint)",
    )

    @field_validator("key")
    @classmethod
    def _plain_key(cls, key: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(key) if name is not None}
        unknown = sorted(fields - _LOCK_KEY_FIELDS)
        if unknown:
            raise ValueError(
                f"lock key {key!r} may use only {{project}} and {{env}}, not {unknown}"
            )
        literal = key.replace("{project}", "p").replace("{env}", "e")
        parts = literal.split("/")
        if not _S3_KEY_CHARACTERS.match(literal) or "" in parts or ".." in parts:
            raise ValueError(
                f"lock key {key!r} must be a relative path of letters, digits and / _ . = @ + - "
                "with no empty or '..' segments"
            )
        return key

    @field_validator("endpoint_url")
    @classmethod
    def _loopback_only(cls, url: str | None) -> str | None:
        """A manifest must not send signed AWS requests to another host."""
        return loopback_endpoint(url, vpc_variable="AWS_ENDPOINT_URL_S3")

    def object_key(self, *, project: str | None, env_name: str) -> str:
        """The lock object's key for one environment of one project."""
        if project is None and "{project}" in self.key:
            raise ValueError(f"lock key {self.key!r} needs `project:` in mpctl.yaml")
        return self.key.format(project=project, env=env_name) + ".lock"


def _local_by_default(value: object) -> object:
    """A lock block without `backend` is the local file lock."""
    if isinstance(value, dict) and "backend" not in value:
        return {**value, "backend": "local"}
    return value


LockSpec = Annotated[
    LocalLock | S3Lock, Field(discriminator="backend"), BeforeValidator(_local_by_default)
]
"""Where an environment's apply lock lives; which backend is told by `backend`."""


def _endpoints_or_digdir(schema: dict[str, Any]) -> None:
    """Editors see what validation does: `digdir:` stands in for the three endpoints."""
    endpoints = ["api_base_url", "issuer", "token_endpoint"]
    required = schema.get("required", [])
    schema["required"] = [name for name in required if name not in endpoints]
    if not schema["required"]:
        del schema["required"]
    schema["anyOf"] = [{"required": ["digdir"]}, {"required": endpoints}]


class Environment(SpecModel):
    """One Digdir environment (or the embedded emulator) and how to reach it.

    `digdir: test|prod` fills in Digdir's own endpoints; other hosts for them are lint errors
    (MPL108) and are never used: only `MPCTL_<ENV>_API_BASE_URL` (and `_ISSUER`,
    `_TOKEN_ENDPOINT`) can point an environment elsewhere. Other environments name loopback
    hosts only (`mpctl emulator serve`), or run the embedded emulator (`emulator:`).
    """

    model_config = SpecModel.model_config | ConfigDict(json_schema_extra=_endpoints_or_digdir)

    digdir: Literal["test", "prod"] | None = Field(
        default=None,
        description="Which Digdir environment this is; its endpoints are then Digdir's own",
    )
    api_base_url: HttpUrl
    issuer: str = Field(description="Maskinporten issuer, the grant's aud, with trailing slash")
    token_endpoint: HttpUrl
    delegation_sources: dict[str, str] = Field(
        default_factory=dict, description="Delegation source name → issuer, e.g. altinn"
    )
    admin: AdminCredential | None = None
    admin_readonly: ReadOnlyAdminCredential | None = Field(
        default=None,
        description="Admin client with read scopes only, used by plan, drift and import",
    )
    emulator: EmbeddedEmulator | None = None
    ca_bundle: str | None = Field(
        default=None,
        min_length=1,
        description="PEM file of the CAs (relative to mpctl.yaml) that mpctl trusts, instead "
        "of the system's, for this environment's https endpoints: the CA `mpctl emulator "
        "serve --tls` prints. Loopback environments only; Digdir's use the system trust store",
    )
    protected: bool = Field(
        default=False, description="Refuse deletes and replacements unless explicitly allowed"
    )
    sink: SinkSpec = Field(
        default_factory=FileSink,
        description="Where this environment's clients get their keys (a client's `keys.sink` "
        "overrides it). On a CI runner use a durable store: the file sink is lost with the runner",
    )
    max_requests_per_second: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="A ceiling on API requests per second, shared by all of a run's workers "
        "(a token bucket holding at most this many); default: none. 429 and Retry-After are "
        "honoured either way",
    )
    lock: LockSpec = Field(
        default_factory=LocalLock,
        description="Where apply's lock lives: `local` (a file beside mpctl.yaml, the default) "
        "or `s3` (an object that laptops and CI runners all see)",
    )

    @model_validator(mode="before")
    @classmethod
    def _digdir_endpoints(cls, data: Any) -> Any:
        """`digdir: test|prod` supplies Digdir's endpoints the manifest leaves out."""
        if isinstance(data, dict) and isinstance(data.get("digdir"), str):
            pinned = DIGDIR.get(data["digdir"], {})
            missing = {f: pinned[f] for f in ENDPOINT_FIELDS if f in pinned and f not in data}
            return {**data, **missing}
        return data


class Defaults(SpecModel):
    """Values every document of a kind starts from, before its own fields and overrides."""

    client: ClientOverride = ClientOverride()
    scope: ScopeOverride = ScopeOverride()


class ProjectConfig(SpecModel):
    """The whole of `mpctl.yaml`."""

    project: ResourceName | None = Field(
        default=None,
        description="This project's identity, written into every ownership marker "
        "([mpctl:<project>/<name>]) so two projects of one organisation never claim each "
        "other's clients. Set it once and never change it",
    )
    organisation: Organisation
    default_env: ResourceName
    environments: dict[ResourceName, Environment] = Field(min_length=1)
    resources: tuple[str, ...] = Field(
        default=("resources",),
        description="Files or directories (relative to mpctl.yaml) that hold manifest documents",
    )
    defaults: Defaults = Defaults()
    variables: dict[str, Any] = Field(default_factory=dict)

    @field_validator("variables")
    @classmethod
    def _variable_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(k for k in value if not _VARIABLE_NAME.match(k) or k in {"env", "org"})
        if bad:
            raise ValueError(
                f"variable names must be identifiers and not 'env' or 'org': {', '.join(bad)}"
            )
        return value

    @model_validator(mode="after")
    def _lock_keys_have_a_project(self) -> ProjectConfig:
        if self.project is not None:
            return self
        needing = sorted(
            name
            for name, environment in self.environments.items()
            if isinstance(environment.lock, S3Lock) and "{project}" in environment.lock.key
        )
        if needing:
            raise ValueError(
                f"the S3 lock key of {', '.join(needing)} uses {{project}}: set `project:` "
                "(or write the key without it)"
            )
        return self

    @model_validator(mode="after")
    def _default_env_exists(self) -> ProjectConfig:
        if self.default_env not in self.environments:
            known = ", ".join(sorted(self.environments))
            raise ValueError(f"default_env {self.default_env!r} is not one of: {known}")
        return self
