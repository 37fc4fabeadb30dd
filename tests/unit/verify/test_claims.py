"""Claim checks on verified tokens (pure part; the emulator tests cover the fetch and mint)."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import SecretStr

from mpctl.secrets import PrivateKey, public_jwk
from mpctl.verify.claims import ClaimFailure, ExpectedClaims, check_token, claim_failures

ISSUER = "https://test.maskinporten.no/"
SCOPE = "lanekassen:lan/v1/saldoopplysninger"

# Seed 004: Lånekassen's example access token for a supplier acting for a consumer.
SEED_004_DELEGATED = {
    "iss": ISSUER,
    "client_amr": "virksomhetssertifikat",
    "token_type": "Bearer",
    "client_id": "oidc_difi_delegering_altinn",
    "scope": SCOPE,
    "supplier": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"},
    "exp": 1584694440,
    "delegation_source": "https://tt02.altinn.no/",
    "iat": 1584693440,
    "jti": "faulA3FDWRqpd59Cwc1DqvA72kOV_xDHggBXpSpptsw",
    "consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:910753614"},
}
DELEGATED = ExpectedClaims(
    issuer=ISSUER,
    scopes=(SCOPE,),
    orgno="991825827",
    client_id="oidc_difi_delegering_altinn",
    consumer_org="910753614",
    delegation_source="https://tt02.altinn.no/",
)
OWN = ExpectedClaims(issuer=ISSUER, scopes=(SCOPE,), orgno="910753614")
OWN_TOKEN = {
    k: v for k, v in SEED_004_DELEGATED.items() if k not in {"supplier", "delegation_source"}
}


def claims_of(failures: list[ClaimFailure]) -> list[str]:
    return [f.claim for f in failures]


def test_seed_004_delegated_token_passes() -> None:
    assert claim_failures(SEED_004_DELEGATED, DELEGATED) == []


def test_own_token_passes() -> None:
    assert claim_failures(OWN_TOKEN, OWN) == []


@pytest.mark.parametrize(
    ("change", "claim"),
    [
        ({"iss": "https://maskinporten.no/"}, "iss"),
        ({"scope": "other:scope"}, "scope"),
        ({"scope": None}, "scope"),
        ({"consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"}}, "consumer"),
        ({"consumer": {"authority": "etsi", "ID": "0192:910753614"}}, "consumer"),
        ({"consumer": None}, "consumer"),
        ({"supplier": {"authority": "iso6523-actorid-upis", "ID": "0192:123"}}, "supplier"),
        ({"supplier": None}, "supplier"),
        ({"delegation_source": "https://www.altinn.no/"}, "delegation_source"),
        ({"delegation_source": None}, "delegation_source"),
        ({"client_id": "someone-else"}, "client_id"),
    ],
)
def test_delegated_token_failures(change: dict[str, object], claim: str) -> None:
    token = {k: v for k, v in {**SEED_004_DELEGATED, **change}.items() if v is not None}
    failures = claim_failures(token, DELEGATED)
    assert claims_of(failures) == [claim]
    assert failures[0].message


def test_supplier_on_an_own_token_is_reported() -> None:
    assert claims_of(claim_failures(SEED_004_DELEGATED, OWN)) == ["supplier"]


def test_scope_superset_is_fine() -> None:
    token = {**OWN_TOKEN, "scope": f"a:b {SCOPE} c:d"}
    assert claim_failures(token, OWN) == []


def test_missing_scopes_are_named() -> None:
    expected = ExpectedClaims(issuer=ISSUER, scopes=(SCOPE, "x:y", "z:w"), orgno="910753614")
    (failure,) = claim_failures(OWN_TOKEN, expected)
    assert "x:y z:w" in failure.message


@pytest.mark.parametrize(
    ("aud", "ok"),
    [
        ("https://api.example.no/", True),
        (["https://api.example.no/"], True),
        ("unspecified", False),
    ],
)
def test_resource_audience(aud: object, ok: bool) -> None:
    expected = ExpectedClaims(
        issuer=ISSUER, scopes=(SCOPE,), orgno="910753614", resource=("https://api.example.no/",)
    )
    assert (claim_failures({**OWN_TOKEN, "aud": aud}, expected) == []) is ok


def sign(key: PrivateKey, claims: dict[str, object], **header: str) -> SecretStr:
    return SecretStr(
        jwt.encode(
            claims, key.crypto_key, algorithm=key.algorithm, headers={"kid": key.kid, **header}
        )
    )


def fresh(claims: dict[str, object]) -> dict[str, object]:
    now = int(time.time())
    return {**claims, "iat": now, "exp": now + 120}


def key_set(*keys: PrivateKey) -> jwt.PyJWKSet:
    return jwt.PyJWKSet.from_dict({"keys": [public_jwk(k) for k in keys]})


def test_check_token_verifies_signature_then_claims(key: PrivateKey) -> None:
    token = sign(key, fresh(SEED_004_DELEGATED))
    assert check_token(token, key_set(key), DELEGATED) == []
    assert claims_of(check_token(token, key_set(key), OWN)) == ["supplier"]


def test_check_token_refuses_a_forged_signature(key: PrivateKey, other_key: PrivateKey) -> None:
    forged = sign(other_key.with_kid(key.kid), fresh(OWN_TOKEN))
    assert claims_of(check_token(forged, key_set(key), OWN)) == ["signature"]


def test_check_token_needs_a_known_kid(key: PrivateKey, other_key: PrivateKey) -> None:
    token = sign(other_key, fresh(OWN_TOKEN))
    assert claims_of(check_token(token, key_set(key), OWN)) == ["kid"]


def test_check_token_expired(key: PrivateKey) -> None:
    token = sign(key, OWN_TOKEN)
    assert claims_of(check_token(token, key_set(key), OWN)) == ["exp"]


def test_check_token_not_a_jwt(key: PrivateKey) -> None:
    assert claims_of(check_token(SecretStr("opaque"), key_set(key), OWN)) == ["token"]


def test_failure_messages_never_quote_the_token(key: PrivateKey, other_key: PrivateKey) -> None:
    for token in (sign(key, fresh(OWN_TOKEN)), sign(other_key.with_kid(key.kid), OWN_TOKEN)):
        secret = token.get_secret_value()
        for failure in check_token(token, key_set(key), DELEGATED):
            text = repr(failure) + failure.message
            assert all(part not in text for part in secret.split("."))
