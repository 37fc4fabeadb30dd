"""Supplier mode in the emulator: the world's `customers:` limit whom a supplier registers
clients for, the `supplier_clients_with_dcr_read` switch decides whether dcr.read reaches the
clients it supplies, and a supplied client's tokens name the customer as `consumer`."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import Switches
from mpctl.emulator.world import WorldError, parse_world

from .conftest import EmulatorFactory, Harness
from .worlds import ACME, CUSTOMER, STRANGER, base_world, client_body, jwk

SUPPLIER = ["idporten:dcr.supplier"]
OPEN = "brreg:open"


def _with_customers(world: dict[str, Any], customers: list[str]) -> dict[str, Any]:
    for org in world["organisations"]:
        if org["orgno"] == ACME:
            org["customers"] = customers
    return world


async def _supply(emu: Harness, orgno: str) -> Any:
    request = client_body([OPEN], client_orgno=orgno)
    return await emu.api("POST", "/clients", json=request, scopes=SUPPLIER, admin="acme-supplier")


async def test_customers_limit_whom_a_supplier_serves(
    make_emulator: EmulatorFactory, admin_key: rsa.RSAPrivateKey
) -> None:
    emu = await make_emulator(world=_with_customers(base_world(admin_key), [CUSTOMER]))
    assert (await _supply(emu, CUSTOMER)).status_code == 200
    refused = await _supply(emu, STRANGER)
    assert refused.status_code == 403
    assert f"not a supplier for {STRANGER}" in refused.text


async def test_without_customers_any_known_organisation_is_served(emu: Harness) -> None:
    assert (await _supply(emu, STRANGER)).status_code == 200


def test_customers_must_be_known_organisations() -> None:
    world = f'organisations:\n  - {{orgno: "{ACME}", name: A, customers: ["{CUSTOMER}"]}}\n'
    with pytest.raises(WorldError, match=f"customers of {ACME}: unknown organisation"):
        parse_world(world)


@pytest.mark.parametrize(("switch", "visible"), [(False, False), (True, True)])
async def test_dcr_read_reaches_supplied_clients_only_by_switch(
    make_emulator: EmulatorFactory, *, switch: bool, visible: bool
) -> None:
    emu = await make_emulator(switches=Switches(supplier_clients_with_dcr_read=switch))
    client_id = (await _supply(emu, CUSTOMER)).json()["client_id"]
    read = ["idporten:dcr.read"]
    listed = await emu.api("GET", "/clients", scopes=read)
    assert (client_id in {c["client_id"] for c in listed.json()}) is visible
    one = await emu.api("GET", f"/clients/{client_id}", scopes=read)
    assert one.status_code == (200 if visible else 404)
    change = await emu.api("PUT", f"/clients/{client_id}", json=client_body([OPEN]))
    assert change.status_code == 404


async def test_a_supplied_clients_token_names_the_customer(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = (await _supply(emu, CUSTOMER)).json()["client_id"]
    upload = {"keys": [jwk(client_key, "k1")]}
    path = f"/clients/{client_id}/jwks"
    uploaded = await emu.api("POST", path, json=upload, scopes=SUPPLIER, admin="acme-supplier")
    assert uploaded.status_code in (200, 201), uploaded.text
    token = await emu.access_token(client_id, OPEN, client_key, kid="k1")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["consumer"]["ID"] == f"0192:{CUSTOMER}"
    assert "supplier" not in claims
