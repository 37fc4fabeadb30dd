"""The JWT grant signed with a sink's key: header, claims, Maskinporten's limits, no leak."""

from __future__ import annotations

import jwt
import pytest
from pydantic import SecretStr

from mpctl.remote import GrantError, GrantRequest, grant_claims, new_jti
from mpctl.remote import sign_grant as sign
from mpctl.secrets import PrivateKey
from mpctl.verify import signing_key

ISSUER = "https://test.maskinporten.no/"
CLIENT_ID = "0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10"
NOW = 1_748_772_000
JTI = "7c0b2f5e-1d2a-4a8e-b3f4-0c9d8e7f6a5b"
REQUEST = GrantRequest(client_id=CLIENT_ID, issuer=ISSUER, scopes=("example:invoices.read",))


def sign_grant(key: PrivateKey, request: GrantRequest, *, issued_at: int, jti: str) -> SecretStr:
    return sign(signing_key(key), request, issued_at=issued_at, jti=jti)


def decode(token: str, key: PrivateKey) -> dict[str, object]:
    return jwt.decode(
        token,
        key.crypto_key.public_key(),
        algorithms=[key.algorithm],
        audience=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )


def test_claims_match_the_reference_example() -> None:
    assert grant_claims(REQUEST, issued_at=NOW, jti=JTI) == {
        "aud": ISSUER,
        "iss": CLIENT_ID,
        "scope": "example:invoices.read",
        "iat": NOW,
        "exp": NOW + 120,
        "jti": JTI,
    }


def test_signed_grant_has_kid_and_alg(key: PrivateKey) -> None:
    grant = sign_grant(key, REQUEST, issued_at=NOW, jti=JTI)
    token = grant.get_secret_value()
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("RS256", key.kid)
    assert decode(token, key)["aud"] == ISSUER


@pytest.mark.parametrize("algorithm", ["RS384", "RS512"])
def test_other_algorithms(key: PrivateKey, algorithm: str) -> None:
    pinned = PrivateKey(key.crypto_key, kid=key.kid, algorithm=algorithm, created_at=key.created_at)
    token = sign_grant(pinned, REQUEST, issued_at=NOW, jti=JTI).get_secret_value()
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert decode(token, pinned)["iss"] == CLIENT_ID


def test_grant_is_pure_given_clock_and_jti(key: PrivateKey) -> None:
    first = sign_grant(key, REQUEST, issued_at=NOW, jti=JTI).get_secret_value()
    assert sign_grant(key, REQUEST, issued_at=NOW, jti=JTI).get_secret_value() == first


def test_delegation_and_resource_claims() -> None:
    request = GrantRequest(
        client_id=CLIENT_ID,
        issuer=ISSUER,
        scopes=("lanekassen:lan/v1/saldoopplysninger", "brreg:reelle/offentlig"),
        consumer_org="910753614",
        resource=("https://api.example.no/",),
        lifetime=60,
    )
    claims = grant_claims(request, issued_at=NOW, jti=JTI)
    assert claims["consumer_org"] == "910753614"
    assert claims["resource"] == ["https://api.example.no/"]
    assert claims["scope"] == "lanekassen:lan/v1/saldoopplysninger brreg:reelle/offentlig"
    assert claims["exp"] == NOW + 60


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lifetime": 121}, "120"),
        ({"lifetime": 0}, "120"),
        ({"issuer": "https://test.maskinporten.no"}, "must end with '/'"),
        ({"scopes": ()}, "scope"),
        ({"scopes": ("a:b c:d",)}, "scope"),
        ({"client_id": " "}, "client_id"),
        ({"consumer_org": "123456789"}, "consumer_org"),
        ({"consumer_org": "91075361"}, "consumer_org"),
    ],
)
def test_refuses_what_maskinporten_refuses(change: dict[str, object], message: str) -> None:
    request = GrantRequest(**{**REQUEST.__dict__, **change})
    with pytest.raises(GrantError, match=message):
        grant_claims(request, issued_at=NOW, jti=JTI)


def test_refuses_empty_jti() -> None:
    with pytest.raises(GrantError, match="jti"):
        grant_claims(REQUEST, issued_at=NOW, jti="")


def test_fresh_jtis_are_unique() -> None:
    assert len({new_jti() for _ in range(1000)}) == 1000


def test_signed_grant_never_shows(key: PrivateKey) -> None:
    grant = sign_grant(key, REQUEST, issued_at=NOW, jti=JTI)
    token = grant.get_secret_value()
    for shown in (repr(grant), str(grant), f"{grant}", repr([grant])):
        assert token not in shown
        assert token.split(".")[2] not in shown
