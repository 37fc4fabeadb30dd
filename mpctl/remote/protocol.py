"""`RemoteApi`: the seam between mpctl and Digdir's self-service API.

Owns the list of operations and their contract: request bodies are the registrations of
`mpctl.model.registrations` (a PUT never sends server-managed or create-only fields), results
are the tolerant models of `mpctl.model.registrations`. Deletes return nothing (callers that
need the outcome re-read). Org numbers must be exactly 9 digits; implementations refuse others
before any request exists. Failures are `mpctl.remote.errors` exceptions; a write that may or may
not have happened raises `AmbiguousWriteError` and is never resent. Must not hold any logic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from mpctl.model import (
    ClientRegistration,
    ObservedAccess,
    ObservedClient,
    ObservedJwks,
    ObservedScope,
    ScopeRegistration,
)

WireBody = Mapping[str, Any]
"""A public JWK exactly as it goes on the wire (JSON object)."""


class RemoteApi(Protocol):
    """Digdir's self-service API for one organisation (the admin token's owner)."""

    concurrency: int
    """How many calls the remote runs at once; more calls than this at a time only queue."""

    async def list_clients(self) -> tuple[ObservedClient, ...]:
        """GET /clients: every client the organisation owns."""
        ...

    async def get_client(self, client_id: str) -> ObservedClient:
        """GET /clients/{id}; `NotFound` when unknown or another organisation's."""
        ...

    async def create_client(self, body: ClientRegistration) -> ObservedClient:
        """POST /clients. Not idempotent: no answer, or a 5xx, raises `AmbiguousWriteError`."""
        ...

    async def update_client(self, client_id: str, body: ClientRegistration) -> ObservedClient:
        """PUT /clients/{id}: full replacement (integration_type is immutable)."""
        ...

    async def delete_client(self, client_id: str) -> None:
        """DELETE /clients/{id}: Digdir deactivates the client."""
        ...

    async def get_jwks(self, client_id: str) -> ObservedJwks:
        """GET /clients/{id}/jwks: the whole registered key set with each key's `exp`."""
        ...

    async def put_jwks(self, client_id: str, keys: Sequence[WireBody]) -> ObservedJwks:
        """POST /clients/{id}/jwks: REPLACES the whole set. Public members only, never empty."""
        ...

    async def delete_jwks(self, client_id: str) -> None:
        """DELETE /clients/{id}/jwks: removes every key (the only way to remove the last one)."""
        ...

    async def list_scopes(self, *, inactive: bool = True) -> tuple[ObservedScope, ...]:
        """GET /scopes: the organisation's own scopes; deactivated ones too when `inactive`."""
        ...

    async def get_scope(self, name: str) -> ObservedScope:
        """GET /scopes?scope={name}."""
        ...

    async def create_scope(self, body: ScopeRegistration) -> ObservedScope:
        """POST /scopes; `Conflict` when it exists (also deactivated: PUT reactivates it).

        Like a client create, never resent after it may have reached the server.
        """
        ...

    async def update_scope(self, name: str, body: ScopeRegistration) -> ObservedScope:
        """PUT /scopes?scope={name}: full replacement; prefix and subscope are immutable."""
        ...

    async def delete_scope(self, name: str) -> None:
        """DELETE /scopes?scope={name}: soft delete (active=false)."""
        ...

    async def list_access(self, scope: str) -> tuple[ObservedAccess, ...]:
        """GET /scopes/access?scope={name}: every consumer record, DENIED ones included."""
        ...

    async def grant_access(self, scope: str, orgno: str) -> ObservedAccess:
        """PUT /scopes/access/{orgno}?scope={name}: idempotent; re-approves a DENIED record."""
        ...

    async def revoke_access(self, scope: str, orgno: str) -> None:
        """DELETE /scopes/access/{orgno}?scope={name}: the record stays, as DENIED."""
        ...

    async def list_access_all(self) -> tuple[ObservedAccess, ...]:
        """GET /scopes/access/all: records where this organisation is the consumer."""
        ...

    async def list_public_scopes(self) -> tuple[ObservedScope, ...]:
        """GET /scopes/all: every owner's PUBLIC scopes."""
        ...

    async def list_delegation_sources(self) -> Mapping[str, str]:
        """GET /delegationsources: delegation source name → issuer URL."""
        ...
