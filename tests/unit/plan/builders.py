"""Small builders for planning tests: desired resources, converged observed objects, key slots.

`converged(...)` returns the observed state Digdir would show right after an apply of `desired`,
so a test can start from "no changes" and edit one thing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from mpctl.model import (
    Client,
    DesiredState,
    Environment,
    KeyPolicy,
    KeySlot,
    ObservedAccess,
    ObservedClient,
    ObservedJwk,
    ObservedJwks,
    ObservedScope,
    ObservedState,
    Organisation,
    Scope,
    SinkState,
)
from mpctl.plan.keys import jwk_thumbprint
from mpctl.plan.normalize import client_body, scope_body
from mpctl.plan.ownership import Owner

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ORGNO = "910753614"
CONSUMER_A = "987654325"
CONSUMER_B = "312345676"
ORG = Organisation(orgno=ORGNO, name="ACME", scope_prefixes=("acme",))
ENV = Environment(
    api_base_url="https://api.test.samarbeid.digdir.no/api/v1",
    issuer="https://test.maskinporten.no/",
    token_endpoint="https://test.maskinporten.no/token",
    delegation_sources={"altinn": "https://tt02.altinn.no/"},
)
PROTECTED_ENV = ENV.model_copy(update={"protected": True})


def client(name: str = "billing", **fields: Any) -> Client:
    fields.setdefault("description", f"{name} integration")
    fields.setdefault("scopes", ("acme:invoices.read",))
    fields.setdefault("keys", None)  # most planner tests are about clients, not their keys
    return Client(name=name, **fields)


def scope(name: str = "acme:invoices.read", **fields: Any) -> Scope:
    fields.setdefault("description", f"API {name}")
    return Scope(name=name, **fields)


def desired(
    clients: Iterable[Client] = (),
    scopes: Iterable[Scope] = (),
    *,
    environment: Environment = ENV,
    env_name: str = "test",
) -> DesiredState:
    return DesiredState(
        env_name=env_name,
        environment=environment,
        organisation=ORG,
        clients={c.name: c for c in clients},
        scopes={s.name: s for s in scopes},
    )


def client_id(name: str) -> str:
    return f"id-{name}"


def observed_client(c: Client, state: DesiredState, **changes: Any) -> ObservedClient:
    body = client_body(c, state).wire()
    body.update(client_id=client_id(c.name), client_orgno=ORGNO, access_token_lifetime=0)
    if c.access_token_lifetime != 120:
        body["access_token_lifetime"] = c.access_token_lifetime
    body.update(changes)
    return ObservedClient.model_validate(body)


def observed_scope(s: Scope, state: DesiredState, **changes: Any) -> ObservedScope:
    body = scope_body(s, state.environment, None, Owner.of(state)).wire()
    body.update(name=s.name, owner_orgno=ORGNO, active=True)
    body.update(changes)
    return ObservedScope.model_validate(body)


def converged(state: DesiredState, **extra: Any) -> ObservedState:
    """What Digdir shows once `state` is applied (no keys): a plan over it has no steps."""
    clients = {client_id(c.name): observed_client(c, state) for c in state.clients.values()}
    scopes = {s.name: observed_scope(s, state) for s in state.scopes.values()}
    access = {
        s.name: tuple(
            ObservedAccess(scope=s.name, consumer_orgno=o, owner_orgno=ORGNO) for o in s.consumers
        )
        for s in state.scopes.values()
    }
    fields: dict[str, Any] = {"clients": clients, "scopes": scopes, "access": access}
    fields.update(extra)
    return ObservedState(**fields)


def modulus(kid: str) -> str:
    """A stable fake RSA modulus per kid (thumbprints only need distinct inputs)."""
    digest = hashlib.sha512(kid.encode()).digest() * 4
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def jwk(kid: str, *, exp: datetime | None = None, modulus_of: str | None = None) -> ObservedJwk:
    expiry = int(exp.timestamp()) if exp else int((NOW + timedelta(days=300)).timestamp())
    return ObservedJwk(
        kty="RSA",
        kid=kid,
        alg="RS256",
        use="sig",
        e="AQAB",
        n=modulus(modulus_of or kid),
        exp=expiry,
    )


def jwks(*keys: str | ObservedJwk) -> ObservedJwks:
    return ObservedJwks(keys=tuple(k if isinstance(k, ObservedJwk) else jwk(k) for k in keys))


def slot(kid: str, *, age_days: float = 10, promoted_days_ago: float | None = None) -> KeySlot:
    thumbprint = jwk_thumbprint(jwk(kid))
    assert thumbprint is not None
    promoted = NOW - timedelta(days=promoted_days_ago) if promoted_days_ago is not None else None
    return KeySlot(
        kid=kid,
        thumbprint=thumbprint,
        created_at=NOW - timedelta(days=age_days),
        promoted_at=promoted,
    )


def sink(
    current: KeySlot | None = None,
    previous: KeySlot | None = None,
    pending: KeySlot | None = None,
    *,
    client_id: str | None = None,
) -> SinkState:
    return SinkState(client_id=client_id, current=current, previous=previous, pending=pending)


POLICY = KeyPolicy()
