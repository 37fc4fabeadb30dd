"""The one JWT grant builder: what a client signs to ask Maskinporten for a token (RFC 7523).

Owns `GrantRequest` (who asks, at which issuer, for which scopes, for whom), `SigningKey` (the
RSA key with its `alg` and its `kid` or `x5c` chain), the claims (`aud` = issuer exactly,
`iss` = client_id, space-separated `scope`, `iat`, `exp` at most 120 s later, a fresh `jti`,
optional `consumer_org` and `resource`), the checks Maskinporten would refuse a grant for, and
`fresh_grants`, a factory signing a new grant per attempt. Used by the admin token and by
verify alike. Must not send anything, and never lets a signed grant or a key show in a repr.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import SecretStr

from mpctl.errors import UserError
from mpctl.model import MAX_GRANT_LIFETIME_SECONDS, orgno_problem

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_LIFETIME = MAX_GRANT_LIFETIME_SECONDS
GrantFactory = Callable[[], SecretStr]


class GrantError(UserError):
    """The JWT grant mpctl was asked to build breaks one of Maskinporten's rules (§7.2-7.3)."""

    code = "GRANT"


@dataclass(frozen=True)
class GrantRequest:
    """What to ask for: who asks, from which issuer, which scopes, for whom."""

    client_id: str
    issuer: str
    scopes: tuple[str, ...]
    consumer_org: str | None = None
    resource: tuple[str, ...] = ()
    lifetime: int = GRANT_LIFETIME


class SigningKey:
    """An RSA private key as a grant signs with it: `alg`, and `kid` and/or an `x5c` chain.

    Its repr and str never show key material; it cannot be pickled.
    """

    __slots__ = ("_private_key", "algorithm", "kid", "x5c")

    def __init__(
        self,
        private_key: RSAPrivateKey,
        *,
        algorithm: str = "RS256",
        kid: str | None = None,
        x5c: tuple[str, ...] = (),
    ) -> None:
        if kid is None and not x5c:
            raise GrantError("a signing key needs a kid or an x5c certificate chain")
        self._private_key = private_key
        self.algorithm = algorithm
        self.kid = kid
        self.x5c = x5c

    def sign(self, claims: dict[str, object]) -> SecretStr:
        """The compact JWS of `claims`, wrapped so it never shows in a repr or a log line."""
        header: dict[str, object] = {"x5c": list(self.x5c)} if self.x5c else {}
        if self.kid is not None:
            header["kid"] = self.kid
        token = jwt.encode(claims, self._private_key, algorithm=self.algorithm, headers=header)
        return SecretStr(token)

    def __repr__(self) -> str:
        proof = f"x5c=<{len(self.x5c)} certificate(s)>" if self.x5c else f"kid={self.kid!r}"
        return f"SigningKey({self.algorithm}, {proof}, private_key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("SigningKey holds a private key and is not picklable")


def new_jti() -> str:
    """A fresh, unique grant id (Maskinporten refuses a reused one: MP-012)."""
    return str(uuid.uuid4())


def grant_claims(request: GrantRequest, *, issued_at: int, jti: str) -> dict[str, object]:
    """The grant's claims; refuses anything Maskinporten would refuse for its shape."""
    check_request(request)
    if not jti:
        raise GrantError("the grant needs a non-empty jti")
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


def sign_grant(key: SigningKey, request: GrantRequest, *, issued_at: int, jti: str) -> SecretStr:
    """The signed grant for `request`, pure given the clock value and the jti."""
    return key.sign(grant_claims(request, issued_at=issued_at, jti=jti))


def fresh_grants(
    key: SigningKey,
    request: GrantRequest,
    *,
    clock: Callable[[], float] = time.time,
    jti: Callable[[], str] = new_jti,
) -> GrantFactory:
    """A factory signing a new grant (current iat, fresh jti) each time it is called."""
    check_request(request)

    def make() -> SecretStr:
        return sign_grant(key, request, issued_at=int(clock()), jti=jti())

    return make


def check_request(request: GrantRequest) -> None:
    """Refuse a request whose grant Maskinporten would refuse for its shape (GrantError)."""
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
