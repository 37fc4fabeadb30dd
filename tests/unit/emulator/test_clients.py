"""Client endpoints: emulator switches, supplier mode, ownership and secrets."""

from __future__ import annotations

import pytest

from mpctl.emulator import Switches

from .conftest import EmulatorFactory, Harness
from .worlds import ACME, CUSTOMER, DELEGATED, client_body

SUPPLIER = ["idporten:dcr.supplier"]


async def test_create_status_is_200_by_default_and_201_by_switch(
    make_emulator: EmulatorFactory,
) -> None:
    for switches, expected in ((None, 200), (Switches(create_client_status=201), 201)):
        emu = await make_emulator(switches=switches)
        response = await emu.api("POST", "/clients", json=client_body(["altinn:instances.read"]))
        assert response.status_code == expected


async def test_client_ids_follow_the_seed(make_emulator: EmulatorFactory) -> None:
    ids = []
    for seed in (7, 7, 8):
        emu = await make_emulator(seed=seed)
        ids.append((await emu.register_client(["altinn:instances.read"]))["client_id"])
    assert ids[0] == ids[1]
    assert ids[0] != ids[2]


async def test_unknown_fields_are_ignored(emu: Harness) -> None:
    created = await emu.register_client(["altinn:instances.read"], favourite_colour="blue")
    assert "favourite_colour" not in created


async def test_supplier_creates_clients_for_other_orgs(emu: Harness) -> None:
    request = client_body([DELEGATED], client_orgno=CUSTOMER)
    response = await emu.api(
        "POST", "/clients", json=request, scopes=SUPPLIER, admin="acme-supplier"
    )
    assert response.status_code == 200, response.text
    created = response.json()
    assert (created["client_orgno"], created["supplier_orgno"]) == (CUSTOMER, ACME)
    listed = await emu.api("GET", "/clients", scopes=SUPPLIER, admin="acme-supplier")
    assert [c["client_id"] for c in listed.json()] == [created["client_id"]]
    own_view = await emu.api("GET", "/clients")
    assert created["client_id"] not in {c["client_id"] for c in own_view.json()}
    path = f"/clients/{created['client_id']}"
    assert (await emu.api("GET", path)).status_code == 404
    assert (await emu.api("GET", path, scopes=SUPPLIER, admin="acme-supplier")).status_code == 200
    deleted = await emu.api("DELETE", path, scopes=SUPPLIER, admin="acme-supplier")
    assert deleted.status_code == 200


async def test_supplier_scope_rules_use_the_client_org(emu: Harness) -> None:
    request = client_body(["brreg:private"], client_orgno=CUSTOMER)
    response = await emu.api(
        "POST", "/clients", json=request, scopes=SUPPLIER, admin="acme-supplier"
    )
    assert response.status_code == 400


async def test_other_orgs_need_the_supplier_scope(emu: Harness) -> None:
    request = client_body([DELEGATED], client_orgno=CUSTOMER)
    assert (await emu.api("POST", "/clients", json=request)).status_code == 403


@pytest.mark.parametrize("orgno", ["923456784", "987654325"])
async def test_supplier_client_org_must_be_known_and_valid(emu: Harness, orgno: str) -> None:
    request = client_body(["brreg:open"], client_orgno=orgno)
    response = await emu.api(
        "POST", "/clients", json=request, scopes=SUPPLIER, admin="acme-supplier"
    )
    assert response.status_code == 400


async def test_other_orgs_clients_are_invisible(emu: Harness) -> None:
    theirs = await emu.api(
        "POST", "/clients", json=client_body(["brreg:open"]), admin="brreg-admin"
    )
    path = f"/clients/{theirs.json()['client_id']}"
    assert (await emu.api("GET", path)).status_code == 404
    assert (await emu.api("PUT", path, json=client_body(["brreg:open"]))).status_code == 404
    assert (await emu.api("DELETE", path)).status_code == 404
    assert (await emu.api("GET", f"{path}/jwks")).status_code == 404
    assert (await emu.api("GET", "/clients")).json() == []


async def test_admin_clients_are_never_shown(emu: Harness) -> None:
    assert (await emu.api("GET", "/clients/acme-admin")).status_code == 404
    assert (await emu.api("GET", "/clients", params={"inactive": "true"})).json() == []


async def test_dcr_modify_allows_put_but_not_post(emu: Harness) -> None:
    created = await emu.register_client(["altinn:instances.read"])
    modify = ["idporten:dcr.modify"]
    path = f"/clients/{created['client_id']}"
    changed = client_body(["altinn:instances.read"], description="modified")
    assert (await emu.api("PUT", path, json=changed, scopes=modify)).status_code == 200
    assert (await emu.api("POST", "/clients", json=changed, scopes=modify)).status_code == 403
    assert (await emu.api("DELETE", path, scopes=modify)).status_code == 403


async def test_put_cannot_move_a_client_to_another_org(emu: Harness) -> None:
    created = await emu.register_client(["altinn:instances.read"])
    moved = client_body(["altinn:instances.read"], client_orgno=CUSTOMER)
    response = await emu.api("PUT", f"/clients/{created['client_id']}", json=moved)
    assert response.status_code == 400


async def test_deleted_clients_cannot_be_changed(emu: Harness) -> None:
    created = await emu.register_client(["altinn:instances.read"])
    path = f"/clients/{created['client_id']}"
    await emu.api("DELETE", path)
    assert (
        await emu.api("PUT", path, json=client_body(["altinn:instances.read"]))
    ).status_code == 404
    assert (await emu.api("DELETE", path)).status_code == 200


async def test_secret_clients_see_their_secret_once(emu: Harness) -> None:
    request = {
        "integration_type": "api_klient",
        "description": "secret based",
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"],
        "scopes": ["brreg:open"],
    }
    created = (await emu.api("POST", "/clients", json=request)).json()
    assert len(created["client_secret"]) >= 32
    path = f"/clients/{created['client_id']}"
    assert "client_secret" not in (await emu.api("GET", path)).json()
    rotated = (await emu.api("POST", f"{path}/secret")).json()
    assert rotated["client_secret"] != created["client_secret"]


async def test_private_key_jwt_clients_have_no_secret_to_rotate(emu: Harness) -> None:
    created = await emu.register_client(["altinn:instances.read"])
    response = await emu.api("POST", f"/clients/{created['client_id']}/secret")
    assert response.status_code == 400


async def test_legacy_root_paths_follow_the_switch(make_emulator: EmulatorFactory) -> None:
    on = await make_emulator()
    off = await make_emulator(switches=Switches(legacy_root_paths=False))
    for emu, expected in ((on, 200), (off, 404)):
        headers = await emu.admin_headers()
        assert (await emu.http.get("/clients", headers=headers)).status_code == expected
        assert (await emu.http.get("/clients/", headers=headers)).status_code == expected
        assert (await emu.http.get("/scopes/all")).status_code == expected
        assert (await emu.http.get("/delegationsources")).status_code == 200


async def test_error_text_separator_switch(make_emulator: EmulatorFactory) -> None:
    for switches, expected in ((None, ", "), (Switches(error_text_leading_separator=False), "")):
        emu = await make_emulator(switches=switches)
        response = await emu.api("GET", "/clients/unknown")
        assert response.json()["error"] == f"{expected}No client with client_id unknown"


async def test_listing_is_ordered_by_creation(emu: Harness) -> None:
    first = await emu.register_client(["altinn:instances.read"])
    emu.clock.advance(1)
    second = await emu.register_client(["altinn:instances.read"])
    listed = (await emu.api("GET", "/clients")).json()
    assert [c["client_id"] for c in listed] == [first["client_id"], second["client_id"]]


async def test_invalid_json_body_is_400(emu: Harness) -> None:
    response = await emu.api("POST", "/clients", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["errorMessage"] == "Request body is not valid JSON"


async def test_wrongly_typed_fields_are_field_errors(emu: Harness) -> None:
    request = client_body(
        ["altinn:instances.read"], access_token_lifetime="120", integration_type="x"
    )
    response = await emu.api("POST", "/clients", json=request)
    fields = {e["fieldIdentifier"] for e in response.json()["errors"]}
    assert {"access_token_lifetime", "integration_type"} <= fields
