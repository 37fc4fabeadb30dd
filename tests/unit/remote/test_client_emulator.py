"""`HttpRemote` against the emulator: operations, error mapping, auth, counting, concurrency."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from mpctl.model import ClientRegistration, ScopeRegistration
from mpctl.remote import (
    AdminAuth,
    AdminTokenSource,
    BadRequest,
    Conflict,
    HttpRemote,
    NotFound,
    RetryPolicy,
    UnsafeRequestError,
    load_admin_credential,
)
from mpctl.remote.connect import open_http
from tests.unit.remote.emulator_world import (
    ACME,
    API,
    CUSTOMER,
    FOREIGN_CLIENT,
    ISSUER,
    LEGACY_CLIENT,
    NEW_CLIENT,
    NORDLYS,
    EmulatorWorld,
    InFlightCounter,
    public_jwk,
)


async def test_client_lifecycle(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        created = await remote.create_client(ClientRegistration.model_validate(NEW_CLIENT))
        assert created.client_orgno == ACME
        assert created.scopes == ("altinn:granted",)
        fetched = await remote.get_client(created.client_id)
        assert fetched.description == "billing sync"
        body = {**NEW_CLIENT, "description": "billing sync v2"}
        updated = await remote.update_client(
            created.client_id, ClientRegistration.model_validate(body)
        )
        assert updated.description == "billing sync v2"
        listed = {c.client_id for c in await remote.list_clients()}
        assert {created.client_id, LEGACY_CLIENT} <= listed
        assert FOREIGN_CLIENT not in listed
        await remote.delete_client(created.client_id)
        active_ids = {c.client_id for c in await remote.list_clients() if c.active}
        assert created.client_id not in active_ids


async def test_key_set_is_replaced_whole_and_removed(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        client = await remote.create_client(ClientRegistration.model_validate(NEW_CLIENT))
        first = await remote.put_jwks(client.client_id, [public_jwk("k1"), public_jwk("k2")])
        assert first.kids == {"k1", "k2"}
        assert all(key.exp for key in first.keys)
        replaced = await remote.put_jwks(client.client_id, [public_jwk("k2")])
        assert replaced.kids == {"k2"}
        assert (await remote.get_jwks(client.client_id)).kids == {"k2"}
        await remote.delete_jwks(client.client_id)
        assert (await remote.get_jwks(client.client_id)).keys == ()


async def test_key_without_use_and_pre_v1_timestamps_are_read(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        jwks = await remote.get_jwks(LEGACY_CLIENT)
        client = await remote.get_client(LEGACY_CLIENT)
    assert jwks.keys[0].kid == "acme-manual-2024-03"
    assert jwks.keys[0].use is None
    assert client.created is not None
    assert client.created.utcoffset() is not None


async def test_scope_lifecycle_and_conflict(emulator: EmulatorWorld) -> None:
    body = {
        "prefix": "acme",
        "subscope": "orders/v1.read",
        "description": "Read orders",
        "allowed_integration_types": ["maskinporten"],
    }
    async with emulator.remote() as remote:
        created = await remote.create_scope(ScopeRegistration.model_validate(body))
        assert created.name == "acme:orders/v1.read"
        assert (await remote.get_scope(created.name)).description == "Read orders"
        updated = await remote.update_scope(
            created.name, ScopeRegistration.model_validate({**body, "description": "Orders"})
        )
        assert updated.description == "Orders"
        await remote.delete_scope(created.name)
        everything = {s.name: s for s in await remote.list_scopes(inactive=True)}
        assert everything[created.name].active is False
        with pytest.raises(Conflict):
            await remote.create_scope(ScopeRegistration.model_validate(body))


async def test_access_grant_and_revoke(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        granted = await remote.grant_access("acme:invoices.read", CUSTOMER)
        assert granted.approved
        assert granted.consumer_orgno == CUSTOMER
        again = await remote.grant_access("acme:invoices.read", CUSTOMER)
        assert again.approved
        await remote.revoke_access("acme:invoices.read", NORDLYS)
        records = {
            a.consumer_orgno: a.state for a in await remote.list_access("acme:invoices.read")
        }
    assert records == {CUSTOMER: "APPROVED", NORDLYS: "DENIED"}


async def test_unsafe_orgno_is_refused_before_any_request(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        await remote.list_clients()
        before = remote.requests_made
        for bad in ("..", "12345678", "313367002/../x"):
            with pytest.raises(UnsafeRequestError):
                await remote.revoke_access("acme:invoices.read", bad)
        assert remote.requests_made == before


async def test_consumer_side_and_public_lists(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        mine = {(a.scope, a.state) for a in await remote.list_access_all()}
        public = {s.name for s in await remote.list_public_scopes()}
        sources = await remote.list_delegation_sources()
    assert ("altinn:granted", "APPROVED") in mine
    assert ("altinn:denied", "DENIED") in mine
    assert {"brreg:open", "altinn:granted"} <= public
    assert "brreg:private" not in public
    assert sources["altinn"] == "https://tt02.altinn.no/"


async def test_bad_request_carries_digdir_messages_and_correlation_id(
    emulator: EmulatorWorld,
) -> None:
    async with emulator.remote() as remote:
        with pytest.raises(BadRequest) as caught:
            await remote.create_client(
                ClientRegistration.model_validate({**NEW_CLIENT, "scopes": ["brreg:closed"]})
            )
        before = remote.requests_made
        with pytest.raises(NotFound):
            await remote.get_client("no-such-client")
        assert remote.requests_made == before + 1  # 404 is not retried
    assert caught.value.messages
    assert caught.value.correlation_id
    assert caught.value.path == "/api/v1/clients"
    assert "brreg:closed" in str(caught.value)


async def test_one_token_for_many_calls_and_every_request_counted(
    emulator: EmulatorWorld,
) -> None:
    async with emulator.remote() as remote:
        for _ in range(5):
            await remote.list_clients()
        assert remote.requests_made == 6  # one token exchange + five calls


async def test_expired_admin_token_is_refreshed_once_on_401(emulator: EmulatorWorld) -> None:
    offset = 0.0
    key = load_admin_credential(emulator.environment.admin, emulator.workdir, {})  # type: ignore[arg-type]
    async with open_http(transport=emulator.transport) as http:
        tokens = AdminTokenSource(
            key,
            issuer=ISSUER,
            token_endpoint=f"{ISSUER}token",
            http=http,
            retry=RetryPolicy.without_waits(),
            wall_clock=lambda: time.time() + offset,
        )
        remote = HttpRemote(http, api_base_url=API, auth=AdminAuth(tokens))
        await remote.list_clients()
        await emulator.control("POST", "clock", {"advance": 600})
        offset = 600.0  # our clock agrees with Maskinporten's; the cached token has expired
        await remote.list_clients()
    assert tokens.exchanges == 2
    assert remote.requests_made == 5  # token, call, call → 401, token, resend


@pytest.mark.parametrize(("concurrency", "bound"), [(1, 1), (4, 4), (16, 12)])
async def test_concurrency_is_bounded(
    emulator: EmulatorWorld, concurrency: int, bound: int
) -> None:
    await emulator.set_faults({"kind": "latency", "path": "/api/v1/clients/*", "latency_ms": 20})
    counter = InFlightCounter(emulator.transport)
    async with emulator.remote(concurrency=concurrency, transport=counter) as remote:
        await asyncio.gather(*(remote.get_jwks(LEGACY_CLIENT) for _ in range(12)))
    assert counter.most == bound


def test_http_remote_refuses_zero_concurrency() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HttpRemote(httpx.AsyncClient(), api_base_url=API, auth=None, concurrency=0)


async def test_a_key_read_without_use_can_be_posted_back(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        legacy = await remote.get_jwks(LEGACY_CLIENT)
        keys = [key.model_dump(exclude_none=True) for key in legacy.keys]
        assert "use" not in keys[0]
        written = await remote.put_jwks(LEGACY_CLIENT, [*keys, public_jwk("k-added")])
    assert {key.kid: key.use for key in written.keys} == {
        "acme-manual-2024-03": "sig",
        "k-added": "sig",
    }
