"""Both sides in one shape: defaults, sorting, marker split; what is sent compares equal."""

from __future__ import annotations

from typing import Any

import pytest

from mpctl.model import Client, ObservedClient, ObservedScope, Scope
from mpctl.plan.diff import diff_fields
from mpctl.plan.normalize import (
    JWT_BEARER,
    MARKER_FIELD,
    client_body,
    client_essence,
    observed_client_essence,
    observed_scope_essence,
    scope_body,
    scope_essence,
)
from mpctl.plan.ownership import Owner

from .builders import ENV, client, desired, scope

OWNER = Owner()


@pytest.mark.parametrize(
    ("remote", "field", "value"),
    [
        ({"access_token_lifetime": 0}, "access_token_lifetime", 120),
        ({"access_token_lifetime": None}, "access_token_lifetime", 120),
        ({"access_token_lifetime": 300}, "access_token_lifetime", 300),
        ({"grant_types": ["jwt_bearer_token"]}, "grant_types", [JWT_BEARER]),
        ({"scopes": ["b:x", "a:x", "b:x"]}, "scopes", ["a:x", "b:x"]),
        ({"description": "Text [mpctl:billing]"}, "description", "Text"),
        ({"description": "Text [mpctl:billing]"}, MARKER_FIELD, "[mpctl:billing]"),
        ({"description": "Text"}, MARKER_FIELD, None),
        ({"description": None}, "description", ""),
    ],
)
def test_observed_client_essence(remote: dict[str, Any], field: str, value: Any) -> None:
    observed = ObservedClient.model_validate({"client_id": "c1", **remote})
    assert observed_client_essence(observed)[field] == value


@pytest.mark.parametrize(
    ("remote", "field", "value"),
    [
        ({"prefix": "acme:"}, "prefix", "acme"),
        ({"prefix": None}, "prefix", "acme"),
        ({"subscope": None}, "subscope", "a/b.c"),
        ({"token_type": None}, "token_type", "SELF_CONTAINED"),
        ({"at_max_age": None}, "at_max_age", 0),
        (
            {"allowed_integration_types": ["maskinporten", "idporten"]},
            "allowed_integration_types",
            ["idporten", "maskinporten"],
        ),
        ({"long_description": "Doc\n\n[mpctl:acme:a/b.c]"}, "long_description", "Doc"),
        ({"long_description": "[mpctl:acme:a/b.c]"}, "long_description", None),
        ({"long_description": "[mpctl:acme:a/b.c]"}, MARKER_FIELD, "[mpctl:acme:a/b.c]"),
        ({"long_description": "[mpctl:acme:other]"}, MARKER_FIELD, None),
    ],
)
def test_observed_scope_essence(remote: dict[str, Any], field: str, value: Any) -> None:
    observed = ObservedScope.model_validate({"name": "acme:a/b.c", **remote})
    assert observed_scope_essence(observed)[field] == value


def test_client_name_defaults_to_org_name_and_env() -> None:
    state = desired()
    assert client_essence(client("billing"), state)["client_name"] == "ACME - billing - test"
    named = client("billing", client_name="Billing")
    assert client_essence(named, state)["client_name"] == "Billing"


def test_client_body_carries_the_marker_in_description_only() -> None:
    body = client_body(client("billing", description="Fetches"), desired()).wire()
    assert body["description"] == "Fetches [mpctl:billing]"
    assert MARKER_FIELD not in body
    assert body["grant_types"] == [JWT_BEARER]
    assert body["token_endpoint_auth_method"] == "private_key_jwt"


@pytest.mark.parametrize(
    ("fields", "field", "value"),
    [
        ({"at_max_age": 300}, "authorization_max_lifetime", 300),
        ({"at_max_age": 300, "authorization_max_lifetime": 60}, "authorization_max_lifetime", 60),
        ({"delegation_source": "altinn"}, "delegation_source", "https://tt02.altinn.no/"),
        ({"delegation_source": "https://x.example/"}, "delegation_source", "https://x.example/"),
        ({"delegation_source": None}, "delegation_source", None),
        ({"long_description": None}, "long_description", None),
        ({"long_description": "Doc"}, "long_description", "Doc"),
        (
            {"allowed_integration_types": ("maskinporten", "api_klient")},
            "allowed_integration_types",
            ["api_klient", "maskinporten"],
        ),
    ],
)
def test_scope_essence(fields: dict[str, Any], field: str, value: Any) -> None:
    assert scope_essence(scope(**fields), ENV, OWNER)[field] == value


@pytest.mark.parametrize("field", ["long_description", "delegation_source"])
def test_optional_scope_fields_left_out_are_not_managed(field: str) -> None:
    assert field not in scope_essence(scope(), ENV, OWNER)


def test_scope_body_keeps_remote_long_description_when_unmanaged() -> None:
    remote = ObservedScope(name="acme:invoices.read", long_description="Written in the portal")
    body = scope_body(scope(), ENV, remote, OWNER).wire()
    assert body["long_description"] == "Written in the portal\n\n[mpctl:acme:invoices.read]"
    assert body["active"] is True


def test_scope_create_body_does_not_send_active() -> None:
    assert "active" not in scope_body(scope(), ENV, None, OWNER).wire()


CLIENTS = [
    client("plain"),
    client("named", client_name="Named", access_token_lifetime=600, scopes=("b:x", "a:x")),
    client("other", integration_type="api_klient", scopes=()),
]
SCOPES = [
    scope("acme:plain"),
    scope(
        "acme:full",
        long_description="Doc",
        delegation_source="altinn",
        at_max_age=60,
        visibility="PRIVATE",
        accessible_for_all=True,
    ),
    scope("acme:nulls", long_description=None, delegation_source=None),
]


@pytest.mark.parametrize("wanted", CLIENTS, ids=lambda c: c.name)
def test_a_sent_client_compares_equal(wanted: Client) -> None:
    state = desired()
    echoed = ObservedClient.model_validate({"client_id": "c", **client_body(wanted, state).wire()})
    assert diff_fields(observed_client_essence(echoed), client_essence(wanted, state)) == ()


@pytest.mark.parametrize("wanted", SCOPES, ids=lambda s: s.name)
def test_a_sent_scope_compares_equal(wanted: Scope) -> None:
    echoed = ObservedScope.model_validate(
        {"name": wanted.name, **scope_body(wanted, ENV, None, OWNER).wire()}
    )
    assert diff_fields(observed_scope_essence(echoed), scope_essence(wanted, ENV, OWNER)) == ()
