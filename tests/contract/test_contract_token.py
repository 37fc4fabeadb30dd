"""Contract: the Maskinporten token endpoint, metadata and signing keys, reference §7."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from .digdir_http import DigdirTarget, public_jwk

TRACE = re.compile(r" \(trace_id: [0-9a-f]+\)$")


@pytest.fixture
async def registered(
    target: DigdirTarget, own_scope: str, client_keys: list[rsa.RSAPrivateKey]
) -> dict[str, Any]:
    """A client with one registered key ("contract-key", client_keys[0])."""
    client = await target.create_client([own_scope])
    keys = {"keys": [public_jwk(client_keys[0], "contract-key")]}
    response = await target.call("POST", f"clients/{client['client_id']}/jwks", json=keys)
    assert response.status_code == 200, response.text
    return {"client_id": client["client_id"], "scope": own_scope, "key": client_keys[0]}


def grant_for(target: DigdirTarget, registered: dict[str, Any], **claims: Any) -> str:
    headers = claims.pop("headers", {"kid": "contract-key"})
    key = claims.pop("key", registered["key"])
    return target.grant(
        claims.pop("iss", registered["client_id"]),
        claims.pop("scope", registered["scope"]),
        key,
        headers=headers,
        **claims,
    )


def assert_mp_error(response: httpx.Response, error: str, text: str, code: str | None) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_description"].startswith(text)
    assert TRACE.search(body["error_description"])
    if code is not None:
        assert body["error_uri"].endswith(f"/errors/{code}")


async def test_metadata_describes_the_issuer(target: DigdirTarget) -> None:
    response = await target.maskinporten.get(".well-known/oauth-authorization-server")
    metadata = response.json()
    assert metadata["issuer"] == target.issuer
    assert metadata["issuer"].endswith("/")
    assert metadata["token_endpoint"].startswith(metadata["issuer"])
    assert metadata["grant_types_supported"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert set(metadata["token_endpoint_auth_signing_alg_values_supported"]) == {
        "RS256",
        "RS384",
        "RS512",
    }


async def test_token_for_a_registered_key(target: DigdirTarget, registered: dict[str, Any]) -> None:
    response = await target.token_after_propagation(lambda: grant_for(target, registered))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 120
    assert body["scope"] == registered["scope"]
    assert response.headers["cache-control"] == "no-store"
    jwks = (await target.maskinporten.get("jwk")).json()
    header = jwt.get_unverified_header(body["access_token"])
    signing = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        body["access_token"],
        jwt.PyJWK(signing).key,
        algorithms=["RS256"],
        options={"verify_aud": False},
    )
    assert claims["iss"] == target.issuer
    assert claims["client_id"] == registered["client_id"]
    assert claims["client_amr"] == "private_key_jwt"
    assert claims["aud"] == "unspecified"
    assert claims["scope"] == registered["scope"]
    assert claims["consumer"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{target.orgno}"}
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert "supplier" not in claims


async def test_resource_becomes_the_audience(
    target: DigdirTarget, registered: dict[str, Any]
) -> None:
    response = await target.token_after_propagation(
        lambda: grant_for(target, registered, resource=["https://api.example.no/"])
    )
    token = response.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "https://api.example.no/"


async def test_nbf_is_tolerated(target: DigdirTarget, registered: dict[str, Any]) -> None:
    now = int(target.clock())
    response = await target.token_after_propagation(lambda: grant_for(target, registered, nbf=now))
    assert response.status_code == 200, response.text


async def test_unknown_client_is_mp_100(target: DigdirTarget, registered: dict[str, Any]) -> None:
    response = await target.token(grant_for(target, registered, iss="no-such-client"))
    assert_mp_error(
        response, "invalid_grant", "Invalid assertion. Client authentication failed.", "MP-100"
    )


@pytest.mark.parametrize("audience", ["token-endpoint", "no-slash", "array"])
async def test_audience_must_be_exactly_the_issuer(
    target: DigdirTarget, registered: dict[str, Any], audience: str
) -> None:
    wrong = {
        "token-endpoint": f"{target.issuer}token",
        "no-slash": target.issuer.rstrip("/"),
        "array": [target.issuer, "https://other.example/"],
    }[audience]
    response = await target.token_after_propagation(
        lambda: grant_for(target, registered, aud=wrong)
    )
    assert_mp_error(
        response,
        "invalid_grant",
        "Invalid assertion. Client authentication failed. Invalid JWT claim aud",
        "MP-110",
    )


async def test_wrong_signature_is_mp_124(
    target: DigdirTarget, registered: dict[str, Any], client_keys: list[rsa.RSAPrivateKey]
) -> None:
    response = await target.token_after_propagation(
        lambda: grant_for(target, registered, key=client_keys[1])
    )
    assert_mp_error(
        response,
        "invalid_grant",
        "Invalid assertion. Client authentication failed. Invalid JWT signature.",
        "MP-124",
    )


async def test_unknown_kid(target: DigdirTarget, registered: dict[str, Any]) -> None:
    response = await target.token(grant_for(target, registered, headers={"kid": "never-posted"}))
    assert_mp_error(
        response,
        "invalid_grant",
        "Invalid assertion. Client authentication failed. Unknown key identifier (kid) for client.",
        None,
    )


async def test_client_with_keys_requires_kid(
    target: DigdirTarget, registered: dict[str, Any]
) -> None:
    response = await target.token_after_propagation(
        lambda: grant_for(
            target, registered, headers={"x5c": target.admin.x5c}, key=target.admin.private_key
        )
    )
    assert_mp_error(
        response,
        "invalid_grant",
        "Invalid assertion. Client authentication failed. Invalid JWT. The client requires "
        "pre-registered jwk and no key identifier (kid) provided",
        None,
    )


async def test_issue_time_in_the_future(target: DigdirTarget, registered: dict[str, Any]) -> None:
    now = int(target.clock())
    response = await target.token_after_propagation(
        lambda: grant_for(target, registered, iat=now + 60, exp=now + 170)
    )
    assert_mp_error(response, "invalid_grant", "Issue time is after now", None)


@pytest.mark.parametrize("case", ["expired", "too-long", "too-old"])
async def test_expired_or_too_long_grants_are_mp_130(
    target: DigdirTarget, registered: dict[str, Any], case: str
) -> None:
    now = int(target.clock())
    iat, exp = {
        "expired": (now - 5, now - 1),
        "too-long": (now, now + 121),
        "too-old": (now - 30, now + 60),
    }[case]
    response = await target.token_after_propagation(
        lambda: grant_for(target, registered, iat=iat, exp=exp)
    )
    assert_mp_error(response, "invalid_grant", "JWT is expired", "MP-130")


async def test_unknown_claims_are_mp_011(target: DigdirTarget, registered: dict[str, Any]) -> None:
    response = await target.token_after_propagation(
        lambda: grant_for(target, registered, favourite_colour="blue")
    )
    assert_mp_error(
        response, "invalid_request", "Invalid assertion. Invalid parameter value", "MP-011"
    )


async def test_a_grant_is_used_once(target: DigdirTarget, registered: dict[str, Any]) -> None:
    assertion = grant_for(target, registered)
    first = await target.token_after_propagation(lambda: assertion)
    assert first.status_code == 200, first.text
    second = await target.token(assertion)
    assert second.status_code == 400
    assert second.json()["error_description"].startswith("Grant is used before")


async def test_unregistered_scope_is_mp_200(
    target: DigdirTarget, registered: dict[str, Any], own_scope: str
) -> None:
    subscope = f"contract.o{uuid.uuid4().hex[:8]}"
    body = {"prefix": target.scope_prefix, "subscope": subscope, "description": "not on client"}
    assert (await target.call("POST", "scopes", json=body)).status_code in (200, 201)
    other = f"{target.scope_prefix}:{subscope}"
    response = await target.token_after_propagation(
        lambda: grant_for(target, registered, scope=f"{own_scope} {other}")
    )
    await target.call("DELETE", "scopes", params={"scope": other})
    assert_mp_error(
        response,
        "invalid_scope",
        f"Token request contains invalid scopes for client, {other}",
        "MP-200",
    )
