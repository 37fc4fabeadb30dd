"""The compared "essence" of clients and scopes, and the registrations sent to Digdir.

Both sides are brought to one shape before diffing (kopf's essence; alembic's redundant-diff
bugs are what happens otherwise): server-managed fields are dropped (client_id, created,
last_updated, client_orgno, owner_orgno...), set-like lists are sorted, Digdir's defaults are
applied (`access_token_lifetime: 0` means 120, a missing `token_type` means SELF_CONTAINED,
`prefix: "nav:"` means "nav"), and the ownership marker is split off into its own pseudo-field.
Only fields the manifest manages are compared: optional fields (`long_description`,
`delegation_source`) count when written in the manifest, an explicit null meaning "absent".
A client's `client_orgno` (supplier mode) is in the essence and the create body only for a
client registered for another organisation, and compared only when Digdir reported one; it
cannot change in place (`IMMUTABLE_CLIENT_FIELDS`).
Must not do I/O or decide actions.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, JsonValue

from mpctl.model import (
    Client,
    ClientRegistration,
    DesiredState,
    Environment,
    ObservedClient,
    ObservedScope,
    Scope,
    ScopeRegistration,
)
from mpctl.plan.ownership import (
    CLIENT_SEPARATOR,
    SCOPE_SEPARATOR,
    Owner,
    add_marker,
    parse_marker,
    strip_marker,
)

Essence = dict[str, JsonValue]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_ACCESS_TOKEN_LIFETIME = 120
SELF_CONTAINED = "SELF_CONTAINED"
MARKER_FIELD = "ownership_marker"
"""Pseudo-field of the essence: the ownership marker, compared apart from the text it ends."""
CLIENT_ORGNO = "client_orgno"
IMMUTABLE_CLIENT_FIELDS = frozenset({"integration_type", CLIENT_ORGNO})
"""Fields Digdir will not change in place (a client cannot move between organisations)."""
_GRANT_ALIASES = {"jwt_bearer_token": JWT_BEARER}


def default_client_name(client: Client, desired: DesiredState) -> str:
    return f"{desired.organisation.name} - {client.name} - {desired.env_name}"


def client_essence(client: Client, desired: DesiredState) -> Essence:
    """What the manifest says a client's managed fields are, description without marker;
    `client_orgno` only for a client registered for another organisation (supplier mode)."""
    essence: Essence = {
        "client_name": client.client_name or default_client_name(client, desired),
        "description": client.description,
        "integration_type": client.integration_type,
        "application_type": "web",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": _sorted_set([JWT_BEARER]),
        "scopes": _sorted_set(client.scopes),
        "access_token_lifetime": client.access_token_lifetime,
        MARKER_FIELD: str(Owner.of(desired).marker(client.name)),
    }
    if desired.is_supplied(client):
        essence[CLIENT_ORGNO] = desired.client_orgno(client)
    return essence


def compared_client_essences(
    client: Client, desired: DesiredState, remote: ObservedClient | None
) -> tuple[Essence | None, Essence]:
    """(observed, desired) essences of one client as the planner compares them.

    The organisation is compared when either side is another organisation's and Digdir
    reported the remote one (an old response without `client_orgno` is not judged)."""
    wanted = client_essence(client, desired)
    if remote is None:
        return None, wanted
    found = observed_client_essence(remote)
    own = desired.organisation.orgno
    remote_org = remote.client_orgno
    if remote_org is not None and (remote_org != own or CLIENT_ORGNO in wanted):
        wanted[CLIENT_ORGNO] = desired.client_orgno(client)
        found[CLIENT_ORGNO] = remote_org
    else:
        wanted.pop(CLIENT_ORGNO, None)
    return found, wanted


def client_body(client: Client, desired: DesiredState) -> ClientRegistration:
    """The registration: the essence with the marker written back into `description`."""
    body = client_essence(client, desired)
    del body[MARKER_FIELD]
    body["description"] = add_marker(
        client.description, Owner.of(desired).marker(client.name), separator=CLIENT_SEPARATOR
    )
    return ClientRegistration.model_validate(body)


def observed_client_essence(client: ObservedClient) -> Essence:
    found = parse_marker(client.description)
    return {
        "client_name": client.client_name,
        "description": strip_marker(client.description),
        "integration_type": client.integration_type,
        "application_type": client.application_type,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": _sorted_set(_GRANT_ALIASES.get(g, g) for g in client.grant_types),
        "scopes": _sorted_set(client.scopes),
        "access_token_lifetime": client.access_token_lifetime or DEFAULT_ACCESS_TOKEN_LIFETIME,
        MARKER_FIELD: str(found) if found else None,
    }


def scope_essence(scope: Scope, environment: Environment, owner: Owner) -> Essence:
    """What the manifest says a scope's managed fields are, long_description without marker."""
    essence: Essence = {
        "prefix": scope.prefix,
        "subscope": scope.subscope,
        "description": scope.description,
        "allowed_integration_types": _sorted_set(scope.allowed_integration_types),
        "visibility": scope.visibility,
        "at_max_age": scope.at_max_age,
        "authorization_max_lifetime": _authorization_max_lifetime(scope),
        "accessible_for_all": scope.accessible_for_all,
        "token_type": SELF_CONTAINED,
        "active": True,
        MARKER_FIELD: str(owner.marker(scope.name)),
    }
    if manages(scope, "long_description"):
        essence["long_description"] = scope.long_description or None
    if manages(scope, "delegation_source"):
        essence["delegation_source"] = resolve_delegation_source(
            scope.delegation_source, environment
        )
    return essence


def scope_body(
    scope: Scope, environment: Environment, observed: ObservedScope | None, owner: Owner
) -> ScopeRegistration:
    """The wire body. `long_description` always carries the marker; when the manifest leaves
    it out, the remote text is kept. `active` is only sent to reactivate (PUT), never on POST.
    """
    body = scope_essence(scope, environment, owner)
    del body[MARKER_FIELD]
    if manages(scope, "long_description"):
        text = scope.long_description
    else:
        text = strip_marker(observed.long_description if observed else None)
    body["long_description"] = add_marker(text, owner.marker(scope.name), separator=SCOPE_SEPARATOR)
    if observed is None:
        del body["active"]
    return ScopeRegistration.model_validate(body)


def observed_scope_essence(scope: ObservedScope) -> Essence:
    prefix, _, subscope = scope.name.partition(":")
    found = parse_marker(scope.long_description)
    return {
        "prefix": (scope.prefix or prefix).rstrip(":"),
        "subscope": scope.subscope or subscope,
        "description": scope.description,
        "long_description": strip_marker(scope.long_description) or None,
        "allowed_integration_types": _sorted_set(scope.allowed_integration_types),
        "visibility": scope.visibility,
        "at_max_age": scope.at_max_age or 0,
        "authorization_max_lifetime": scope.authorization_max_lifetime,
        "accessible_for_all": scope.accessible_for_all,
        "token_type": scope.token_type or SELF_CONTAINED,
        "delegation_source": scope.delegation_source,
        "active": scope.active,
        MARKER_FIELD: str(found) if found and found.name == scope.name else None,
    }


def resolve_delegation_source(value: str | None, environment: Environment) -> str | None:
    """A delegation source name from the environment becomes its issuer; URLs pass through."""
    if value is None:
        return None
    return environment.delegation_sources.get(value, value)


def manages(model: BaseModel, field: str) -> bool:
    """True when the manifest wrote `field` (an explicit null counts) or it has a value."""
    return field in model.model_fields_set or getattr(model, field) is not None


def _authorization_max_lifetime(scope: Scope) -> int:
    if scope.authorization_max_lifetime is not None:
        return scope.authorization_max_lifetime
    return scope.at_max_age


def _sorted_set(values: Iterable[str]) -> list[JsonValue]:
    """A set-like wire list in its one compared order: unique, sorted."""
    ordered: list[JsonValue] = []
    ordered.extend(sorted(set(values)))
    return ordered
