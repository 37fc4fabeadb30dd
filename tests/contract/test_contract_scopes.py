"""Contract: scopes (APIs), scope access and the public lists, reference §5."""

from __future__ import annotations

import uuid

import pytest

from .digdir_http import DigdirTarget
from .test_contract_clients import V1_TIMESTAMP, assert_v1_error, field_errors


def scope_body(target: DigdirTarget, subscope: str, **fields: object) -> dict[str, object]:
    return {
        "prefix": target.scope_prefix,
        "subscope": subscope,
        "description": "mpctl contract test scope",
        "allowed_integration_types": ["maskinporten"],
        **fields,
    }


async def test_create_and_read_a_scope(target: DigdirTarget) -> None:
    subscope = f"contract.c{uuid.uuid4().hex[:8]}"
    response = await target.call("POST", "scopes", json=scope_body(target, subscope, at_max_age=60))
    assert response.status_code in (200, 201), response.text
    created = response.json()
    name = f"{target.scope_prefix}:{subscope}"
    assert created["name"] == name
    assert created["owner_orgno"] == target.orgno
    assert created["active"] is True
    assert created["at_max_age"] == 60
    assert V1_TIMESTAMP.match(created["created"])
    one = await target.call("GET", "scopes", params={"scope": name})
    assert one.json() == created
    listing = await target.call("GET", "scopes")
    assert name in {scope["name"] for scope in listing.json()}


async def test_existing_scope_cannot_be_posted_again(target: DigdirTarget, own_scope: str) -> None:
    subscope = own_scope.split(":", 1)[1]
    response = await target.call("POST", "scopes", json=scope_body(target, subscope))
    assert response.status_code == 409


async def test_deactivated_scope_is_not_reactivated_by_post(
    target: DigdirTarget, own_scope: str
) -> None:
    deleted = await target.call("DELETE", "scopes", params={"scope": own_scope})
    assert deleted.status_code == 200
    assert deleted.json()["active"] is False
    subscope = own_scope.split(":", 1)[1]
    assert (
        await target.call("POST", "scopes", json=scope_body(target, subscope))
    ).status_code == 409


async def test_delete_is_soft_and_put_reactivates(target: DigdirTarget, own_scope: str) -> None:
    await target.call("DELETE", "scopes", params={"scope": own_scope})
    active_names = {s["name"] for s in (await target.call("GET", "scopes")).json()}
    assert own_scope not in active_names
    everything = await target.call("GET", "scopes", params={"inactive": "true"})
    assert {s["name"]: s["active"] for s in everything.json()}[own_scope] is False
    subscope = own_scope.split(":", 1)[1]
    body = scope_body(target, subscope, active=True)
    response = await target.call("PUT", "scopes", params={"scope": own_scope}, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True


async def test_put_updates_but_never_renames(target: DigdirTarget, own_scope: str) -> None:
    subscope = own_scope.split(":", 1)[1]
    body = scope_body(target, subscope, description="new text", at_max_age=30)
    updated = await target.call("PUT", "scopes", params={"scope": own_scope}, json=body)
    assert updated.status_code == 200
    assert updated.json()["description"] == "new text"
    renamed = scope_body(target, subscope + ".renamed")
    response = await target.call("PUT", "scopes", params={"scope": own_scope}, json=renamed)
    assert response.status_code == 400
    assert_v1_error(response.json(), 400)
    assert "subscope" in field_errors(response.json())


async def test_prefix_must_belong_to_the_org(target: DigdirTarget) -> None:
    body = scope_body(target, "contract.foreign", prefix="someoneelse")
    response = await target.call("POST", "scopes", json=body)
    assert response.status_code in (400, 403)


async def test_scopes_all_is_public(target: DigdirTarget, own_scope: str) -> None:
    response = await target.call("GET", "scopes/all", scopes=None)
    assert response.status_code == 200
    names = {scope["name"] for scope in response.json()}
    assert own_scope in names
    open_only = await target.call(
        "GET", "scopes/all", scopes=None, params={"accessible_for_all": "true"}
    )
    assert all(scope["accessible_for_all"] for scope in open_only.json())


async def test_private_scopes_are_not_listed_publicly(target: DigdirTarget) -> None:
    subscope = f"contract.p{uuid.uuid4().hex[:8]}"
    body = scope_body(target, subscope, visibility="PRIVATE")
    assert (await target.call("POST", "scopes", json=body)).status_code in (200, 201)
    names = {s["name"] for s in (await target.call("GET", "scopes/all", scopes=None)).json()}
    assert f"{target.scope_prefix}:{subscope}" not in names


async def test_delegation_sources_are_public(target: DigdirTarget) -> None:
    response = await target.call("GET", "delegationsources", scopes=None)
    assert response.status_code == 200
    assert "altinn" in {source["name"] for source in response.json()}
    assert all(source["issuer"].endswith("/") for source in response.json())


async def test_grant_list_revoke_and_regrant_access(target: DigdirTarget, own_scope: str) -> None:
    consumer = target.consumer_orgno
    path = f"scopes/access/{consumer}"
    granted = await target.call("PUT", path, params={"scope": own_scope})
    assert granted.status_code == 200, granted.text
    assert granted.json()["state"] == "APPROVED"
    assert granted.json()["consumer_orgno"] == consumer
    assert granted.json()["owner_orgno"] == target.orgno
    consumers = await target.call("GET", "scopes/access", params={"scope": own_scope})
    assert {r["consumer_orgno"]: r["state"] for r in consumers.json()} == {consumer: "APPROVED"}
    revoked = await target.call("DELETE", path, params={"scope": own_scope})
    assert revoked.json()["state"] == "DENIED"
    consumers = await target.call("GET", "scopes/access", params={"scope": own_scope})
    assert {r["consumer_orgno"]: r["state"] for r in consumers.json()} == {consumer: "DENIED"}
    again = await target.call("PUT", path, params={"scope": own_scope})
    assert again.json()["state"] == "APPROVED"


@pytest.mark.parametrize(
    "orgno", ["12345678", "1234567890", "991825828", "abcdefghi", "..", "%2e%2e"]
)
async def test_consumer_orgno_is_strictly_validated(
    target: DigdirTarget, own_scope: str, orgno: str
) -> None:
    response = await target.call("PUT", f"scopes/access/{orgno}", params={"scope": own_scope})
    assert response.status_code in (400, 404)
    assert response.status_code == 400 or orgno in ("..", "%2e%2e")


async def test_access_all_lists_what_the_org_consumes(target: DigdirTarget) -> None:
    response = await target.call("GET", "scopes/access/all")
    assert response.status_code == 200
    assert all(record["consumer_orgno"] == target.orgno for record in response.json())


@pytest.mark.usefixtures("emulator_only")
async def test_access_all_shows_grants_from_other_owners(target: DigdirTarget) -> None:
    response = await target.call("GET", "scopes/access/all")
    assert {r["scope"]: r["state"] for r in response.json()} == {"altinn:granted": "APPROVED"}


async def test_scope_admin_needs_scopes_write(target: DigdirTarget) -> None:
    body = scope_body(target, "contract.noscope")
    response = await target.call("POST", "scopes", json=body, scopes=("idporten:scopes.read",))
    assert response.status_code == 403
