"""Client keys: expiry rules and the switches for the unconfirmed key behaviours."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import Switches

from .conftest import START, EmulatorFactory, Harness
from .worlds import ACME, base_world, client_body, jwk

YEAR = 365 * 24 * 3600


async def new_client(emu: Harness) -> str:
    return str((await emu.register_client(["altinn:instances.read"]))["client_id"])


async def post(emu: Harness, client_id: str, keys: list[dict[str, Any]], **kw: Any) -> Any:
    return await emu.api("POST", f"/clients/{client_id}/jwks", json={"keys": keys}, **kw)


async def test_default_expiry_is_one_year(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    client_id = await new_client(emu)
    response = await post(emu, client_id, [jwk(client_key, "k")])
    assert response.json()["keys"][0]["exp"] == int(START) + YEAR
    assert "registered_at" not in response.json()["keys"][0]


@pytest.mark.parametrize(
    ("mode", "expected_offset"),
    [("reset_when_absent", 1000), ("keep_existing", 0), ("renew_all", 1000)],
)
async def test_repost_without_exp(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey, mode: str, expected_offset: int
) -> None:
    emu = await make_emulator(switches=Switches(key_expiry_on_repost=mode))
    client_id = await new_client(emu)
    await post(emu, client_id, [jwk(client_key, "k")])
    emu.clock.advance(1000)
    response = await post(emu, client_id, [jwk(client_key, "k")])
    assert response.json()["keys"][0]["exp"] == int(START) + YEAR + expected_offset


@pytest.mark.parametrize(("mode", "renewed"), [("reset_when_absent", False), ("renew_all", True)])
async def test_repost_with_exp(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey, mode: str, renewed: bool
) -> None:
    emu = await make_emulator(switches=Switches(key_expiry_on_repost=mode))
    client_id = await new_client(emu)
    short = int(START) + 3600
    response = await post(emu, client_id, [jwk(client_key, "k", exp=short)])
    assert response.json()["keys"][0]["exp"] == (int(START) + YEAR if renewed else short)


async def test_new_material_under_an_old_kid_is_a_new_key(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    emu = await make_emulator(switches=Switches(key_expiry_on_repost="keep_existing"))
    client_id = await new_client(emu)
    await post(emu, client_id, [jwk(client_key, "k")])
    emu.clock.advance(1000)
    response = await post(emu, client_id, [jwk(other_key, "k")])
    assert response.json()["keys"][0]["exp"] == int(START) + YEAR + 1000


async def test_exp_beyond_a_year_is_rejected_or_clamped(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey
) -> None:
    late = int(START) + YEAR + 1
    strict = await make_emulator()
    response = await post(strict, await new_client(strict), [jwk(client_key, "k", exp=late)])
    assert response.status_code == 400
    assert response.json()["errors"][0]["fieldIdentifier"] == "keys[0].exp"
    clamping = await make_emulator(switches=Switches(key_exp_beyond_one_year="clamp"))
    response = await post(clamping, await new_client(clamping), [jwk(client_key, "k", exp=late)])
    assert response.json()["keys"][0]["exp"] == int(START) + YEAR


async def test_exactly_one_year_is_allowed(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    exp = int(START) + YEAR
    response = await post(emu, await new_client(emu), [jwk(client_key, "k", exp=exp)])
    assert response.status_code == 200


@pytest.mark.parametrize("exp", ["1790000000", 1.5e9, True])
async def test_exp_must_be_an_integer(
    emu: Harness, client_key: rsa.RSAPrivateKey, exp: object
) -> None:
    response = await post(emu, await new_client(emu), [jwk(client_key, "k", exp=exp)])
    assert response.status_code == 400


async def test_kid_uniqueness_is_per_client_unless_switched_to_global(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    for switches, expected in ((None, 200), (Switches(kid_uniqueness="global"), 400)):
        emu = await make_emulator(switches=switches)
        theirs = await emu.api(
            "POST", "/clients", json=client_body(["brreg:open"]), admin="brreg-admin"
        )
        their_id = theirs.json()["client_id"]
        await post(emu, their_id, [jwk(client_key, "shared")], admin="brreg-admin")
        response = await post(emu, await new_client(emu), [jwk(other_key, "shared")])
        assert response.status_code == expected


async def test_global_uniqueness_allows_reposting_the_own_set(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey
) -> None:
    emu = await make_emulator(switches=Switches(kid_uniqueness="global"))
    client_id = await new_client(emu)
    assert (await post(emu, client_id, [jwk(client_key, "mine")])).status_code == 200
    assert (await post(emu, client_id, [jwk(client_key, "mine")])).status_code == 200


async def test_old_keys_without_use_come_back_without_use(
    make_emulator: EmulatorFactory, admin_key: rsa.RSAPrivateKey, client_key: rsa.RSAPrivateKey
) -> None:
    world = base_world(admin_key)
    old_key = {k: v for k, v in jwk(client_key, "old-2024").items() if k != "use"}
    world["clients"] = [
        {"client_id": "old-client", "client_orgno": ACME, "description": "registered in 2024",
         "scopes": ["altinn:instances.read"], "jwks": [{**old_key, "use": None}]}
    ]  # fmt: skip
    emu = await make_emulator(world)
    stored = (await emu.api("GET", "/clients/old-client/jwks")).json()["keys"]
    assert "use" not in stored[0]
    unpatched = [{k: v for k, v in stored[0].items() if k != "exp"}]
    assert (await post(emu, "old-client", unpatched)).status_code == 400
    patched = [{**unpatched[0], "use": "sig"}]
    assert (await post(emu, "old-client", patched)).status_code == 200


async def test_put_needs_write_or_modify_and_post_needs_write(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await new_client(emu)
    keys = {"keys": [jwk(client_key, "k")]}
    modify = ["idporten:dcr.modify"]
    path = f"/clients/{client_id}/jwks"
    assert (await emu.api("PUT", path, json=keys, scopes=modify)).status_code == 200
    assert (await emu.api("POST", path, json=keys, scopes=modify)).status_code == 403
    assert (await emu.api("DELETE", path, scopes=modify)).status_code == 403


async def test_x5c_pinning_is_stored(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    client_id = await new_client(emu)
    response = await post(emu, client_id, [jwk(client_key, "k", x5c=["MIIB"])])
    assert response.json()["keys"][0]["x5c"] == ["MIIB"]


async def test_body_must_have_a_keys_array(emu: Harness) -> None:
    client_id = await new_client(emu)
    path = f"/clients/{client_id}/jwks"
    assert (await emu.api("POST", path, json=[{"kid": "k"}])).status_code == 400
    not_an_array = await emu.api("POST", path, json={"keys": {"kid": "k"}})
    assert not_an_array.json()["errors"][0]["fieldIdentifier"] == "keys"
    not_objects = await emu.api("POST", path, json={"keys": ["not an object"]})
    assert not_objects.json()["errors"][0]["fieldIdentifier"] == "keys[0]"


@pytest.mark.parametrize("x5c", ["MIIB", [1, 2]])
async def test_x5c_must_be_an_array_of_strings(
    emu: Harness, client_key: rsa.RSAPrivateKey, x5c: object
) -> None:
    response = await post(emu, await new_client(emu), [jwk(client_key, "k", x5c=x5c)])
    assert response.json()["errors"][0]["fieldIdentifier"] == "keys[0].x5c"


async def test_every_problem_is_reported_at_once(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    bad = {**jwk(client_key, "bad kid"), "use": "enc", "alg": "HS256"}
    response = await post(emu, await new_client(emu), [bad])
    fields = {error["fieldIdentifier"] for error in response.json()["errors"]}
    assert fields == {"keys[0].use", "keys[0].alg", "keys[0].kid"}


async def test_even_exponent_is_rejected(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    response = await post(emu, await new_client(emu), [{**jwk(client_key, "k"), "e": "Ag"}])
    assert response.status_code == 400


async def test_non_base64url_modulus_is_rejected(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    response = await post(emu, await new_client(emu), [{**jwk(client_key, "k"), "n": "a+b/"}])
    assert response.status_code == 400
