"""A verify run's fixed costs paid once: the issuer's JWKS per run, a private key per process.

Against the real emulator in-process (JWKS requests counted through the call-event seam) and a
real file sink (its loads counted by a pass-through wrapper).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import stamina
from pydantic import SecretStr

from mpctl.emulator import EmulatorSettings, create_app
from mpctl.model import FileSink, KeySlot
from mpctl.remote import CallEvent, GrantRequest, fresh_grants, watch_calls
from mpctl.secrets import FileSecretSink, PrivateKey, SinkContext, ThreadedSink
from mpctl.verify import (
    ExpectedClaims,
    IssuerKeys,
    current_key,
    request_token,
    signing_key,
    verify_token_checks,
)
from mpctl.verify.keycache import forget_keys
from tests.unit.verify.emulator_world import (
    CLIENT_ID,
    ISSUER,
    OWN_SCOPE,
    SUPPLIER,
    TOKEN_ENDPOINT,
    write_world,
)

CREATED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
EXPECTED = ExpectedClaims(issuer=ISSUER, scopes=(OWN_SCOPE,), orgno=SUPPLIER, client_id=CLIENT_ID)


@pytest.fixture(autouse=True)
def no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@pytest.fixture
async def http(tmp_path: Path, key: PrivateKey) -> AsyncIterator[httpx.AsyncClient]:
    settings = EmulatorSettings(world=write_world(tmp_path, key))
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield client


def jwks_calls(http: httpx.AsyncClient) -> list[CallEvent]:
    seen: list[CallEvent] = []
    watch_calls(http, lambda event: seen.append(event) if event.path == "/jwk" else None)
    return seen


async def mint(http: httpx.AsyncClient, key: PrivateKey) -> SecretStr:
    request = GrantRequest(CLIENT_ID, ISSUER, (OWN_SCOPE,))
    result = await request_token(http, TOKEN_ENDPOINT, fresh_grants(signing_key(key), request))
    assert result.access_token is not None
    return result.access_token


async def test_many_checks_in_one_run_fetch_the_jwks_once(
    http: httpx.AsyncClient, key: PrivateKey
) -> None:
    seen = jwks_calls(http)
    keys = IssuerKeys(http)
    tokens = [await mint(http, key) for _ in range(3)]
    verdicts = await asyncio.gather(*(verify_token_checks(keys, t, EXPECTED) for t in tokens))
    assert all(check.ok for checks in verdicts for check in checks)
    assert (len(seen), keys.fetches) == (1, 1)
    assert [c.claim for c in verdicts[0]][:3] == ["signature", "iss", "scope"]


async def test_an_unknown_kid_fetches_the_jwks_once_more_per_run(
    http: httpx.AsyncClient, key: PrivateKey, other_key: PrivateKey
) -> None:
    seen = jwks_calls(http)
    keys = IssuerKeys(http)
    forged = fresh_grants(signing_key(other_key), GrantRequest(CLIENT_ID, ISSUER, (OWN_SCOPE,)))()
    for _ in range(3):
        (check,) = await verify_token_checks(keys, forged, EXPECTED)
        assert (check.claim, check.ok, check.actual) == ("kid", False, other_key.kid)
    assert len(seen) == 2


class CountingSink(ThreadedSink):
    """The real file sink, with its key loads counted."""

    loads = 0

    async def load_private_key(self, client: str, kid: str) -> PrivateKey:
        self.loads += 1
        return await super().load_private_key(client, kid)


@pytest.fixture
def file_sink(tmp_path: Path) -> Iterator[CountingSink]:
    context = SinkContext(
        environment="test",
        base_dir=tmp_path,
        issuer=ISSUER,
        token_endpoint=TOKEN_ENDPOINT,
        environ={},
    )
    forget_keys()
    yield CountingSink(FileSecretSink(FileSink(), context))
    forget_keys()


async def stored(sink: CountingSink, key: PrivateKey) -> KeySlot:
    blocking = sink.blocking
    blocking.stage("billing", key)
    blocking.promote("billing", key.kid, CREATED)
    slot = blocking.read_state("billing").current
    assert slot is not None
    return slot


async def test_a_key_is_parsed_once_per_process(
    file_sink: CountingSink, key: PrivateKey, other_key: PrivateKey
) -> None:
    slot = await stored(file_sink, key)
    first = await current_key(file_sink, "billing", slot)
    again = await current_key(file_sink, "billing", slot)
    assert again is first
    assert first.thumbprint == key.thumbprint
    assert file_sink.loads == 1
    # A rotated key has another kid and thumbprint: loaded afresh, never the old one.
    file_sink.blocking.stage("billing", other_key)
    file_sink.blocking.promote("billing", other_key.kid, CREATED)
    rotated = file_sink.blocking.read_state("billing").current
    assert rotated is not None
    newer = await current_key(file_sink, "billing", rotated)
    assert (newer.kid, newer.thumbprint, file_sink.loads) == (
        other_key.kid,
        other_key.thumbprint,
        2,
    )
