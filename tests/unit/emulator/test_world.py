"""The world file: strict schema, safe YAML, cross-references, and the shipped example world."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpctl.emulator import World, WorldError, load_world
from mpctl.emulator.world import parse_world

SHIPPED = Path(__file__).resolve().parents[3] / "manifests" / "emulator-world.yaml"

MINIMAL = """
organisations:
  - {orgno: 313367002, name: ACME AS, prefixes: [acme]}
scopes:
  - {name: "acme:x", owner_orgno: "313367002", description: x}
"""


def test_minimal_world_and_integer_orgnos() -> None:
    world = parse_world(MINIMAL)
    assert world.organisations[0].orgno == "313367002"
    assert world.scopes[0].prefix == "acme"


def test_empty_file_is_an_empty_world() -> None:
    assert parse_world("") == World()


ORGS = "organisations:\n"
ACME_ORG = "  - {orgno: '313367002', name: A, prefixes: [p]}\n"
INVALID_WORLDS = {
    "unknown key": ("organisations: []\nunknown_key: 1\n", "unknown_key"),
    "check digit": (ORGS + "  - {orgno: '313367003', name: X}\n", "mod-11"),
    "eight digits": (ORGS + "  - {orgno: '31336700', name: X}\n", "organisation number"),
    "foreign prefix": (
        MINIMAL + "  - {name: 'brreg:x', owner_orgno: '313367002', description: x}\n",
        "prefix",
    ),
    "grant on unknown scope": (
        MINIMAL + "access:\n  - {scope: 'acme:y', consumer_orgno: '313367002'}\n",
        "unknown scope",
    ),
    "grant to unknown org": (
        MINIMAL + "access:\n  - {scope: 'acme:x', consumer_orgno: '910753614'}\n",
        "unknown organisation",
    ),
    "delegation of a plain scope": (
        MINIMAL + "delegations:\n  - {consumer_orgno: '313367002', "
        "supplier_orgno: '313367002', scope: 'acme:x'}\n",
        "delegation_source",
    ),
    "client with unknown scope": (
        MINIMAL + "clients:\n  - {client_orgno: '313367002', description: d, "
        "scopes: ['acme:nope']}\n",
        "unknown scope",
    ),
    "admin with unknown scope": (
        MINIMAL + "admin_clients:\n  - {client_id: a, client_orgno: '313367002', "
        "scopes: ['idporten:dcr.everything']}\n",
        "unknown scope",
    ),
    "org twice": (ORGS + ACME_ORG + ACME_ORG, "twice"),
    "shared prefix": (
        ORGS + ACME_ORG + "  - {orgno: '910753614', name: B, prefixes: [p]}\n",
        "two organisations",
    ),
    "bad key": (
        MINIMAL + "clients:\n  - {client_orgno: '313367002', description: d, scopes: ['acme:x'], "
        "jwks: [{kid: k, e: AQAB, n: '%%'}]}\n",
        "RSA public key",
    ),
    "bad switch": ("switches: {create_client_status: 202}\n", "create_client_status"),
    "bad fault": ("faults:\n  - {kind: error, status: 404}\n", "status"),
}


@pytest.mark.parametrize(("text", "message"), INVALID_WORLDS.values(), ids=INVALID_WORLDS.keys())
def test_invalid_worlds_are_explained(text: str, message: str) -> None:
    with pytest.raises(WorldError, match=message):
        parse_world(text, source="w.yaml")


def test_yaml_tags_are_not_executed() -> None:
    with pytest.raises(WorldError, match="not valid YAML"):
        parse_world("organisations: !!python/object/apply:os.system ['true']\n")


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(WorldError):
        parse_world("organisations: []\norganisations: []\n")


def test_yaml_1_2_booleans_stay_strings() -> None:
    world = parse_world("organisations:\n  - {orgno: '313367002', name: NO}\n")
    assert world.organisations[0].name == "NO"


def test_missing_world_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="cannot read"):
        load_world(tmp_path / "missing.yaml")


def test_shipped_world_loads() -> None:
    world = load_world(SHIPPED)
    orgnos = {org.orgno for org in world.organisations}
    assert {"313367002", "991825827", "974760673", "960885406", "910753614"} <= orgnos
    assert [admin.client_id for admin in world.admin_clients] == ["acme-admin"]
    assert world.admin_clients[0].jwks == []
