"""The documented wire format, replayed from the hand-composed vcrpy cassettes.

The emulator answers in its own (faithful) style; these cassettes pin the shapes Digdir's
documentation and real clients show: pre-v1 and v1 timestamps side by side, keys without
`use`, microsecond timestamps, the v1 error body, and Maskinporten's token answers and refusals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
import vcr

from mpctl.model import ClientRegistration
from mpctl.remote import (
    AdminKey,
    AdminTokenError,
    AdminTokenSource,
    BadRequest,
    HttpRemote,
    RetryPolicy,
)
from tests.conftest import REPO
from tests.unit.remote.conftest import KeyPair

CASSETTES = REPO / "tests" / "contract" / "cassettes"
API = "https://api.test.samarbeid.digdir.no/api/v1"
ISSUER = "https://test.maskinporten.no/"
REPLAY = vcr.VCR(
    record_mode="none",
    match_on=("method", "scheme", "host", "port", "path", "query"),
)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def remote(http: httpx.AsyncClient) -> HttpRemote:
    return HttpRemote(http, api_base_url=API, auth=None, retry=RetryPolicy.without_waits())


def _cassette(name: str) -> AbstractContextManager[Any]:
    path = CASSETTES / name
    if not path.exists():  # pragma: no cover - the cassettes are part of the repository
        pytest.fail(f"missing cassette {path}")
    context: AbstractContextManager[Any] = REPLAY.use_cassette(str(path))
    return context


async def test_pre_v1_and_v1_clients_side_by_side(remote: HttpRemote) -> None:
    with _cassette("digdir_clients_list_mixed_timestamps.yaml"):
        legacy, current = await remote.list_clients()
    assert legacy.client_id == "oidc_acme_legacy"
    assert legacy.created is not None
    assert current.created is not None
    assert legacy.created.isoformat() == "2021-09-15T10:20:43.354000+02:00"
    assert current.created.isoformat() == "2025-06-01T10:00:00+00:00"
    assert legacy.access_token_lifetime == 0


async def test_key_registered_before_v1_has_no_use(remote: HttpRemote) -> None:
    with _cassette("digdir_jwks_old_key_without_use.yaml"):
        jwks = await remote.get_jwks("0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10")
    old, new = jwks.keys
    assert (old.kid, old.use, old.exp) == ("billing-sync-2025-03", None, 1759276800)
    assert (new.kid, new.use, new.exp) == ("billing-sync-2025-06", "sig", 1780300800)
    assert jwks.last_updated is not None


async def test_public_scopes_with_microseconds_and_unknown_fields(remote: HttpRemote) -> None:
    with _cassette("digdir_scopes_all_microseconds.yaml"):
        altinn, example = await remote.list_public_scopes()
    assert altinn.last_updated is not None
    assert altinn.last_updated.microsecond == 258551
    assert altinn.at_max_age == 3600
    assert example.delegation_source == "https://tt02.altinn.no/"


async def test_v1_error_body(remote: HttpRemote) -> None:
    body = {"integration_type": "maskinporten", "description": "no scopes", "scopes": []}
    with _cassette("digdir_clients_create_v1_error.yaml"), pytest.raises(BadRequest) as caught:
        await remote.create_client(ClientRegistration.model_validate(body))
    error = caught.value
    assert error.messages == ("A client must have at least one scope",)
    assert error.correlation_id == "b496e785cbd430eee802c1eaafa76f46"
    assert str(error) == (
        "POST /api/v1/clients → 400: A client must have at least one scope "
        "(correlation id b496e785cbd430eee802c1eaafa76f46)"
    )


def _tokens(http: httpx.AsyncClient, pair: KeyPair) -> AdminTokenSource:
    key = AdminKey(client_id="acme-admin", private_key=pair.private_key, scopes=("s",), kid="k")
    return AdminTokenSource(
        key,
        issuer=ISSUER,
        token_endpoint=f"{ISSUER}token",
        http=http,
        retry=RetryPolicy.without_waits(),
    )


async def test_token_answer_is_cached(http: httpx.AsyncClient, admin_pair: KeyPair) -> None:
    tokens = _tokens(http, admin_pair)
    with _cassette("maskinporten_token_success.yaml"):
        first = await tokens.token()
        second = await tokens.token()
    assert first == second
    assert first.startswith("eyJ")
    assert tokens.exchanges == 1


async def test_token_refusals_name_the_mp_code(
    http: httpx.AsyncClient, admin_pair: KeyPair
) -> None:
    tokens = _tokens(http, admin_pair)
    refusals: list[AdminTokenError] = []
    with _cassette("maskinporten_token_errors.yaml"):
        for _ in range(4):
            with pytest.raises(AdminTokenError) as caught:
                await tokens.token()
            refusals.append(caught.value)
    assert [(r.status, r.error, r.mp_code) for r in refusals] == [
        (400, "invalid_grant", "MP-121"),
        (400, "invalid_scope", "MP-200"),
        (403, "forbidden", "MP-250"),
        (400, "invalid_grant", None),
    ]
    assert refusals[0].correlation_id == "356666143081bbec11d293753e9702ca"
    assert refusals[3].correlation_id == "5c1d3f2e-8a7b-4c6d-9e0f-1a2b3c4d5e6f"
    assert refusals[0].hint == "see `mpctl explain MP-121`"
    assert "Expired key" in str(refusals[0])
    assert tokens.exchanges == 4  # refusals are not retried
