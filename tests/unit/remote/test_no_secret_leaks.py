"""No secret (admin private key, signed grant, admin token) in any error text, repr or log line.

A hostile server echoes everything it receives (the grant, the bearer token) plus the admin's
private key into its error bodies; nothing of that may survive into what mpctl raises or logs.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from mpctl.model import ClientRegistration
from mpctl.model.config import Environment
from mpctl.remote import (
    AdminTokenError,
    AmbiguousWriteError,
    BadRequest,
    HttpRemote,
    RemoteCallError,
    RetryPolicy,
    ServerError,
    open_remote,
)
from tests.unit.remote.conftest import KeyPair

PLANTED_TOKEN = (
    "eyJhbGciOiJSUzI1NiJ9.eyJzY29wZSI6InBsYW50ZWQtYWRtaW4tdG9rZW4ifQ"
    ".UExBTlRFRC1TSUdOQVRVUkUtVkFMVUUtMTIzNDU2Nzg5MA"
)
ENVIRONMENT = Environment.model_validate(
    {
        "api_base_url": "https://api.hostile.test/api/v1",
        "issuer": "https://hostile.test/",
        "token_endpoint": "https://hostile.test/token",
        "admin": {"client_id": "acme-admin", "private_key": {"env": "KEY"}, "kid": "admin-1"},
    }
)
Handler = Callable[[httpx.Request], httpx.Response]


class Secrets:
    def __init__(self, pair: KeyPair) -> None:
        self.pair = pair
        self.grants: list[str] = []

    def values(self) -> list[str]:
        der = self.pair.private_der_b64
        pem_line = self.pair.private_pem.decode().splitlines()[1]
        return [PLANTED_TOKEN, *self.grants, der[40:80], der[-80:-40], pem_line]

    def assert_absent(self, *texts: str) -> None:
        for text in texts:
            for secret in self.values():
                assert secret not in text


def _issue_planted_token(secrets: Secrets, request: httpx.Request) -> httpx.Response:
    secrets.grants.append(parse_qs(request.content.decode())["assertion"][0])
    return httpx.Response(200, json={"access_token": PLANTED_TOKEN, "expires_in": 120})


def _echo_everything(secrets: Secrets, api_status: int) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return _issue_planted_token(secrets, request)
        echoed = {
            "correlation_id": "c0ffee",
            "errors": [{"errorMessage": f"bad {request.headers['authorization']}"}],
            "error_description": secrets.pair.private_pem.decode(),
            "request": request.content.decode(),
        }
        return httpx.Response(api_status, json=echoed)

    return handle


def _refuse_grant(secrets: Secrets) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        grant = parse_qs(request.content.decode())["assertion"][0]
        secrets.grants.append(grant)
        body = {
            "error": "invalid_grant",
            "error_description": f"Invalid assertion {grant} key {secrets.pair.private_pem!r}",
            "error_uri": "https://test.maskinporten.no/errors/MP-124",
        }
        return httpx.Response(400, json=body)

    return handle


def _time_out_writes(secrets: Secrets) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return _issue_planted_token(secrets, request)
        raise httpx.ReadTimeout(f"timed out; {request.headers['authorization']}", request=request)

    return handle


def _everything_shown(exc: BaseException) -> list[str]:
    shown = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, RemoteCallError):
        shown += [exc.body_excerpt or "", exc.hint or "", exc.summary]
    return shown


@pytest.fixture
def secrets(admin_pair: KeyPair) -> Secrets:
    return Secrets(admin_pair)


async def _create(remote: HttpRemote) -> object:
    return await remote.create_client(
        ClientRegistration.model_validate({"description": "x", "scopes": ["acme:a"]})
    )


async def _list(remote: HttpRemote) -> object:
    return await remote.list_clients()


@pytest.mark.parametrize(
    ("make_handler", "call", "expected"),
    [
        (lambda s: _echo_everything(s, 400), _create, BadRequest),
        (lambda s: _echo_everything(s, 503), _list, ServerError),
        (lambda s: _echo_everything(s, 503), _create, AmbiguousWriteError),
        (_refuse_grant, _list, AdminTokenError),
        (_time_out_writes, _create, AmbiguousWriteError),
    ],
)
@pytest.mark.usefixtures("no_waits")
async def test_planted_secrets_appear_nowhere(
    make_handler: Callable[[Secrets], Handler],
    call: Callable[[HttpRemote], Awaitable[object]],
    expected: type[Exception],
    secrets: Secrets,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = httpx.MockTransport(make_handler(secrets))
    environ = {"KEY": secrets.pair.private_pem.decode()}
    with pytest.raises(expected) as caught:
        async with open_remote(
            ENVIRONMENT, base_dir=Path("."), environ=environ, transport=transport
        ) as remote:
            await call(remote)
    assert secrets.grants, "the test must have made a grant to plant"
    secrets.assert_absent(*_everything_shown(caught.value))
    logged = [
        f"{record.getMessage()} {json.dumps(record.__dict__, default=repr)}"
        for record in caplog.records
    ]
    secrets.assert_absent(*logged)


async def test_remote_and_its_parts_show_no_secret_in_repr(secrets: Secrets) -> None:
    transport = httpx.MockTransport(_echo_everything(secrets, 400))
    environ = {"KEY": secrets.pair.private_pem.decode()}
    async with open_remote(
        ENVIRONMENT,
        base_dir=Path("."),
        environ=environ,
        transport=transport,
        retry=RetryPolicy.without_waits(),
    ) as remote:
        with pytest.raises(BadRequest):
            await remote.list_clients()
        shown = [repr(remote), repr(remote._auth), repr(remote.__dict__)]
    secrets.assert_absent(*shown)
