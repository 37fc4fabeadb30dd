"""Contract: client registrations (`/clients`), reference §3."""

from __future__ import annotations

import re

import pytest

from .digdir_http import ADMIN_SCOPES, DigdirTarget, client_body

V1_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def assert_v1_error(body: dict[str, object], status: int) -> list[dict[str, object]]:
    """The v1 error body (reference §8.1); returns its `errors` list."""
    assert body["status"] == status
    assert isinstance(body["correlation_id"], str)
    assert str(body["timestamp"]).endswith("Z")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors
    for entry in errors:
        assert set(entry) == {"errorMessage", "isFieldError", "objectName", "fieldIdentifier"}
    assert isinstance(body["error"], str)
    assert isinstance(body["error_description"], str)
    return errors


def field_errors(body: dict[str, object]) -> set[str]:
    errors = body["errors"]
    assert isinstance(errors, list)
    return {str(e["fieldIdentifier"]) for e in errors if e["isFieldError"]}


async def test_create_sets_server_fields(target: DigdirTarget, own_scope: str) -> None:
    created = await target.create_client([own_scope])
    assert UUID.match(created["client_id"])
    assert created["client_orgno"] == target.orgno
    assert created["active"] is True
    assert V1_TIMESTAMP.match(created["created"])
    assert V1_TIMESTAMP.match(created["last_updated"])
    assert created["scopes"] == [own_scope]
    assert "client_secret" not in created


async def test_read_only_fields_on_create_are_not_taken(
    target: DigdirTarget, own_scope: str
) -> None:
    created = await target.create_client(
        [own_scope], client_id="my-own-id", active=False, created="2020-01-01T00:00:00.000Z"
    )
    assert created["client_id"] != "my-own-id"
    assert created["active"] is True
    assert not created["created"].startswith("2020")


async def test_get_one_and_list_show_the_client(target: DigdirTarget, own_scope: str) -> None:
    created = await target.create_client([own_scope])
    one = await target.call("GET", f"clients/{created['client_id']}")
    assert one.status_code == 200
    assert one.headers["content-type"].lower().startswith("application/json")
    assert one.json() == created
    listing = await target.call("GET", "clients")
    assert listing.status_code == 200
    assert created["client_id"] in {c["client_id"] for c in listing.json()}


async def test_unknown_client_is_404(target: DigdirTarget) -> None:
    response = await target.call("GET", "clients/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404


async def test_put_replaces_the_writable_fields(target: DigdirTarget, own_scope: str) -> None:
    created = await target.create_client([own_scope])
    body = {k: v for k, v in created.items() if k not in ("created", "last_updated")}
    body["description"] = "changed by PUT"
    body["client_name"] = None
    response = await target.call("PUT", f"clients/{created['client_id']}", json=body)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["description"] == "changed by PUT"
    assert "client_name" not in updated or updated["client_name"] is None
    assert updated["created"] == created["created"]


async def test_put_cannot_change_integration_type(target: DigdirTarget, own_scope: str) -> None:
    created = await target.create_client([own_scope])
    body = {k: v for k, v in created.items() if k not in ("created", "last_updated")}
    body["integration_type"] = "api_klient"
    response = await target.call("PUT", f"clients/{created['client_id']}", json=body)
    assert response.status_code == 400
    assert_v1_error(response.json(), 400)
    assert "integration_type" in field_errors(response.json())


async def test_delete_deactivates_and_hides(target: DigdirTarget, own_scope: str) -> None:
    created = await target.create_client([own_scope])
    client_id = created["client_id"]
    assert (await target.call("DELETE", f"clients/{client_id}")).status_code == 200
    default_listing = (await target.call("GET", "clients")).json()
    assert client_id not in {c["client_id"] for c in default_listing}
    full = (await target.call("GET", "clients", params={"inactive": "true"})).json()
    assert {c["client_id"]: c["active"] for c in full}[client_id] is False
    one = await target.call("GET", f"clients/{client_id}")
    assert one.json()["active"] is False


async def test_a_client_needs_a_scope(target: DigdirTarget) -> None:
    body = client_body([], description="no scopes")
    response = await target.call("POST", "clients", json=body)
    assert response.status_code == 400
    assert "scopes" in field_errors(response.json())


async def test_unknown_scope_is_rejected(target: DigdirTarget) -> None:
    body = client_body([f"{target.scope_prefix}:does.not.exist.anywhere"], description="bad scope")
    response = await target.call("POST", "clients", json=body)
    assert response.status_code == 400
    assert "scopes" in field_errors(response.json())


async def test_deactivated_scope_cannot_be_registered(target: DigdirTarget, own_scope: str) -> None:
    await target.call("DELETE", "scopes", params={"scope": own_scope})
    body = client_body([own_scope], description="inactive scope")
    response = await target.call("POST", "clients", json=body)
    assert response.status_code == 400
    assert "scopes" in field_errors(response.json())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token_endpoint_auth_method", "client_secret_basic"),
        ("grant_types", ["authorization_code"]),
    ],
)
async def test_maskinporten_clients_use_private_key_jwt_and_jwt_bearer(
    target: DigdirTarget, own_scope: str, field: str, value: object
) -> None:
    body = client_body([own_scope], description="wrong auth", **{field: value})
    response = await target.call("POST", "clients", json=body)
    assert response.status_code == 400
    assert field in field_errors(response.json())


async def test_scope_must_allow_the_integration_type(target: DigdirTarget) -> None:
    name = f"{target.scope_prefix}:contract.useronly"
    await target.call(
        "POST",
        "scopes",
        json={
            "prefix": target.scope_prefix,
            "subscope": "contract.useronly",
            "description": "user login only",
            "allowed_integration_types": ["idporten"],
        },
    )
    response = await target.call(
        "POST",
        "clients",
        json=client_body([name], description="mismatch"),
    )
    assert response.status_code == 400
    assert "scopes" in field_errors(response.json())


@pytest.mark.usefixtures("emulator_only")
@pytest.mark.parametrize(
    ("scope", "accepted"),
    [
        ("brreg:closed", False),
        ("altinn:granted", True),
        ("brreg:open", True),
        ("brreg:delegable", True),
    ],
)
async def test_scope_must_be_accessible_to_the_org(
    target: DigdirTarget, scope: str, accepted: bool
) -> None:
    response = await target.call(
        "POST",
        "clients",
        json=client_body([scope], description="access"),
    )
    assert (response.status_code in (200, 201)) is accepted, response.text


async def test_missing_token_is_401(target: DigdirTarget) -> None:
    response = await target.call("GET", "clients", scopes=None)
    assert response.status_code == 401


async def test_garbage_token_is_401(target: DigdirTarget) -> None:
    response = await target.call(
        "GET", "clients", scopes=None, headers={"Authorization": "Bearer not.a.token"}
    )
    assert response.status_code == 401


async def test_token_without_read_scope_is_403(target: DigdirTarget) -> None:
    response = await target.call("GET", "clients", scopes=("idporten:scopes.read",))
    assert response.status_code == 403


async def test_write_needs_dcr_write(target: DigdirTarget, own_scope: str) -> None:
    read_only = tuple(s for s in ADMIN_SCOPES if s != "idporten:dcr.write")
    body = client_body([own_scope], description="no write scope")
    response = await target.call("POST", "clients", json=body, scopes=read_only)
    assert response.status_code == 403
