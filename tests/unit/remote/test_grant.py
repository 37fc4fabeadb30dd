"""The admin grant: header, claims, lifetime, fresh jti (reference §7.2-7.3, §9.1)."""

from __future__ import annotations

import base64

import jwt
import pytest

from mpctl.remote import GRANT_LIFETIME, admin_grants
from mpctl.remote.credentials import AdminKey
from tests.unit.remote.conftest import KeyPair

ISSUER = "https://test.maskinporten.no/"


def build_admin_grant(key: AdminKey, *, issuer: str, now: int) -> str:
    return admin_grants(key, issuer=issuer, clock=lambda: now)().get_secret_value()


@pytest.fixture
def x5c_key(admin_pair: KeyPair) -> AdminKey:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(admin_pair.certificate_pem)
    x5c = (base64.b64encode(cert.public_bytes(Encoding.DER)).decode(),)
    return AdminKey(
        client_id="acme-admin",
        private_key=admin_pair.private_key,
        scopes=("idporten:dcr.read", "idporten:scopes.write"),
        x5c=x5c,
    )


def test_x5c_grant_header_and_claims(x5c_key: AdminKey, admin_pair: KeyPair) -> None:
    grant = build_admin_grant(x5c_key, issuer=ISSUER, now=1_748_772_000)
    header = jwt.get_unverified_header(grant)
    assert header["alg"] == "RS256"
    assert header["x5c"] == list(x5c_key.x5c)
    assert "kid" not in header
    claims = jwt.decode(
        grant,
        admin_pair.private_key.public_key(),
        algorithms=["RS256"],
        audience=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["aud"] == ISSUER  # exactly, trailing slash kept
    assert claims["iss"] == "acme-admin"
    assert claims["scope"] == "idporten:dcr.read idporten:scopes.write"
    assert claims["exp"] - claims["iat"] == GRANT_LIFETIME == 120
    assert set(claims) == {"aud", "iss", "scope", "iat", "exp", "jti"}


def test_kid_grant_header(admin_pair: KeyPair) -> None:
    key = AdminKey(client_id="a", private_key=admin_pair.private_key, scopes=("s",), kid="k1")
    header = jwt.get_unverified_header(build_admin_grant(key, issuer=ISSUER, now=0))
    assert header["kid"] == "k1"
    assert "x5c" not in header


def test_every_grant_has_a_fresh_jti(x5c_key: AdminKey) -> None:
    jtis = {
        jwt.decode(
            build_admin_grant(x5c_key, issuer=ISSUER, now=1), options={"verify_signature": False}
        )["jti"]
        for _ in range(20)
    }
    assert len(jtis) == 20


def test_admin_key_needs_exactly_one_of_x5c_or_kid(admin_pair: KeyPair) -> None:
    from mpctl.remote.errors import AdminCredentialError

    with pytest.raises(AdminCredentialError):
        AdminKey(client_id="a", private_key=admin_pair.private_key, scopes=())
    with pytest.raises(AdminCredentialError):
        AdminKey(client_id="a", private_key=admin_pair.private_key, scopes=(), x5c=("x",), kid="k")
