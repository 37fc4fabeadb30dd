"""Reading success bodies: tolerant of what real responses look like, never partial.

The emulator always answers well-formed JSON, so the malformed answers here come from a
hand-written transport: a body cut off mid-way, HTML from a proxy, the wrong JSON shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from mpctl.remote import (
    AdminAuth,
    AdminKey,
    AdminTokenSource,
    HttpRemote,
    RemoteApi,
    ResponseFormatError,
    RetryPolicy,
    Unauthorized,
)
from tests.unit.remote.conftest import KeyPair

API = "https://api.test.samarbeid.digdir.no/api/v1"
Call = Callable[[HttpRemote], Awaitable[Any]]


def _remote(handler: Callable[[httpx.Request], httpx.Response]) -> HttpRemote:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpRemote(http, api_base_url=API, auth=None, retry=RetryPolicy.without_waits())


def _answer(status: int, content: bytes) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, content=content)


@pytest.mark.parametrize(
    ("content", "call"),
    [
        (b'[{"client_id": "a", "scopes": ["x"]}, {"client_id": "b", "sco', HttpRemote.list_clients),
        (b"<html><body>Gateway</body></html>", HttpRemote.list_clients),
        (b'{"client_id": "a"}', HttpRemote.list_clients),
        (b'[{"client_id": "a"}, "b"]', HttpRemote.list_clients),
        (b'[{"client_id": "a"}, {"description": "no id"}]', HttpRemote.list_clients),
        (b"", HttpRemote.list_access_all),
        (b'{"keys": {"kid": "k"}}', lambda r: r.get_jwks("a")),
        (b'{"keys": [{"kid": "no-kty"}]}', lambda r: r.get_jwks("a")),
        (b'[{"name": "altinn"}]', HttpRemote.list_delegation_sources),
        (b'[{"scope": "a:b"}]', lambda r: r.list_access("a:b")),
    ],
)
async def test_malformed_success_bodies_are_errors(content: bytes, call: Call) -> None:
    remote = _remote(_answer(200, content))
    with pytest.raises(ResponseFormatError) as caught:
        await call(remote)
    assert caught.value.status == 200
    assert remote.requests_made == 1  # not retried


async def test_tolerant_of_nulls_numbers_and_unknown_fields() -> None:
    body = (
        b'[{"client_id": "a", "scopes": null, "active": null, "client_orgno": 313367002,'
        b' "redirect_uris": null, "some_new_field": {"x": 1},'
        b' "created": "2021-09-15T10:20:43.354+02:00", "last_updated": "2024-01-01T20:00:00.000Z"}]'
    )
    (client,) = await _remote(_answer(200, body)).list_clients()
    assert client.scopes == ()
    assert client.active is True
    assert client.client_orgno == "313367002"
    assert client.created is not None
    assert client.last_updated is not None
    assert client.created.utcoffset() != client.last_updated.utcoffset()


async def test_access_records_missing_their_scope_get_the_one_asked_for() -> None:
    body = b'[{"consumer_orgno": "910753614", "state": "DENIED"}]'
    (record,) = await _remote(_answer(200, body)).list_access("acme:a")
    assert record.scope == "acme:a"
    assert not record.approved


async def test_private_members_in_a_response_are_dropped() -> None:
    body = b'{"keys": [{"kty": "RSA", "kid": "k", "n": "n", "e": "AQAB", "d": "SECRET"}]}'
    jwks = await _remote(_answer(200, body)).get_jwks("a")
    assert "SECRET" not in repr(jwks)


async def test_401_is_refreshed_once_then_unauthorized(admin_pair: KeyPair) -> None:
    """An API that refuses every token: one refresh, one resend, then a typed error."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": f"t{len(seen)}", "expires_in": 120})
        return httpx.Response(401, json={"status": 401, "correlation_id": "c1"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    key = AdminKey(client_id="a", private_key=admin_pair.private_key, scopes=("s",), kid="k")
    tokens = AdminTokenSource(
        key,
        issuer="https://test.maskinporten.no/",
        token_endpoint="https://test.maskinporten.no/token",
        http=http,
        retry=RetryPolicy.without_waits(),
    )
    remote = HttpRemote(http, api_base_url=API, auth=AdminAuth(tokens))
    with pytest.raises(Unauthorized) as caught:
        await remote.list_clients()
    assert seen == ["/token", "/api/v1/clients", "/token", "/api/v1/clients"]
    assert caught.value.correlation_id == "c1"


def test_http_remote_is_a_remote_api() -> None:
    remote: RemoteApi = _remote(_answer(200, b"[]"))
    assert remote is not None
