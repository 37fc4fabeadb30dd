"""Turning a `World` into a fresh `EmulatorState` (at start-up and on control-surface reset).

Owns the mapping from world entries to state records, including defaults (delegation sources
per environment, key expiry, timestamps) and what a reset keeps (CA and signing keys, the id
counter). It must not validate the world (that is `world`) or persist anything.
"""

from __future__ import annotations

from mpctl.emulator.ids import new_client_id
from mpctl.emulator.state import (
    AccessRecord,
    ClientRecord,
    Delegation,
    DelegationSource,
    EmulatorState,
    KeySet,
    Organisation,
    ScopeRecord,
    StoredKey,
)
from mpctl.emulator.vocabulary import (
    DEFAULT_DELEGATION_ISSUERS,
    JWT_BEARER_GRANT,
    KEY_MAX_LIFETIME_SECONDS,
)
from mpctl.emulator.world import World, WorldAdminClient, WorldClient, WorldKey, WorldScope

_REGISTERED_LONG_AGO = 0.0


def seed_state(
    world: World,
    *,
    environment: str,
    seed: int,
    now: float,
    keep_from: EmulatorState | None = None,
) -> EmulatorState:
    """The state a world describes; `keep_from` carries key material and the id counter over."""
    state = EmulatorState()
    if keep_from is not None:
        state.authorities = dict(keep_from.authorities)
        state.signing_key = keep_from.signing_key
        state.id_counter = keep_from.id_counter
    state.organisations = {
        org.orgno: Organisation(
            orgno=org.orgno,
            name=org.name,
            prefixes=list(org.prefixes),
            customers=None if org.customers is None else list(org.customers),
        )
        for org in world.organisations
    }
    state.delegation_sources = _delegation_sources(world, environment, now)
    state.scopes = {scope.name: _scope(scope, now) for scope in world.scopes}
    _add_access(state, world, now)
    _add_delegations(state, world)
    for admin in world.admin_clients:
        state.clients[admin.client_id] = _admin_client(admin, now)
    for client in world.clients:
        record = _client(client, client.client_id or new_client_id(state, seed), now)
        state.clients[record.client_id] = record
    state.faults = [rule.model_copy(deep=True) for rule in world.faults]
    return state


def _delegation_sources(world: World, environment: str, now: float) -> list[DelegationSource]:
    if world.delegation_sources is None:
        pairs = [("altinn", DEFAULT_DELEGATION_ISSUERS[environment])]
    else:
        pairs = [(source.name, source.issuer) for source in world.delegation_sources]
    return [
        DelegationSource(name=name, issuer=issuer, created=now, last_updated=now)
        for name, issuer in pairs
    ]


def _scope(scope: WorldScope, now: float) -> ScopeRecord:
    created = scope.created.timestamp() if scope.created else now
    prefix, subscope = scope.name.split(":", 1)
    return ScopeRecord(
        **scope.model_dump(exclude={"name", "created"}),
        name=scope.name,
        prefix=prefix,
        subscope=subscope,
        created=created,
        last_updated=created,
    )


def _add_access(state: EmulatorState, world: World, now: float) -> None:
    for grant in world.access:
        owner = state.scopes[grant.scope].owner_orgno
        state.access[AccessRecord.key(grant.scope, grant.consumer_orgno)] = AccessRecord(
            scope=grant.scope,
            consumer_orgno=grant.consumer_orgno,
            owner_orgno=owner,
            state=grant.state,
            created=now,
            last_updated=now,
        )


def _add_delegations(state: EmulatorState, world: World) -> None:
    for delegation in world.delegations:
        source = delegation.delegation_source or state.scopes[delegation.scope].delegation_source
        assert source is not None, "the world checks that delegated scopes have a source"
        state.delegations.append(
            Delegation(
                consumer_orgno=delegation.consumer_orgno,
                supplier_orgno=delegation.supplier_orgno,
                scope=delegation.scope,
                delegation_source=source,
            )
        )


def _key_set(keys: list[WorldKey], now: float) -> KeySet | None:
    if not keys:
        return None
    stored = [
        StoredKey(
            **key.model_dump(exclude={"exp"}),
            exp=key.exp if key.exp is not None else int(now) + KEY_MAX_LIFETIME_SECONDS,
            registered_at=_REGISTERED_LONG_AGO,
        )
        for key in keys
    ]
    return KeySet(keys=stored, created=now, last_updated=now)


def _admin_client(admin: WorldAdminClient, now: float) -> ClientRecord:
    return ClientRecord(
        client_id=admin.client_id,
        client_orgno=admin.client_orgno,
        integration_type="maskinporten",
        description=admin.description,
        token_endpoint_auth_method="private_key_jwt",
        grant_types=[JWT_BEARER_GRANT],
        scopes=list(admin.scopes),
        access_token_lifetime=admin.access_token_lifetime,
        created=now,
        last_updated=now,
        jwks=_key_set(admin.jwks, now),
        admin=True,
    )


def _client(client: WorldClient, client_id: str, now: float) -> ClientRecord:
    created = client.created.timestamp() if client.created else now
    return ClientRecord(
        **client.model_dump(exclude={"client_id", "created", "jwks"}),
        client_id=client_id,
        created=created,
        last_updated=created,
        jwks=_key_set(client.jwks, now),
    )
