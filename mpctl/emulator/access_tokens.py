"""The access tokens Maskinporten issues: claims, lifetime and the token response.

Owns what a successful `/token` returns: an RS256 JWT signed with the emulator's key (kid in
the header), with iss, client_id, client_amr, token_type, aud ("unspecified" or the
`resource`), scope, consumer, supplier and delegation_source for delegations, iat/exp/jti, and
`expires_in = min(client access_token_lifetime or 120, lowest non-zero at_max_age)`. It must
not decide whether a grant is acceptable.
"""

from __future__ import annotations

import secrets
from typing import Any

from mpctl.emulator.grant_checks import AcceptedGrant
from mpctl.emulator.jws import sign
from mpctl.emulator.key_material import private_key_of
from mpctl.emulator.state import EmulatorState, SigningKey
from mpctl.emulator.vocabulary import (
    CONSUMER_AUTHORITY,
    DEFAULT_ACCESS_TOKEN_LIFETIME,
    ICD_NORWEGIAN_ORGNO,
)


def party(orgno: str) -> dict[str, str]:
    return {"authority": CONSUMER_AUTHORITY, "ID": f"{ICD_NORWEGIAN_ORGNO}:{orgno}"}


def lifetime(grant: AcceptedGrant, state: EmulatorState) -> int:
    limits = [grant.client.access_token_lifetime or DEFAULT_ACCESS_TOKEN_LIFETIME]
    for name in grant.scopes:
        scope = state.scopes.get(name)
        if scope is not None and scope.at_max_age > 0:
            limits.append(scope.at_max_age)
    return min(limits)


def audience(resource: Any) -> Any:
    if resource is None:
        return "unspecified"
    if isinstance(resource, list) and len(resource) == 1:
        return resource[0]
    return resource


def token_claims(grant: AcceptedGrant, issuer: str, now: float, expires_in: int) -> dict[str, Any]:
    issued_at = int(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "client_id": grant.client.client_id,
        "client_amr": grant.client_amr,
        "token_type": "Bearer",
        "aud": audience(grant.resource),
        "scope": " ".join(grant.scopes),
        "consumer": party(grant.consumer_orgno),
        "client_orgno": grant.client.client_orgno,
        "iat": issued_at,
        "exp": issued_at + expires_in,
        "jti": secrets.token_urlsafe(32),
    }
    if grant.supplier_orgno is not None:
        claims["supplier"] = party(grant.supplier_orgno)
        claims["delegation_source"] = grant.delegation_source
    return claims


def token_response(
    grant: AcceptedGrant, state: EmulatorState, signing_key: SigningKey, issuer: str, now: float
) -> dict[str, Any]:
    """The JSON body of a successful token request."""
    expires_in = lifetime(grant, state)
    claims = token_claims(grant, issuer, now, expires_in)
    header = {"alg": "RS256", "kid": signing_key.kid}
    return {
        "access_token": sign(claims, private_key_of(signing_key), header),
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": claims["scope"],
    }
