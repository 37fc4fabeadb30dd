"""What makes a client registration acceptable, and how a valid body becomes a record.

Owns the client body schema (read-only fields ignored), the Maskinporten requirements
(private_key_jwt, the jwt-bearer grant), the scope rules (at least one; each existing, active,
allowed for the integration type and accessible to the client's organisation) and the
immutability of `integration_type`. It must not know HTTP routes or callers' tokens.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mpctl.emulator.errors import ApiError, Problem
from mpctl.emulator.http_input import validation_problems
from mpctl.emulator.scope_access import allows_integration_type, may_register
from mpctl.emulator.state import ClientRecord, EmulatorState
from mpctl.emulator.vocabulary import (
    JWT_BEARER_GRANT,
    ApplicationType,
    AuthMethod,
    GrantType,
    IntegrationType,
    RefreshTokenUsage,
)

OBJECT = "Client"


class ClientInput(BaseModel):
    """The writable fields of a client; unknown and read-only fields are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    integration_type: IntegrationType
    application_type: ApplicationType = "web"
    client_name: str | None = None
    description: str = Field(min_length=1)
    token_endpoint_auth_method: AuthMethod | None = None
    grant_types: list[GrantType] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    client_orgno: str | None = None
    client_uri: str | None = None
    redirect_uris: list[str] | None = None
    post_logout_redirect_uris: list[str] | None = None
    frontchannel_logout_uri: str | None = None
    frontchannel_logout_session_required: bool = False
    access_token_lifetime: int = Field(default=0, ge=0)
    authorization_lifetime: int = Field(default=0, ge=0)
    refresh_token_lifetime: int = Field(default=0, ge=0)
    refresh_token_usage: RefreshTokenUsage = "ONETIME"
    sso_disabled: bool | None = None
    code_challenge_method: str | None = None


def parse_client_input(payload: dict[str, Any]) -> ClientInput:
    try:
        return ClientInput.model_validate(payload)
    except ValidationError as error:
        raise ApiError(400, validation_problems(error), object_name=OBJECT) from None


def rule_problems(state: EmulatorState, data: ClientInput, orgno: str) -> list[Problem]:
    """Every rule the body breaks, for a client owned by `orgno`."""
    return [*_maskinporten_problems(data), *_scope_problems(state, data, orgno)]


def _maskinporten_problems(data: ClientInput) -> list[Problem]:
    if data.integration_type != "maskinporten":
        return []
    problems = []
    if data.token_endpoint_auth_method != "private_key_jwt":
        message = "Maskinporten clients must use token_endpoint_auth_method private_key_jwt"
        problems.append(Problem(message, field="token_endpoint_auth_method"))
    if set(data.grant_types) != {JWT_BEARER_GRANT}:
        message = f"Maskinporten clients must have exactly the grant type {JWT_BEARER_GRANT}"
        problems.append(Problem(message, field="grant_types"))
    return problems


def _scope_problems(state: EmulatorState, data: ClientInput, orgno: str) -> list[Problem]:
    if not data.scopes:
        return [Problem("A client must have at least one scope", field="scopes")]
    problems = []
    for name in data.scopes:
        scope = state.scopes.get(name)
        if scope is None or not scope.active:
            message = f"Scope '{name}' does not exist or is not active"
        elif not allows_integration_type(scope, data.integration_type):
            message = f"Scope '{name}' does not allow integration_type {data.integration_type}"
        elif not may_register(state, scope, orgno):
            message = f"Organization {orgno} has no access to scope '{name}'"
        else:
            continue
        problems.append(Problem(message, field="scopes"))
    return problems


def change_problems(existing: ClientRecord, data: ClientInput) -> list[Problem]:
    """Fields a PUT may not change."""
    problems = []
    if data.integration_type != existing.integration_type:
        message = "integration_type cannot be changed"
        problems.append(Problem(message, field="integration_type"))
    if data.client_orgno is not None and data.client_orgno != existing.client_orgno:
        problems.append(Problem("client_orgno cannot be changed", field="client_orgno"))
    return problems


def _writable(data: ClientInput) -> dict[str, Any]:
    values = data.model_dump(exclude={"client_orgno", "scopes"})
    values["scopes"] = list(dict.fromkeys(data.scopes))
    values["token_endpoint_auth_method"] = data.token_endpoint_auth_method or "private_key_jwt"
    return values


def new_client(
    data: ClientInput, client_id: str, orgno: str, supplier_orgno: str | None, now: float
) -> ClientRecord:
    return ClientRecord(
        **_writable(data),
        client_id=client_id,
        client_orgno=orgno,
        supplier_orgno=supplier_orgno,
        created=now,
        last_updated=now,
    )


def replaced_client(existing: ClientRecord, data: ClientInput, now: float) -> ClientRecord:
    """Full replacement of the writable fields; identity, keys and `created` are kept."""
    kept = existing.model_dump(
        include={
            "client_id",
            "client_orgno",
            "supplier_orgno",
            "active",
            "created",
            "jwks",
            "admin",
        }
    )
    return ClientRecord.model_validate({**kept, **_writable(data), "last_updated": now})
