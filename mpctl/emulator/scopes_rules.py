"""What makes a scope (API) definition acceptable, and how a valid body becomes a record.

Owns the scope body schema (localised `description#xx` fields kept, read-only fields
ignored), prefix ownership, the subscope syntax, immutability of the name, known delegation
sources and the admin scopes needed to manage scopes (with the `dcr.write` switch). It must
not know HTTP routes.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mpctl.emulator.errors import ApiError, Problem
from mpctl.emulator.http_input import validation_problems
from mpctl.emulator.settings import Switches
from mpctl.emulator.state import EmulatorState, ScopeRecord
from mpctl.emulator.vocabulary import (
    DCR_WRITE,
    SCOPES_READ,
    SCOPES_WRITE,
    ScopeIntegrationType,
    TokenType,
    Visibility,
)

OBJECT: Final = "Scope"
_LOCALISED: Final = re.compile(r"^(long_)?description#[a-z]{2}\Z")
_SUBSCOPE: Final = re.compile(r"^[A-Za-z0-9æøåÆØÅ]+([./:_-][A-Za-z0-9æøåÆØÅ]+)*\Z")


def reading_scopes(switches: Switches) -> frozenset[str]:
    extra = {DCR_WRITE} if switches.scopes_write_accepts_dcr_write else set()
    return frozenset({SCOPES_READ, SCOPES_WRITE} | extra)


def writing_scopes(switches: Switches) -> frozenset[str]:
    extra = {DCR_WRITE} if switches.scopes_write_accepts_dcr_write else set()
    return frozenset({SCOPES_WRITE} | extra)


class ScopeInput(BaseModel):
    """Writable scope fields; `description#en`-style extras are kept, other extras ignored."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    prefix: str | None = None
    subscope: str | None = None
    description: str = Field(min_length=1)
    long_description: str | None = None
    allowed_integration_types: list[ScopeIntegrationType] = Field(default_factory=list)
    token_type: TokenType = "SELF_CONTAINED"
    visibility: Visibility = "PUBLIC"
    requires_user_consent: bool = False
    requires_user_authentication: bool = False
    requires_pseudonymous_tokens: bool = False
    delegation_source: str | None = None
    at_max_age: int = Field(default=0, ge=0)
    authorization_max_lifetime: int = Field(default=0, ge=0)
    accessible_for_all: bool = False
    supports_european_businesses: bool = False
    enforced_aud_for_access_token: str | None = None
    active: bool | None = None

    def localised(self) -> dict[str, str]:
        extras = self.model_extra or {}
        return {
            name: value
            for name, value in extras.items()
            if _LOCALISED.match(name) and isinstance(value, str)
        }


def parse_scope_input(payload: dict[str, Any]) -> ScopeInput:
    try:
        return ScopeInput.model_validate(payload)
    except ValidationError as error:
        raise ApiError(400, validation_problems(error), object_name=OBJECT) from None


def new_scope_name(state: EmulatorState, data: ScopeInput, orgno: str) -> str:
    """The name of a scope to create; 400 (missing/bad parts), 403 (prefix), 409 (exists)."""
    problems = [
        Problem(f"{part} is required", field=part)
        for part in ("prefix", "subscope")
        if not getattr(data, part)
    ]
    if data.subscope and not _SUBSCOPE.match(data.subscope):
        problems.append(Problem("subscope contains characters that are not allowed", "subscope"))
    if problems:
        raise ApiError(400, problems, object_name=OBJECT)
    organisation = state.organisations.get(orgno)
    if organisation is None or data.prefix not in organisation.prefixes:
        message = f"Prefix '{data.prefix}' is not assigned to organization {orgno}"
        raise ApiError(403, message, object_name=OBJECT)
    name = f"{data.prefix}:{data.subscope}"
    if name in state.scopes:
        raise ApiError(409, f"Scope {name} already exists", object_name=OBJECT)
    return name


def content_problems(state: EmulatorState, data: ScopeInput) -> list[Problem]:
    issuers = {source.issuer for source in state.delegation_sources}
    if data.delegation_source is not None and data.delegation_source not in issuers:
        message = f"Unknown delegation_source {data.delegation_source}"
        return [Problem(message, field="delegation_source")]
    return []


def rename_problems(existing: ScopeRecord, data: ScopeInput) -> list[Problem]:
    return [
        Problem(f"{part} cannot be changed", field=part)
        for part in ("prefix", "subscope")
        if getattr(data, part) is not None and getattr(data, part) != getattr(existing, part)
    ]


def _writable(data: ScopeInput) -> dict[str, Any]:
    declared = set(ScopeInput.model_fields) - {"prefix", "subscope", "active"}
    values = data.model_dump(include=declared)
    values["localised"] = data.localised()
    return values


def new_scope(data: ScopeInput, name: str, orgno: str, now: float) -> ScopeRecord:
    prefix, subscope = name.split(":", 1)
    return ScopeRecord(
        **_writable(data),
        name=name,
        prefix=prefix,
        subscope=subscope,
        owner_orgno=orgno,
        active=True,
        created=now,
        last_updated=now,
    )


def replaced_scope(existing: ScopeRecord, data: ScopeInput, now: float) -> ScopeRecord:
    """Full replacement of the writable fields; `active` changes only when sent."""
    kept = existing.model_dump(include={"name", "prefix", "subscope", "owner_orgno", "created"})
    active = existing.active if data.active is None else data.active
    return ScopeRecord(**kept, **_writable(data), active=active, last_updated=now)
