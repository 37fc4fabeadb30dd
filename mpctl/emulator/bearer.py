"""Who is calling the self-service API: bearer-token checks and admin-scope requirements.

Owns verification of the access tokens this emulator issued (signature with its own key,
issuer, expiry, consumer org) and the 401/403 answers. It must not look at the objects being
accessed; ownership (404 for other organisations' objects) is checked by each API module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from mpctl.emulator.errors import ApiError
from mpctl.emulator.jws import MalformedJwsError, parse_compact, signature_is_valid
from mpctl.emulator.key_material import private_key_of
from mpctl.emulator.state import EmulatorState

_CONSUMER_ID: Final = re.compile(r"^0192:(\d{9})\Z")
_CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="digdir-selfservice"'}


@dataclass(frozen=True)
class Caller:
    """The organisation and admin scopes behind a valid bearer token."""

    client_id: str
    orgno: str
    scopes: frozenset[str]

    def has_any(self, scopes: Iterable[str]) -> bool:
        return not self.scopes.isdisjoint(scopes)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, object_name="Authorization", headers=dict(_CHALLENGE))


def authenticate(
    authorization: str | None, state: EmulatorState, issuer: str, now: float
) -> Caller:
    """The caller behind an `Authorization: Bearer` header, or 401."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Full authentication is required to access this resource")
    claims = _verified_claims(token.strip(), state)
    if claims is None or not _claims_valid(claims, issuer, now):
        raise _unauthorized("Invalid or expired access token")
    consumer = _CONSUMER_ID.match(str(claims["consumer"].get("ID")))
    assert consumer is not None, "checked by _claims_valid"
    return Caller(
        client_id=str(claims.get("client_id")),
        orgno=consumer.group(1),
        scopes=frozenset(str(claims["scope"]).split()),
    )


def _verified_claims(token: str, state: EmulatorState) -> dict[str, Any] | None:
    if state.signing_key is None:
        return None
    try:
        jws = parse_compact(token)
    except MalformedJwsError:
        return None
    if jws.header.get("alg") != "RS256" or jws.header.get("kid") != state.signing_key.kid:
        return None
    public_key = private_key_of(state.signing_key).public_key()
    return jws.claims if signature_is_valid(jws, public_key) else None


def _claims_valid(claims: dict[str, Any], issuer: str, now: float) -> bool:
    expiry = claims.get("exp")
    consumer = claims.get("consumer")
    return (
        claims.get("iss") == issuer
        and isinstance(expiry, int)
        and expiry > now
        and isinstance(claims.get("scope"), str)
        and isinstance(consumer, dict)
        and _CONSUMER_ID.match(str(consumer.get("ID"))) is not None
    )


def require_any(caller: Caller, acceptable: Iterable[str]) -> None:
    """403 unless the caller's token holds at least one of the `acceptable` scopes."""
    wanted = sorted(set(acceptable))
    if not caller.has_any(wanted):
        message = f"Access token lacks a required scope (one of: {', '.join(wanted)})"
        raise ApiError(403, message, object_name="Authorization")
