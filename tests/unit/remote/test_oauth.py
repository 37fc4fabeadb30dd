"""The one token exchange against the real emulator's `/token`: answers, refusals, retries."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import SecretStr

from mpctl.remote import (
    GrantFactory,
    GrantRequest,
    RetryNotice,
    RetryPolicy,
    ServerError,
    SigningKey,
    TokenEvent,
    TokenExchange,
    TokenRefusedError,
    TransportError,
    fresh_grants,
    load_admin_credential,
)
from tests.unit.remote.emulator_world import ISSUER, EmulatorWorld, LoopbackRouter

TOKEN_ENDPOINT = f"{ISSUER}token"
REFUSING_ENDPOINT = "http://127.0.0.1:9/token"  # nothing listens on the discard port
SCOPES = ("idporten:dcr.read",)
NO_WAITS = RetryPolicy.without_waits()


@dataclass
class Grants:
    """Signs a fresh grant per attempt and keeps every one, to look for them in errors."""

    make: GrantFactory
    signed: list[str] = field(default_factory=list)

    def __call__(self) -> SecretStr:
        grant = self.make()
        self.signed.append(grant.get_secret_value())
        return grant


def admin_grants(emulator: EmulatorWorld, issuer: str = ISSUER) -> Grants:
    key = load_admin_credential(emulator.environment.admin, emulator.workdir, {})  # type: ignore[arg-type]
    signer = SigningKey(key.private_key, x5c=key.x5c)
    return Grants(fresh_grants(signer, GrantRequest(key.client_id, issuer, SCOPES)))


@pytest.fixture
async def http(emulator: EmulatorWorld) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=LoopbackRouter(emulator.transport)) as client:
        yield client


def shown(error: BaseException) -> str:
    """Everything an error can show: str, repr, hint, and the formatted chain with its causes."""
    chain = "".join(traceback.format_exception(error))
    return "\n".join((str(error), repr(error), str(getattr(error, "hint", "")), chain))


def assert_no_secret(text: str, grants: Grants, *tokens: str) -> None:
    assert grants.signed, "no grant was signed"
    for secret in (*grants.signed, *tokens):
        assert secret not in text
        assert secret.split(".")[2][:40] not in text  # nor its signature


async def test_a_grant_is_exchanged_for_a_token(
    emulator: EmulatorWorld, http: httpx.AsyncClient
) -> None:
    events: list[TokenEvent] = []
    grants = admin_grants(emulator)
    exchange = TokenExchange(
        http, TOKEN_ENDPOINT, grants, policy=NO_WAITS, observer=events.append, client="admin"
    )
    issued = await exchange.run()
    token = issued.access_token.get_secret_value()
    assert token.count(".") == 2
    assert issued.expires_in is not None
    assert issued.expires_in > 0
    assert exchange.attempts == 1
    assert [(e.event, e.attempt, e.client) for e in events] == [
        ("token_request_start", 0, "admin"),
        ("token_request_success", 1, "admin"),
    ]
    assert_no_secret(repr(issued) + repr(exchange) + repr(events), grants, token)


async def test_invalid_grant_is_one_typed_refusal_with_mp_code_and_trace_id(
    emulator: EmulatorWorld, http: httpx.AsyncClient
) -> None:
    await emulator.set_faults({"path": "/token", "kind": "latency", "latency_ms": 0})
    events: list[TokenEvent] = []
    grants = admin_grants(emulator, issuer="https://test.maskinporten.no/")  # wrong aud
    exchange = TokenExchange(http, TOKEN_ENDPOINT, grants, policy=NO_WAITS, observer=events.append)
    with pytest.raises(TokenRefusedError) as caught:
        await exchange.run()
    refused = caught.value
    assert (refused.status, refused.error, refused.mp_code) == (400, "invalid_grant", "MP-110")
    assert refused.error_uri is not None
    assert refused.error_uri.endswith("/errors/MP-110")
    assert refused.trace_id
    assert refused.description is not None
    assert refused.description.endswith(f"(trace_id: {refused.trace_id})")
    assert (
        refused.summary == "Invalid assertion. Client authentication failed. Invalid JWT claim aud"
    )
    assert refused.hint == "see `mpctl explain MP-110`"
    assert str(refused) == (
        f"POST /token → 400: {refused.summary} (correlation id {refused.trace_id})"
    )
    assert exchange.attempts == 1  # a refusal is never retried
    assert await emulator.fault_counts() == [(1, 1)]
    last = events[-1]
    assert (last.event, last.outcome, last.http_status, last.mp_code) == (
        "token_request_exhausted",
        "client_error",
        400,
        "MP-110",
    )
    assert_no_secret(shown(refused) + repr(events), grants)


async def test_a_5xx_is_retried_under_the_one_policy_then_succeeds(
    emulator: EmulatorWorld, http: httpx.AsyncClient
) -> None:
    await emulator.set_faults({"path": "/token", "kind": "error", "status": 503, "max_hits": 1})
    events: list[TokenEvent] = []
    notices: list[RetryNotice] = []
    policy = RetryPolicy(wait_initial=0.0, wait_max=0.0, wait_jitter=0.0, on_retry=notices.append)
    grants = admin_grants(emulator)
    exchange = TokenExchange(http, TOKEN_ENDPOINT, grants, policy=policy, observer=events.append)
    issued = await exchange.run()
    assert issued.access_token.get_secret_value()
    assert exchange.attempts == 2
    assert len(set(grants.signed)) == 2  # every attempt signs a fresh grant
    assert [(e.event, e.attempt, e.reason_code, e.http_status) for e in events] == [
        ("token_request_start", 0, None, None),
        ("token_request_retry", 1, "server_error", 503),
        ("token_request_success", 2, None, None),
    ]
    assert [(n.method, n.path, n.attempt, n.reason) for n in notices] == [
        ("POST", "/token", 1, "status 503")
    ]


async def test_5xx_every_time_ends_with_the_last_server_error(
    emulator: EmulatorWorld, http: httpx.AsyncClient
) -> None:
    await emulator.set_faults({"path": "/token", "kind": "error", "status": 502})
    events: list[TokenEvent] = []
    grants = admin_grants(emulator)
    exchange = TokenExchange(http, TOKEN_ENDPOINT, grants, policy=NO_WAITS, observer=events.append)
    with pytest.raises(ServerError) as caught:
        await exchange.run()
    assert (caught.value.status, exchange.attempts) == (502, 4)
    assert (events[-1].outcome, events[-1].reason_code) == ("exhausted", "server_error")
    assert_no_secret(shown(caught.value), grants)


async def test_transport_error_is_retried_then_raised_without_the_grant(
    emulator: EmulatorWorld, http: httpx.AsyncClient
) -> None:
    events: list[TokenEvent] = []
    grants = admin_grants(emulator)
    exchange = TokenExchange(
        http, REFUSING_ENDPOINT, grants, policy=NO_WAITS, observer=events.append
    )
    with pytest.raises(TransportError) as caught:
        await exchange.run()
    failure = caught.value
    assert (failure.sent, failure.method, failure.path) == (False, "POST", "/token")
    assert exchange.attempts == 4
    assert [e.reason_code for e in events if e.event == "token_request_retry"] == [
        "network_error"
    ] * 3
    assert (events[-1].outcome, events[-1].reason_code) == ("exhausted", "network_error")
    assert failure.__context__ is None  # no httpx exception (holding the request) kept
    assert_no_secret(shown(failure), grants)


def test_signing_key_never_shows_its_key(emulator: EmulatorWorld) -> None:
    key = load_admin_credential(emulator.environment.admin, emulator.workdir, {})  # type: ignore[arg-type]
    signer = SigningKey(key.private_key, x5c=key.x5c)
    pem = (emulator.workdir / "admin.key").read_text()
    body = "".join(pem.splitlines()[1:-1])
    for text in (repr(signer), str(signer), f"{signer}"):
        assert body[:40] not in text
        assert "redacted" in text
    with pytest.raises(TypeError, match="not picklable"):
        signer.__reduce__()
