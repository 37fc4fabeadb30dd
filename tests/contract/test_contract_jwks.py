"""Contract: client keys (`/clients/{id}/jwks`), reference §4."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from .digdir_http import DigdirTarget, public_jwk
from .test_contract_clients import V1_TIMESTAMP, field_errors

ONE_YEAR = 365 * 24 * 3600


@pytest.fixture
async def client_id(target: DigdirTarget, own_scope: str) -> str:
    return str((await target.create_client([own_scope]))["client_id"])


async def post_keys(target: DigdirTarget, client_id: str, keys: list[Any]) -> Any:
    return await target.call("POST", f"clients/{client_id}/jwks", json={"keys": keys})


async def test_post_returns_the_set_with_expiry(
    target: DigdirTarget, client_id: str, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    before = int(time.time())
    response = await post_keys(target, client_id, [public_jwk(client_keys[0], "contract-1")])
    assert response.status_code == 200, response.text
    body = response.json()
    assert [key["kid"] for key in body["keys"]] == ["contract-1"]
    assert before + ONE_YEAR - 5 <= body["keys"][0]["exp"] <= int(time.time()) + ONE_YEAR + 5
    assert V1_TIMESTAMP.match(body["created"])
    assert V1_TIMESTAMP.match(body["last_updated"])
    again = await target.call("GET", f"clients/{client_id}/jwks")
    assert again.json() == body


async def test_post_replaces_the_whole_set(
    target: DigdirTarget, client_id: str, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    await post_keys(target, client_id, [public_jwk(client_keys[0], "first")])
    response = await post_keys(target, client_id, [public_jwk(client_keys[1], "second")])
    assert [key["kid"] for key in response.json()["keys"]] == ["second"]


async def test_put_replaces_the_whole_set_too(
    target: DigdirTarget, client_id: str, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    await post_keys(target, client_id, [public_jwk(client_keys[0], "first")])
    keys = [public_jwk(client_keys[1], "second"), public_jwk(client_keys[2], "third")]
    response = await target.call("PUT", f"clients/{client_id}/jwks", json={"keys": keys})
    assert response.status_code == 200, response.text
    assert [key["kid"] for key in response.json()["keys"]] == ["second", "third"]


async def test_delete_removes_every_key(
    target: DigdirTarget, client_id: str, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    await post_keys(target, client_id, [public_jwk(client_keys[0], "first")])
    assert (await target.call("DELETE", f"clients/{client_id}/jwks")).status_code == 200
    assert (await target.call("GET", f"clients/{client_id}/jwks")).json()["keys"] == []


async def test_a_shorter_exp_is_honoured(
    target: DigdirTarget, client_id: str, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    wanted = int(time.time()) + 90 * 24 * 3600
    response = await post_keys(target, client_id, [public_jwk(client_keys[0], "k", exp=wanted)])
    assert response.json()["keys"][0]["exp"] == wanted


async def test_exp_is_never_more_than_a_year_away(
    target: DigdirTarget, client_id: str, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    too_late = int(time.time()) + 2 * ONE_YEAR
    response = await post_keys(target, client_id, [public_jwk(client_keys[0], "k", exp=too_late)])
    if response.status_code == 200:
        assert response.json()["keys"][0]["exp"] <= int(time.time()) + ONE_YEAR + 5
    else:
        assert response.status_code == 400


async def test_at_most_five_keys(
    target: DigdirTarget, client_id: str, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    five = [public_jwk(client_keys[i % 3], f"k{i}") for i in range(5)]
    assert (await post_keys(target, client_id, five)).status_code == 200
    six = [public_jwk(client_keys[i % 3], f"k{i}") for i in range(6)]
    response = await post_keys(target, client_id, six)
    assert response.status_code == 400
    kids = [
        key["kid"] for key in (await target.call("GET", f"clients/{client_id}/jwks")).json()["keys"]
    ]
    assert kids == [f"k{i}" for i in range(5)]


async def test_empty_set_must_be_deleted_not_posted(target: DigdirTarget, client_id: str) -> None:
    assert (await post_keys(target, client_id, [])).status_code == 400


def _small_key_jwk() -> dict[str, Any]:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return public_jwk(small, "small")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"use": None}, "keys[0].use"),
        ({"use": "enc"}, "keys[0].use"),
        ({"kty": "EC"}, "keys[0].kty"),
        ({"alg": "HS256"}, "keys[0].alg"),
        ({"alg": "ES256"}, "keys[0].alg"),
        ({"kid": "has space"}, "keys[0].kid"),
        ({"kid": "slash/kid"}, "keys[0].kid"),
        ({"kid": None}, "keys[0].kid"),
        ({"e": None}, "keys[0].e"),
        ({"n": None}, "keys[0].n"),
        ({"d": "AQAB"}, "keys[0].d"),
        ({"p": "AQAB"}, "keys[0].p"),
        ({"k": "AQAB"}, "keys[0].k"),
    ],
)
async def test_each_key_is_checked(
    target: DigdirTarget,
    client_id: str,
    client_keys: list[rsa.RSAPrivateKey],
    change: dict[str, Any],
    field: str,
) -> None:
    key = {**public_jwk(client_keys[0], "k"), **change}
    key = {name: value for name, value in key.items() if value is not None}
    response = await post_keys(target, client_id, [key])
    assert response.status_code == 400
    if target.name == "emulator":
        assert field in field_errors(response.json())


async def test_rsa_keys_below_2048_bits_are_rejected(target: DigdirTarget, client_id: str) -> None:
    response = await post_keys(target, client_id, [_small_key_jwk()])
    assert response.status_code == 400


async def test_duplicate_kid_in_one_set_is_rejected(
    target: DigdirTarget, client_id: str, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    keys = [public_jwk(client_keys[0], "same"), public_jwk(client_keys[1], "same")]
    assert (await post_keys(target, client_id, keys)).status_code == 400


async def test_larger_keys_and_other_rs_algorithms_are_fine(
    target: DigdirTarget, client_id: str, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    keys = [
        public_jwk(client_keys[0], "rs384", alg="RS384"),
        public_jwk(client_keys[1], "rs512", alg="RS512"),
    ]
    assert (await post_keys(target, client_id, keys)).status_code == 200


async def test_keys_of_unknown_clients_are_404(
    target: DigdirTarget, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (await target.call("GET", f"clients/{unknown}/jwks")).status_code == 404
    response = await post_keys(target, unknown, [public_jwk(client_keys[0], "k")])
    assert response.status_code == 404
