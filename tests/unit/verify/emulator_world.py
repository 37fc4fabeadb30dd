"""A small emulator world for the verify tests: a supplier client, a consumer, a delegation."""

from __future__ import annotations

import json
from pathlib import Path

from mpctl.emulator.settings import DEFAULT_ISSUER
from mpctl.secrets import PrivateKey, public_jwk

ISSUER = DEFAULT_ISSUER
TOKEN_ENDPOINT = f"{ISSUER}token"
PROVIDER = "313367002"
SUPPLIER = "991825827"
CONSUMER = "910753614"
STRANGER = "974760673"
CLIENT_ID = "5f1b2c3d-billing"
OWN_SCOPE = "acme:invoices.read"
DELEGATED_SCOPE = "acme:reports.read"
ALTINN_TT02 = "https://tt02.altinn.no/"


def write_world(directory: Path, key: PrivateKey) -> Path:
    """A world file where CLIENT_ID (owned by SUPPLIER) has `key` registered."""
    world = {
        "organisations": [
            {"orgno": PROVIDER, "name": "ACME AS", "prefixes": ["acme"]},
            {"orgno": SUPPLIER, "name": "Supplier AS"},
            {"orgno": CONSUMER, "name": "Consumer AS"},
            {"orgno": STRANGER, "name": "Stranger AS"},
        ],
        "scopes": [
            _scope(OWN_SCOPE),
            _scope(DELEGATED_SCOPE, delegation_source=ALTINN_TT02),
        ],
        "access": [
            {"scope": OWN_SCOPE, "consumer_orgno": SUPPLIER},
            {"scope": DELEGATED_SCOPE, "consumer_orgno": CONSUMER},
            {"scope": DELEGATED_SCOPE, "consumer_orgno": STRANGER},
        ],
        "delegations": [
            {"consumer_orgno": CONSUMER, "supplier_orgno": SUPPLIER, "scope": DELEGATED_SCOPE}
        ],
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_orgno": SUPPLIER,
                "description": "billing sync",
                "scopes": [OWN_SCOPE, DELEGATED_SCOPE],
                "jwks": [public_jwk(key)],
            }
        ],
    }
    path = directory / "world.json"
    path.write_text(json.dumps(world), encoding="utf-8")
    return path


def _scope(name: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "owner_orgno": PROVIDER,
        "description": f"{name} for tests",
        "allowed_integration_types": ["maskinporten"],
        **extra,
    }
