"""Scopes and scope access: the emulator's choices for unconfirmed details, and ownership."""

from __future__ import annotations

from typing import Any

import pytest

from mpctl.emulator import Switches

from .conftest import EmulatorFactory, Harness
from .worlds import ACME, BRREG, STRANGER


def scope(subscope: str, **fields: Any) -> dict[str, Any]:
    return {"prefix": "acme", "subscope": subscope, "description": "ACME API", **fields}


async def test_foreign_prefix_is_403(emu: Harness) -> None:
    response = await emu.api("POST", "/scopes", json={**scope("x"), "prefix": "brreg"})
    assert response.status_code == 403


@pytest.mark.parametrize("subscope", ["", "has space", "trailing/", "/leading", "a..b", "a//b"])
async def test_subscope_syntax(emu: Harness, subscope: str) -> None:
    assert (await emu.api("POST", "/scopes", json=scope(subscope))).status_code == 400


@pytest.mark.parametrize(
    "subscope", ["lan/v1/saldoopplysninger", "instances.read", "skyporten:demo", "a_b-c"]
)
async def test_real_world_subscopes_are_accepted(emu: Harness, subscope: str) -> None:
    assert (await emu.api("POST", "/scopes", json=scope(subscope))).status_code == 200


async def test_delegation_source_must_be_a_known_issuer(emu: Harness) -> None:
    good = scope("a", delegation_source="https://tt02.altinn.no/")
    assert (await emu.api("POST", "/scopes", json=good)).status_code == 200
    bad = scope("b", delegation_source="https://www.altinn.no/")
    response = await emu.api("POST", "/scopes", json=bad)
    assert response.status_code == 400
    assert response.json()["errors"][0]["fieldIdentifier"] == "delegation_source"


async def test_description_is_required(emu: Harness) -> None:
    response = await emu.api("POST", "/scopes", json={"prefix": "acme", "subscope": "x"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["fieldIdentifier"] == "description"


async def test_localised_descriptions_are_kept(emu: Harness) -> None:
    body = scope("x", **{"description#en": "English", "owner_orgno": "999999999"})
    created = (await emu.api("POST", "/scopes", json=body)).json()
    assert created["description#en"] == "English"
    assert created["owner_orgno"] == ACME


async def test_other_orgs_scopes_are_not_readable_by_name(emu: Harness) -> None:
    response = await emu.api("GET", "/scopes", params={"scope": "brreg:open"})
    assert response.status_code == 404
    assert (await emu.api("GET", "/scopes")).json() == []


async def test_scopes_read_may_read_but_not_write(emu: Harness) -> None:
    read = ["idporten:scopes.read"]
    assert (await emu.api("GET", "/scopes", scopes=read)).status_code == 200
    assert (await emu.api("POST", "/scopes", json=scope("x"), scopes=read)).status_code == 403


async def test_dcr_write_for_scopes_is_a_switch(make_emulator: EmulatorFactory) -> None:
    dcr_write = ["idporten:dcr.write"]
    for switches, expected in ((None, 403), (Switches(scopes_write_accepts_dcr_write=True), 200)):
        emu = await make_emulator(switches=switches)
        response = await emu.api("POST", "/scopes", json=scope("x"), scopes=dcr_write)
        assert response.status_code == expected


async def test_scopes_all_lists_every_owner_but_only_public_active(emu: Harness) -> None:
    names = [s["name"] for s in (await emu.http.get("/api/v1/scopes/all")).json()]
    assert names == sorted(names)
    assert {"altinn:instances.read", "brreg:open"} <= set(names)
    assert "brreg:private" not in names
    await emu.api("DELETE", "/scopes", params={"scope": "brreg:open"}, admin="brreg-admin")
    names = [s["name"] for s in (await emu.http.get("/api/v1/scopes/all")).json()]
    assert "brreg:open" not in names


async def test_scopes_all_filter(emu: Harness) -> None:
    response = await emu.http.get("/api/v1/scopes/all", params={"accessible_for_all": "true"})
    assert [s["name"] for s in response.json()] == ["brreg:open"]


async def test_delete_of_another_orgs_scope_is_404(emu: Harness) -> None:
    response = await emu.api("DELETE", "/scopes", params={"scope": "brreg:open"})
    assert response.status_code == 404


async def test_scope_parameter_is_required_for_put_and_delete(emu: Harness) -> None:
    assert (await emu.api("DELETE", "/scopes")).status_code == 400
    assert (await emu.api("PUT", "/scopes", json=scope("x"))).status_code == 400


async def test_put_without_active_keeps_the_state(emu: Harness) -> None:
    await emu.api("POST", "/scopes", json=scope("x"))
    await emu.api("DELETE", "/scopes", params={"scope": "acme:x"})
    updated = await emu.api("PUT", "/scopes", params={"scope": "acme:x"}, json=scope("x"))
    assert updated.json()["active"] is False


async def test_access_needs_a_known_organisation(emu: Harness) -> None:
    await emu.api("POST", "/scopes", json=scope("x"))
    unknown_but_valid = "922222223"
    response = await emu.api(
        "PUT", f"/scopes/access/{unknown_but_valid}", params={"scope": "acme:x"}
    )
    assert response.status_code == 400
    known = await emu.api("PUT", f"/scopes/access/{STRANGER}", params={"scope": "acme:x"})
    assert known.status_code == 200


async def test_revoking_without_a_record_is_404(emu: Harness) -> None:
    await emu.api("POST", "/scopes", json=scope("x"))
    response = await emu.api("DELETE", f"/scopes/access/{STRANGER}", params={"scope": "acme:x"})
    assert response.status_code == 404


async def test_granting_on_another_orgs_scope_is_404(emu: Harness) -> None:
    response = await emu.api("PUT", f"/scopes/access/{STRANGER}", params={"scope": "brreg:open"})
    assert response.status_code == 404


async def test_access_records_carry_organisation_names(emu: Harness) -> None:
    records = (await emu.api("GET", "/scopes/access/all")).json()
    by_scope = {r["scope"]: r for r in records}
    assert by_scope["brreg:private"]["owner_organization_name"] == "Brønnøysundregistrene"
    assert by_scope["brreg:private"]["consumer_organization_name"] == "ACME AS"
    assert by_scope["brreg:private"]["owner_orgno"] == BRREG


async def test_access_all_includes_denied_records(emu: Harness) -> None:
    path = f"/scopes/access/{ACME}"
    await emu.api("DELETE", path, params={"scope": "brreg:private"}, admin="brreg-admin")
    states = {r["scope"]: r["state"] for r in (await emu.api("GET", "/scopes/access/all")).json()}
    assert states["brreg:private"] == "DENIED"


async def test_access_all_is_readable_with_dcr_read(emu: Harness) -> None:
    response = await emu.api("GET", "/scopes/access/all", scopes=["idporten:dcr.read"])
    assert response.status_code == 200


async def test_delegationsources_default_per_environment(make_emulator: EmulatorFactory) -> None:
    for environment, issuer in (
        ("test", "https://tt02.altinn.no/"),
        ("prod", "https://www.altinn.no/"),
    ):
        emu = await make_emulator(environment=environment)
        for path in ("/delegationsources", "/api/v1/delegationsources"):
            sources = (await emu.http.get(path)).json()
            assert [(s["name"], s["issuer"]) for s in sources] == [("altinn", issuer)]
