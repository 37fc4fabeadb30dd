"""Compact JWS (RFC 7515) with RSA PKCS#1 v1.5 signatures: parse, verify, sign.

Owns the wire format of signed JWTs: grants received at `/token` and access tokens issued by
the emulator. Parsing is strict (three base64url parts, JSON objects). It must not judge
claims; `grant_checks` and `bearer` do that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mpctl.emulator.keys import b64url_decode, b64url_encode

_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}


class MalformedJwsError(ValueError):
    """The text is not a compact JWS with JSON-object header and payload."""


@dataclass(frozen=True)
class CompactJws:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    def __repr__(self) -> str:
        return f"CompactJws(alg={self.header.get('alg')!r}, claims={sorted(self.claims)!r})"


def parse_compact(token: str) -> CompactJws:
    """Split and decode a compact JWS without checking its signature."""
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJwsError("a compact JWS has three parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError:
        raise MalformedJwsError("a JWS part is not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise MalformedJwsError("JWS header and payload must be JSON objects")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    return CompactJws(header, claims, signing_input, signature)


def supported_algorithm(alg: object) -> bool:
    return isinstance(alg, str) and alg in _HASHES


def signature_is_valid(jws: CompactJws, key: rsa.RSAPublicKey) -> bool:
    """Verify with the algorithm named in the header (which must be RS256/384/512)."""
    alg = jws.header.get("alg")
    if not isinstance(alg, str) or alg not in _HASHES:
        return False
    try:
        key.verify(jws.signature, jws.signing_input, padding.PKCS1v15(), _HASHES[alg]())
    except InvalidSignature:
        return False
    return True


def sign(claims: dict[str, Any], key: rsa.RSAPrivateKey, header: dict[str, Any]) -> str:
    """Produce a compact JWS; `header` must carry an `alg` of RS256/384/512."""
    alg = header["alg"]
    encoded_header = b64url_encode(_canonical(header))
    encoded_claims = b64url_encode(_canonical(claims))
    signing_input = f"{encoded_header}.{encoded_claims}".encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), _HASHES[alg]())
    return f"{encoded_header}.{encoded_claims}.{b64url_encode(signature)}"


def _canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
