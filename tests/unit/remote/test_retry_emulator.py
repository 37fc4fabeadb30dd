"""Retries through the emulator's fault injection: 5xx, 429 + Retry-After, dropped connections,
lost writes, and the contract that an ambiguous write is never resent."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stamina

from mpctl.model import ClientRegistration, ScopeRegistration
from mpctl.model.config import Environment
from mpctl.remote import (
    AdminTokenError,
    AmbiguousWriteError,
    Conflict,
    NotFound,
    RateLimited,
    RetryNotice,
    RetryPolicy,
    ServerError,
    TransportError,
    open_remote,
)
from tests.unit.remote.emulator_world import (
    LEGACY_CLIENT,
    NEW_CLIENT,
    NORDLYS,
    EmulatorWorld,
    LoopbackRouter,
    public_jwk,
)

CLIENTS = "/api/v1/clients"
REFUSED = "http://127.0.0.1:9/api/v1"
JWKS = "/api/v1/clients/*/jwks"


def _rule(kind: str, path: str, *methods: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "path": path, "methods": list(methods), **extra}


@pytest.mark.usefixtures("no_waits")
class TestRetried:
    async def test_one_5xx_then_success(self, emulator: EmulatorWorld) -> None:
        await emulator.set_faults(_rule("error", CLIENTS, "GET", status=503, max_hits=1))
        async with emulator.remote() as remote:
            assert await remote.list_clients()
        assert await emulator.fault_counts() == [(2, 1)]

    async def test_5xx_until_the_budget_of_four_is_spent(self, emulator: EmulatorWorld) -> None:
        await emulator.set_faults(_rule("error", CLIENTS, "GET", status=500))
        async with emulator.remote() as remote:
            with pytest.raises(ServerError) as caught:
                await remote.list_clients()
        assert await emulator.fault_counts() == [(4, 4)]
        assert caught.value.status == 500

    async def test_429_is_retried_and_reports_the_servers_wait(
        self, emulator: EmulatorWorld
    ) -> None:
        notices: list[RetryNotice] = []
        await emulator.set_faults(_rule("rate_limit", CLIENTS, "GET", retry_after=7, max_hits=2))
        async with emulator.remote(retry=RetryPolicy(on_retry=notices.append)) as remote:
            await remote.list_clients()
        assert [(n.attempt, n.reason, n.retry_after) for n in notices] == [
            (1, "status 429", 7.0),
            (2, "status 429", 7.0),
        ]

    async def test_429_asking_for_too_long_fails_fast(self, emulator: EmulatorWorld) -> None:
        await emulator.set_faults(_rule("rate_limit", CLIENTS, "GET", retry_after=3600))
        async with emulator.remote() as remote:
            with pytest.raises(RateLimited) as caught:
                await remote.list_clients()
        assert caught.value.retry_after == 3600.0
        assert await emulator.fault_counts() == [(1, 1)]

    async def test_dropped_connection_on_a_read_is_retried(self, emulator: EmulatorWorld) -> None:
        await emulator.set_faults(_rule("drop", f"{CLIENTS}/*", "GET", max_hits=2))
        async with emulator.remote() as remote:
            assert (await remote.get_client(LEGACY_CLIENT)).client_id == LEGACY_CLIENT

    async def test_dropped_connection_on_the_access_grant_is_retried(
        self, emulator: EmulatorWorld
    ) -> None:
        await emulator.set_faults(_rule("drop", "/api/v1/scopes/access/*", "PUT", max_hits=1))
        async with emulator.remote() as remote:
            granted = await remote.grant_access("acme:invoices.read", NORDLYS)
        assert granted.approved

    async def test_lost_key_set_write_is_resent_and_converges(
        self, emulator: EmulatorWorld
    ) -> None:
        await emulator.set_faults(_rule("lost_write", JWKS, "POST", max_hits=1))
        async with emulator.remote() as remote:
            written = await remote.put_jwks(LEGACY_CLIENT, [public_jwk("k-new")])
            assert written.kids == {"k-new"}
            assert (await remote.get_jwks(LEGACY_CLIENT)).kids == {"k-new"}
        assert await emulator.fault_counts() == [(2, 1)]

    async def test_token_endpoint_5xx_is_retried(self, emulator: EmulatorWorld) -> None:
        await emulator.set_faults(_rule("error", "/token", "POST", status=502, max_hits=2))
        async with emulator.remote() as remote:
            await remote.list_clients()
            assert remote.requests_made == 4  # three token attempts, one call

    async def test_token_endpoint_down_gives_an_admin_token_error(
        self, emulator: EmulatorWorld
    ) -> None:
        await emulator.set_faults(_rule("error", "/token", "POST", status=503))
        async with emulator.remote() as remote:
            with pytest.raises(AdminTokenError) as caught:
                await remote.list_clients()
            assert remote.requests_made == 4  # the token budget only; the call is not repeated
        assert caught.value.status == 503
        assert isinstance(caught.value.__cause__, ServerError)


@pytest.mark.usefixtures("no_waits")
class TestAmbiguousWritesAreNeverResent:
    async def test_dropped_create_raises_and_is_sent_once(self, emulator: EmulatorWorld) -> None:
        await emulator.set_faults(_rule("drop", CLIENTS, "POST"))
        async with emulator.remote() as remote:
            with pytest.raises(AmbiguousWriteError) as caught:
                await remote.create_client(ClientRegistration.model_validate(NEW_CLIENT))
        assert await emulator.fault_counts() == [(1, 1)]
        assert caught.value.hint is not None
        assert "re-read" in caught.value.hint

    async def test_5xx_after_a_create_was_stored_is_ambiguous(
        self, emulator: EmulatorWorld
    ) -> None:
        """The server stored the client and then failed: a resend would make a second one."""
        await emulator.set_faults(_rule("lost_write", CLIENTS, "POST"))
        async with emulator.remote() as remote:
            before = len(await remote.list_clients())
            with pytest.raises(AmbiguousWriteError) as caught:
                await remote.create_client(ClientRegistration.model_validate(NEW_CLIENT))
            after = await remote.list_clients()
        assert caught.value.status == 500
        assert len(after) == before + 1  # what the caller's re-read finds: exactly one new client
        assert await emulator.fault_counts() == [(1, 1)]

    async def test_dropped_key_set_write_raises_and_is_sent_once(
        self, emulator: EmulatorWorld
    ) -> None:
        await emulator.set_faults(_rule("drop", JWKS, "POST"))
        async with emulator.remote() as remote:
            with pytest.raises(AmbiguousWriteError):
                await remote.put_jwks(LEGACY_CLIENT, [public_jwk("k-new")])
        assert await emulator.fault_counts() == [(1, 1)]

    async def test_dropped_scope_delete_raises(self, emulator: EmulatorWorld) -> None:
        await emulator.set_faults(_rule("drop", "/api/v1/scopes", "DELETE"))
        async with emulator.remote() as remote:
            with pytest.raises(AmbiguousWriteError):
                await remote.delete_scope("acme:invoices.read")
        assert await emulator.fault_counts() == [(1, 1)]


@pytest.mark.usefixtures("no_waits")
async def test_client_errors_are_not_retried(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        await remote.list_clients()
        before = remote.requests_made
        with pytest.raises(NotFound):
            await remote.get_jwks("no-such-client")
        with pytest.raises(Conflict):
            await remote.create_scope(
                ScopeRegistration.model_validate(
                    {"prefix": "acme", "subscope": "old", "description": "x"}
                )
            )
        assert remote.requests_made == before + 2


@pytest.mark.usefixtures("no_waits")
async def test_refused_connections_are_retried_even_for_creates(emulator: EmulatorWorld) -> None:
    """Nothing listens on 127.0.0.1:9: the create is never sent, so sending it again is safe."""
    refusing = {**emulator.environment.model_dump(mode="json"), "api_base_url": REFUSED}
    notices: list[RetryNotice] = []
    async with open_remote(
        Environment.model_validate(refusing),
        base_dir=emulator.workdir,
        environ={},
        transport=LoopbackRouter(emulator.transport),
        retry=RetryPolicy(on_retry=notices.append),
    ) as remote:
        with pytest.raises(TransportError) as caught:
            await remote.create_client(ClientRegistration.model_validate(NEW_CLIENT))
        assert remote.requests_made == 5  # the token, then four attempts at the create
    assert caught.value.sent is False
    assert [n.attempt for n in notices] == [1, 2, 3]


async def test_retry_after_is_really_waited(emulator: EmulatorWorld) -> None:
    """Outside stamina's test mode, with zero backoff: only the server's 1 s wait remains."""
    assert not stamina.is_testing()
    await emulator.set_faults(_rule("rate_limit", CLIENTS, "GET", retry_after=1, max_hits=1))
    async with emulator.remote(retry=RetryPolicy.without_waits()) as remote:
        started = time.monotonic()
        await remote.list_clients()
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0
