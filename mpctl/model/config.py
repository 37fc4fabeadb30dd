"""The project file `mpctl.yaml`: organisation, environments, admin credentials, defaults.

Owns the shape of project-wide settings and the well-known Digdir endpoints. Cross-field advice
(wrong environment, retired hosts) is linted in `mpctl.manifests.lint`. Must not read files or
environment variables: credentials are references (`SecretSource`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, HttpUrl, field_validator, model_validator

from mpctl.model.base import SpecModel
from mpctl.model.identifiers import OrgNo, ResourceName
from mpctl.model.resources import ClientOverride, ScopeOverride
from mpctl.model.secrets import FileSink, SecretSource, SinkSpec

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
Access = Literal["read", "write"]
"""What a command does at Digdir: reading commands get read-only admin scopes."""
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def endpoint_variable(env_name: str, field: str) -> str:
    """The environment variable that overrides one endpoint of one environment, e.g.
    `MPCTL_TEST_API_BASE_URL`. The only way to send an environment elsewhere: never a
    manifest field."""
    return f"MPCTL_{re.sub(r'[^A-Za-z0-9]', '_', env_name).upper()}_{field.upper()}"


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, `*.localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    certificate: SecretSource | None = Field(
        default=None, description="Business certificate chain (PEM); sent as x5c"
    )
    kid: str | None = Field(default=None, description="Registered kid, when not using x5c")
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

    def scopes_for(self, access: Access) -> tuple[str, ...]:
        """The scopes to ask for: all of them to write, the read-only ones to read."""
        if access == "write":
            return self.scopes
        return tuple(s for s in self.scopes if s not in WRITE_SCOPES)


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
    protected: bool = Field(
        default=False, description="Refuse deletes and replacements unless explicitly allowed"
    )
    sink: SinkSpec = Field(
        default_factory=FileSink,
        description="Where this environment's clients get their keys (a client's `keys.sink` "
        "overrides it). On a CI runner use a durable store: the file sink is lost with the runner",
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
    def _default_env_exists(self) -> ProjectConfig:
        if self.default_env not in self.environments:
            known = ", ".join(sorted(self.environments))
            raise ValueError(f"default_env {self.default_env!r} is not one of: {known}")
        return self
