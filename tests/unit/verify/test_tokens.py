"""Token exchange against the real emulator (in-process): outcomes, retries, events, claims."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import stamina
from pydantic import SecretStr

from mpctl.emulator import EmulatorSettings, create_app
from mpctl.remote import TOKEN_RETRY, GrantRequest, RetryPolicy, fresh_grants
from mpctl.secrets import PrivateKey
from mpctl.verify import (
    ExpectedClaims,
    RecordingObserver,
    TokenResult,
    VerifyError,
    fetch_issuer_keys,
    request_token,
    signing_key,
    verify_token,
)
from tests.unit.verify.emulator_world import (
    ALTINN_TT02,
    CLIENT_ID,
    CONSUMER,
    DELEGATED_SCOPE,
    ISSUER,
    OWN_SCOPE,
    STRANGER,
    SUPPLIER,
    TOKEN_ENDPOINT,
    write_world,
)

OWN = GrantRequest(client_id=CLIENT_ID, issuer=ISSUER, scopes=(OWN_SCOPE,))
DELEGATED = GrantRequest(
    client_id=CLIENT_ID, issuer=ISSUER, scopes=(DELEGATED_SCOPE,), consumer_org=CONSUMER
)


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    """stamina's test mode: no sleeping; attempts stay capped by our own budget."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@pytest.fixture
async def http(tmp_path: Path, key: PrivateKey) -> AsyncIterator[httpx.AsyncClient]:
    settings = EmulatorSettings(world=write_world(tmp_path, key), control_enabled=True)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield client


async def set_faults(http: httpx.AsyncClient, *rules: dict[str, object]) -> None:
    faults = [{"path": "/token", "methods": ["POST"], **rule} for rule in rules]
    response = await http.put("/_emulator/faults", json={"faults": faults})
    assert response.status_code == 200, response.text


async def token_requests_seen(http: httpx.AsyncClient) -> int:
    response = await http.get("/_emulator/faults")
    return int(response.json()["faults"][0]["seen"])


async def mint(
    http: httpx.AsyncClient,
    key: PrivateKey,
    request: GrantRequest = OWN,
    observer: RecordingObserver | None = None,
    policy: RetryPolicy = TOKEN_RETRY,
) -> TokenResult:
    return await request_token(
        http,
        TOKEN_ENDPOINT,
        fresh_grants(signing_key(key), request),
        policy=policy,
        observer=observer or RecordingObserver(),
        client="billing",
    )


def events(observer: RecordingObserver) -> list[tuple[str, int, str | None]]:
    return [(e.event, e.attempt, e.outcome or e.reason_code) for e in observer.events]


async def test_own_token_and_its_claims(http: httpx.AsyncClient, key: PrivateKey) -> None:
    observer = RecordingObserver()
    result = await mint(http, key, observer=observer)
    assert (result.outcome, result.attempts, result.scope) == ("success", 1, OWN_SCOPE)
    assert result.access_token is not None
    assert events(observer) == [
        ("token_request_start", 0, None),
        ("token_request_success", 1, None),
    ]
    assert observer.events[1].duration_ms is not None
    assert all(e.client == "billing" for e in observer.events)
    expected = ExpectedClaims(ISSUER, (OWN_SCOPE,), SUPPLIER, client_id=CLIENT_ID)
    assert await verify_token(http, result.access_token, expected) == []


async def test_delegated_token_and_its_claims(http: httpx.AsyncClient, key: PrivateKey) -> None:
    result = await mint(http, key, DELEGATED)
    assert result.access_token is not None
    expected = ExpectedClaims(
        ISSUER, (DELEGATED_SCOPE,), SUPPLIER, CLIENT_ID, CONSUMER, delegation_source=ALTINN_TT02
    )
    assert await verify_token(http, result.access_token, expected) == []
    wrong = ExpectedClaims(ISSUER, (DELEGATED_SCOPE,), SUPPLIER, consumer_org=STRANGER)
    failures = await verify_token(http, result.access_token, wrong)
    assert [f.claim for f in failures] == ["consumer"]


async def test_a_token_not_from_the_issuer_fails_the_check(
    http: httpx.AsyncClient, key: PrivateKey
) -> None:
    forged = fresh_grants(
        signing_key(key), OWN
    )()  # a JWT, but signed by the client, not by Maskinporten
    expected = ExpectedClaims(ISSUER, (OWN_SCOPE,), SUPPLIER)
    assert [f.claim for f in await verify_token(http, forged, expected)] == ["kid"]


@pytest.mark.parametrize(
    ("request_", "entry", "status"),
    [
        (GrantRequest(CLIENT_ID, ISSUER, ("acme:unknown",)), "MP-200", 400),
        (GrantRequest("no-such-client", ISSUER, (OWN_SCOPE,)), "MP-100", 400),
        (GrantRequest(CLIENT_ID, "https://test.maskinporten.no/", (OWN_SCOPE,)), "MP-110", 400),
        (GrantRequest(CLIENT_ID, ISSUER, (DELEGATED_SCOPE,), consumer_org=STRANGER), "MP-251", 403),
        (GrantRequest(CLIENT_ID, ISSUER, (DELEGATED_SCOPE,)), "MP-250", 403),
    ],
)
async def test_client_errors_are_explained_and_never_retried(
    http: httpx.AsyncClient, key: PrivateKey, request_: GrantRequest, entry: str, status: int
) -> None:
    await set_faults(http, {"kind": "latency", "latency_ms": 0})
    observer = RecordingObserver()
    result = await mint(http, key, request_, observer)
    assert (result.outcome, result.attempts, result.http_status) == ("client_error", 1, status)
    assert result.error is not None
    assert result.error.diagnosis.best is not None
    assert result.error.diagnosis.best.id == entry
    assert result.error.diagnosis.trace_id
    assert events(observer) == [
        ("token_request_start", 0, None),
        ("token_request_exhausted", 1, "client_error"),
    ]
    assert observer.events[-1].mp_code == entry
    assert await token_requests_seen(http) == 1


async def test_unknown_kid(http: httpx.AsyncClient, other_key: PrivateKey) -> None:
    result = await mint(http, other_key)
    assert result.error is not None
    assert result.error.diagnosis.best is not None
    assert result.error.diagnosis.best.id == "unknown-kid"


async def test_every_attempt_signs_a_fresh_grant(http: httpx.AsyncClient, key: PrivateKey) -> None:
    grant = fresh_grants(signing_key(key), OWN)()

    def same_grant() -> SecretStr:
        return grant

    first = await request_token(http, TOKEN_ENDPOINT, same_grant)
    again = await request_token(http, TOKEN_ENDPOINT, same_grant)
    assert first.outcome == "success"
    assert again.error is not None
    assert again.error.diagnosis.best is not None
    assert again.error.diagnosis.best.id == "MP-012"


async def test_one_5xx_then_success(http: httpx.AsyncClient, key: PrivateKey) -> None:
    await set_faults(http, {"kind": "error", "status": 503, "max_hits": 1})
    observer = RecordingObserver()
    result = await mint(http, key, observer=observer)
    assert (result.outcome, result.attempts) == ("success", 2)
    assert events(observer) == [
        ("token_request_start", 0, None),
        ("token_request_retry", 1, "server_error"),
        ("token_request_success", 2, None),
    ]
    assert observer.events[1].http_status == 503


async def test_5xx_until_the_budget_is_exhausted(http: httpx.AsyncClient, key: PrivateKey) -> None:
    await set_faults(http, {"kind": "error", "status": 502})
    observer = RecordingObserver()
    result = await mint(http, key, observer=observer)
    assert (result.outcome, result.attempts, result.http_status) == ("exhausted", 4, 502)
    assert result.access_token is None
    assert events(observer) == [
        ("token_request_start", 0, None),
        ("token_request_retry", 1, "server_error"),
        ("token_request_retry", 2, "server_error"),
        ("token_request_retry", 3, "server_error"),
        ("token_request_exhausted", 4, "exhausted"),
    ]
    assert await token_requests_seen(http) == 4


async def test_429_retry_after_is_honoured(http: httpx.AsyncClient, key: PrivateKey) -> None:
    await set_faults(http, {"kind": "rate_limit", "retry_after": 7, "max_hits": 2})
    observer = RecordingObserver()
    result = await mint(http, key, observer=observer)
    assert (result.outcome, result.attempts) == ("success", 3)
    retries = [e for e in observer.events if e.event == "token_request_retry"]
    assert [(e.reason_code, e.wait_s, e.http_status) for e in retries] == [
        ("rate_limited", 7.0, 429),
        ("rate_limited", 7.0, 429),
    ]


async def test_retry_after_beyond_the_budget_stops(
    http: httpx.AsyncClient, key: PrivateKey
) -> None:
    await set_faults(http, {"kind": "rate_limit", "retry_after": 600})
    result = await mint(http, key)
    assert (result.outcome, result.attempts, result.reason_code) == ("exhausted", 1, "rate_limited")


async def test_dropped_connection_is_retried(http: httpx.AsyncClient, key: PrivateKey) -> None:
    await set_faults(http, {"kind": "drop", "max_hits": 2})
    observer = RecordingObserver()
    result = await mint(http, key, observer=observer)
    assert (result.outcome, result.attempts) == ("success", 3)
    assert [e.reason_code for e in observer.events if e.reason_code] == [
        "network_error",
        "network_error",
    ]


async def test_dropped_every_time_is_exhausted(http: httpx.AsyncClient, key: PrivateKey) -> None:
    await set_faults(http, {"kind": "drop"})
    result = await mint(http, key)
    assert (result.outcome, result.attempts, result.reason_code) == (
        "exhausted",
        4,
        "network_error",
    )


async def test_total_deadline_bounds_the_retries(http: httpx.AsyncClient, key: PrivateKey) -> None:
    await set_faults(http, {"kind": "rate_limit", "retry_after": 5})
    policy = RetryPolicy(timeout=12.0, max_retry_after=30.0, wait_jitter=0.0)
    result = await mint(http, key, policy=policy)
    # Two waits of 5 s fit in a 12 s budget, a third does not (test mode never really sleeps,
    # so this is the committed Retry-After time counting against the deadline).
    assert (result.outcome, result.attempts) == ("exhausted", 3)


async def test_issuer_keys_fetch_retries_then_explains(http: httpx.AsyncClient) -> None:
    rules = [{"path": "/jwk", "kind": "error", "status": 503, "max_hits": 2}]
    await http.put("/_emulator/faults", json={"faults": rules})
    keys = await fetch_issuer_keys(http, ISSUER)
    assert len(keys.keys) == 1
    await http.put("/_emulator/faults", json={"faults": [{"path": "/jwk", "kind": "drop"}]})
    with pytest.raises(VerifyError, match=r"could not fetch the issuer's keys from .*/jwk"):
        await fetch_issuer_keys(http, ISSUER)
    with pytest.raises(VerifyError, match="HTTP 404"):
        await fetch_issuer_keys(http, ISSUER, jwks_url=f"{ISSUER}nowhere")
