"""World files for emulator tests, as Python data (written to disk as JSON, which is YAML)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator.keys import public_members

ACME = "313367002"
DIGDIR = "991825827"
BRREG = "974760673"
CUSTOMER = "910753614"
STRANGER = "923456783"
ADMIN_SCOPES = [
    "idporten:dcr.read",
    "idporten:dcr.write",
    "idporten:dcr.modify",
    "idporten:scopes.read",
    "idporten:scopes.write",
]
TT02 = "https://tt02.altinn.no/"
DELEGATED = "brreg:reelle/rapporteringspliktig"


def client_body(scopes: list[str], **fields: Any) -> dict[str, Any]:
    """A Maskinporten client registration body."""
    return {
        "integration_type": "maskinporten",
        "description": "test client",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "scopes": scopes,
        **fields,
    }


def jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    """The public JWK of `key` as a client would upload it."""
    return {**public_members(key.public_key()), "kid": kid, "use": "sig", "alg": "RS256", **extra}


def base_world(admin_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """Four organisations, kid-based admin clients, other orgs' scopes, one delegation."""
    admin_jwk = jwk(admin_key, "admin-key")
    return {
        "organisations": [
            {"orgno": ACME, "name": "ACME AS", "prefixes": ["acme"]},
            {"orgno": DIGDIR, "name": "Digitaliseringsdirektoratet", "prefixes": ["altinn"]},
            {"orgno": BRREG, "name": "Brønnøysundregistrene", "prefixes": ["brreg"]},
            {"orgno": CUSTOMER, "name": "Eksempel Kunde AS"},
            {"orgno": STRANGER, "name": "Fremmed AS"},
        ],
        "admin_clients": [
            {"client_id": "acme-admin", "client_orgno": ACME, "scopes": ADMIN_SCOPES,
             "jwks": [admin_jwk]},
            {"client_id": "acme-supplier", "client_orgno": ACME,
             "scopes": ["idporten:dcr.supplier"], "jwks": [admin_jwk]},
            {"client_id": "brreg-admin", "client_orgno": BRREG, "scopes": ADMIN_SCOPES,
             "jwks": [admin_jwk]},
            {"client_id": "acme-cert-admin", "client_orgno": ACME, "scopes": ADMIN_SCOPES},
        ],
        "scopes": [
            {"name": "altinn:instances.read", "owner_orgno": DIGDIR, "description": "Instances",
             "allowed_integration_types": ["maskinporten"], "at_max_age": 3600},
            {"name": DELEGATED, "owner_orgno": BRREG, "description": "Delegated",
             "allowed_integration_types": ["maskinporten"], "delegation_source": TT02},
            {"name": "brreg:open", "owner_orgno": BRREG, "description": "Open to all",
             "accessible_for_all": True, "at_max_age": 60},
            {"name": "brreg:users", "owner_orgno": BRREG, "description": "User login only",
             "allowed_integration_types": ["idporten"]},
            {"name": "brreg:private", "owner_orgno": BRREG, "description": "Private",
             "visibility": "PRIVATE"},
            {"name": "brreg:closed", "owner_orgno": BRREG, "description": "Not granted"},
        ],
        "access": [
            {"scope": "altinn:instances.read", "consumer_orgno": ACME},
            {"scope": DELEGATED, "consumer_orgno": CUSTOMER},
            {"scope": "brreg:private", "consumer_orgno": ACME},
        ],
        "delegations": [
            {"consumer_orgno": CUSTOMER, "supplier_orgno": ACME, "scope": DELEGATED},
        ],
    }  # fmt: skip
