"""Registrations: only what was set travels, and `overlay` is the one PUT rule."""

from __future__ import annotations

from mpctl.model import (
    ClientRegistration,
    ObservedClient,
    ObservedScope,
    PublicJwk,
    ScopeRegistration,
    overlay,
)

REMOTE = ObservedClient.model_validate(
    {
        "client_id": "c-1",
        "client_name": "billing",
        "description": "Bills [mpctl:acme/billing]",
        "scopes": ["acme:a"],
        "client_orgno": "910753614",
        "supplier_orgno": "910753614",
        "active": True,
        "created": "2026-01-01T00:00:00Z",
        "jwks_uri": "https://kept.example/jwks",
    }
)


def test_a_registration_sends_only_the_fields_that_were_set() -> None:
    body = ClientRegistration(description="x", long_field_nobody_set=None)
    assert body.wire() == {"description": "x", "long_field_nobody_set": None}
    assert ClientRegistration(scopes=("a",)).wire() == {"scopes": ["a"]}


def test_an_explicit_null_survives_a_round_trip_through_json() -> None:
    body = ScopeRegistration(delegation_source=None, description="d")
    again = ScopeRegistration.model_validate_json(body.model_dump_json())
    assert again.wire() == {"delegation_source": None, "description": "d"}


def test_overlay_keeps_unmanaged_fields_and_never_sends_server_managed_ones() -> None:
    wanted = overlay(REMOTE, ClientRegistration(scopes=("acme:a", "acme:b")))
    assert wanted is not None
    assert wanted.wire() == {
        "client_name": "billing",
        "description": "Bills [mpctl:acme/billing]",
        "scopes": ["acme:a", "acme:b"],
        "grant_types": [],
        "jwks_uri": "https://kept.example/jwks",
    }


def test_an_observed_client_is_its_registration_plus_the_servers_fields() -> None:
    assert isinstance(REMOTE, ClientRegistration)
    server_fields = set(ObservedClient.model_fields) - set(ClientRegistration.model_fields)
    assert server_fields == ClientRegistration.SERVER_MANAGED
    scope_fields = set(ObservedScope.model_fields) - set(ScopeRegistration.model_fields)
    assert scope_fields == ScopeRegistration.SERVER_MANAGED


def test_overlay_is_none_when_the_remote_object_already_matches() -> None:
    assert overlay(REMOTE, ClientRegistration(client_name="billing", scopes=("acme:a",))) is None


def test_create_only_fields_are_sent_on_create_and_never_on_update() -> None:
    body = ClientRegistration(client_orgno="313367002", description="for a customer")
    assert body.wire()["client_orgno"] == "313367002"
    assert "client_orgno" not in body.for_update().wire()
    assert overlay(REMOTE, body) is not None
    assert "client_orgno" not in (overlay(REMOTE, body) or body).wire()


def test_overlay_clears_a_field_the_registration_sets_to_null() -> None:
    remote = ObservedScope(name="acme:a", delegation_source="https://altinn.example/")
    wanted = overlay(remote, ScopeRegistration(delegation_source=None))
    assert wanted is not None
    assert wanted.wire()["delegation_source"] is None
    assert "name" not in wanted.wire()


def test_a_public_jwk_drops_private_members() -> None:
    jwk = PublicJwk.model_validate({"kty": "RSA", "kid": "k", "e": "AQAB", "n": "x", "d": "secret"})
    assert jwk.wire() == {"kty": "RSA", "kid": "k", "e": "AQAB", "n": "x"}
