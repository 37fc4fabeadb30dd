"""The project file `mpctl.yaml`: organisation, environments, admin credentials, defaults.

Owns the shape of project-wide settings and the well-known Digdir endpoints. Cross-field advice
(wrong environment, retired hosts) is linted in `mpctl.manifests.lint`. Must not read files or
environment variables: credentials are references (`SecretSource`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, HttpUrl, field_validator, model_validator

from mpctl.model.base import SpecModel
from mpctl.model.identifiers import OrgNo, ResourceName
from mpctl.model.resources import ClientOverride, ScopeOverride
from mpctl.model.secrets import SecretSource

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
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


class EmbeddedEmulator(SpecModel):
    """Run Digdir's API in-process: the `local` environment needs no network or credentials."""

    world: str = Field(description="World file (YAML), relative to mpctl.yaml")
    state: str = Field(
        default=".mpctl/{env}/emulator-state.json",
        description="State file, relative to mpctl.yaml; {env} is substituted",
    )


class Environment(SpecModel):
    """One Digdir environment (or the embedded emulator) and how to reach it."""

    api_base_url: HttpUrl
    issuer: str = Field(description="Maskinporten issuer, the grant's aud, with trailing slash")
    token_endpoint: HttpUrl
    delegation_sources: dict[str, str] = Field(
        default_factory=dict, description="Delegation source name → issuer, e.g. altinn"
    )
    admin: AdminCredential | None = None
    emulator: EmbeddedEmulator | None = None
    protected: bool = Field(
        default=False, description="Refuse deletes and replacements unless explicitly allowed"
    )


class Defaults(SpecModel):
    """Values every document of a kind starts from, before its own fields and overrides."""

    client: ClientOverride = ClientOverride()
    scope: ScopeOverride = ScopeOverride()


class ProjectConfig(SpecModel):
    """The whole of `mpctl.yaml`."""

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
