"""The JWT grant a client signs to ask Maskinporten for a token (RFC 7523 §2.1, reference §7.2-7.3).

Owns the grant's header (`alg` RS256/384/512 and `kid`) and claims (`aud` = issuer exactly,
`iss` = client_id, space-separated `scope`, `iat`, `exp` at most 120 s later, `jti`, and the
optional `consumer_org` and `resource`). Pure given the clock value and the jti the caller
passes. Must not send anything, read the clock, or let the signed grant show in a repr.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt
from pydantic import SecretStr

from mpctl.model.identifiers import orgno_problem
from mpctl.model.resources import MAX_GRANT_LIFETIME_SECONDS
from mpctl.secrets import PrivateKey
from mpctl.verify.errors import GrantError


@dataclass(frozen=True)
class GrantRequest:
    """What to ask for: who asks, from which issuer, which scopes, for whom."""

    client_id: str
    issuer: str
    scopes: tuple[str, ...]
    consumer_org: str | None = None
    resource: tuple[str, ...] = ()
    lifetime: int = MAX_GRANT_LIFETIME_SECONDS


def new_jti() -> str:
    """A fresh, unique grant id (Maskinporten refuses a reused one: MP-012)."""
    return str(uuid.uuid4())


def grant_claims(request: GrantRequest, *, issued_at: int, jti: str) -> dict[str, object]:
    """The grant's claims; refuses anything Maskinporten would refuse for its shape."""
    _check(request, jti)
    claims: dict[str, object] = {
        "aud": request.issuer,
        "iss": request.client_id,
        "scope": " ".join(request.scopes),
        "iat": issued_at,
        "exp": issued_at + request.lifetime,
        "jti": jti,
    }
    if request.consumer_org is not None:
        claims["consumer_org"] = request.consumer_org
    if request.resource:
        claims["resource"] = list(request.resource)
    return claims


def grant_header(key: PrivateKey) -> dict[str, str]:
    """The JWS header members mpctl sets: the key's pinned `alg` and its `kid`."""
    return {"alg": key.algorithm, "kid": key.kid}


def sign_grant(key: PrivateKey, request: GrantRequest, *, issued_at: int, jti: str) -> SecretStr:
    """The signed grant (compact JWS), wrapped so it never shows in a repr or a log line."""
    claims = grant_claims(request, issued_at=issued_at, jti=jti)
    token = jwt.encode(claims, key.crypto_key, algorithm=key.algorithm, headers={"kid": key.kid})
    return SecretStr(token)


def _check(request: GrantRequest, jti: str) -> None:
    if not request.client_id.strip():
        raise GrantError("the grant needs a client_id for 'iss'")
    if not request.issuer.endswith("/"):
        raise GrantError(
            f"issuer {request.issuer!r} must end with '/': 'aud' is the issuer exactly (MP-110)",
            hint="use e.g. https://test.maskinporten.no/ (with the trailing slash)",
        )
    if not 1 <= request.lifetime <= MAX_GRANT_LIFETIME_SECONDS:
        raise GrantError(
            f"grant lifetime {request.lifetime}s is outside 1..{MAX_GRANT_LIFETIME_SECONDS}s "
            "(Maskinporten requires exp - iat <= 120)"
        )
    if not request.scopes or any(not s or any(c.isspace() for c in s) for s in request.scopes):
        raise GrantError("the grant needs at least one scope, each without spaces")
    if request.consumer_org is not None and (problem := orgno_problem(request.consumer_org)):
        raise GrantError(f"consumer_org: {problem}")
    if not jti:
        raise GrantError("the grant needs a non-empty jti")
