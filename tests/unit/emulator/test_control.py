"""The test-only control surface: off by default, reset, dump, clock, world edits."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import START, EmulatorFactory, Harness
from .worlds import ACME, CUSTOMER, DELEGATED, STRANGER


async def test_control_surface_is_off_unless_enabled(make_emulator: EmulatorFactory) -> None:
    emu = await make_emulator(control=False)
    assert (await emu.control("GET", "/state")).status_code == 404
    assert (await emu.control("POST", "/reset")).status_code == 404


async def test_reset_returns_to_the_world_but_keeps_keys(emu: Harness) -> None:
    jwk_before = (await emu.http.get("/jwk")).json()
    await emu.register_client(["altinn:instances.read"])
    await emu.control("POST", "/clock", json={"advance": 3600})
    assert (await emu.control("POST", "/reset")).status_code == 200
    assert (await emu.api("GET", "/clients")).json() == []
    assert (await emu.http.get("/jwk")).json() == jwk_before
    assert (await emu.control("GET", "/clock")).json()["now"] == START


async def test_dump_has_no_private_keys(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    await emu.admin_headers()
    dump = (await emu.control("GET", "/state")).json()
    text = json.dumps(dump)
    assert "PRIVATE KEY" not in text
    assert "private_key_pem" not in text
    assert "used_grants" not in dump
    assert dump["signing_key"]["kid"]
    assert "acme-admin" in dump["clients"]


async def test_clock_advance_and_set(emu: Harness) -> None:
    advanced = (await emu.control("POST", "/clock", json={"advance": 60})).json()
    assert advanced["now"] == START + 60
    assert advanced["iso"].endswith("Z")
    moved = (await emu.control("POST", "/clock", json={"set": START + 7200})).json()
    assert (moved["now"], moved["offset_seconds"]) == (START + 7200, 7200)


async def test_clock_change_needs_exactly_one_instruction(emu: Harness) -> None:
    assert (await emu.control("POST", "/clock", json={})).status_code == 400
    both = {"advance": 1, "set": 2}
    assert (await emu.control("POST", "/clock", json=both)).status_code == 400


async def test_control_clock_expires_keys(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    client = await emu.register_client(["altinn:instances.read"])
    await emu.register_key(client["client_id"], client_key)
    moved = await emu.control("POST", "/clock", json={"advance": 366 * 24 * 3600})
    now = int(moved.json()["now"])
    grant = emu.grant(
        client["client_id"], "altinn:instances.read", client_key, kid="k1", iat=now, exp=now + 60
    )
    response = await emu.token(grant)
    assert response.json()["error_uri"].endswith("MP-121")


async def test_delegations_can_be_added_and_removed(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    await emu.api(
        "PUT", f"/scopes/access/{STRANGER}", params={"scope": DELEGATED}, admin="brreg-admin"
    )
    client = await emu.register_client([DELEGATED])
    await emu.register_key(client["client_id"], client_key)
    delegation = {"consumer_orgno": STRANGER, "supplier_orgno": ACME, "scope": DELEGATED}

    async def status() -> int:
        grant = emu.grant(
            client["client_id"], DELEGATED, client_key, kid="k1", consumer_org=STRANGER
        )
        return (await emu.token(grant)).status_code

    assert await status() == 403
    assert (await emu.control("POST", "/delegations", json=delegation)).status_code == 200
    assert await status() == 200
    assert (await emu.control("DELETE", "/delegations", json=delegation)).status_code == 200
    assert await status() == 403


async def test_delegation_needs_a_delegable_scope(emu: Harness) -> None:
    delegation = {"consumer_orgno": CUSTOMER, "supplier_orgno": ACME, "scope": "brreg:open"}
    assert (await emu.control("POST", "/delegations", json=delegation)).status_code == 400


async def test_organisations_can_be_added(emu: Harness) -> None:
    new_org = {"orgno": "934567897", "name": "Ny Kunde AS"}
    await emu.api("POST", "/scopes", json={"prefix": "acme", "subscope": "x", "description": "x"})
    path = f"/scopes/access/{new_org['orgno']}"
    assert (await emu.api("PUT", path, params={"scope": "acme:x"})).status_code == 400
    assert (await emu.control("POST", "/organisations", json=new_org)).status_code == 200
    assert (await emu.api("PUT", path, params={"scope": "acme:x"})).status_code == 200


async def test_organisation_prefixes_stay_unique(emu: Harness) -> None:
    thief = {"orgno": "934567897", "name": "Tyv AS", "prefixes": ["acme"]}
    assert (await emu.control("POST", "/organisations", json=thief)).status_code == 400
    invalid = {"orgno": "934567898", "name": "Feil AS"}
    assert (await emu.control("POST", "/organisations", json=invalid)).status_code == 400
