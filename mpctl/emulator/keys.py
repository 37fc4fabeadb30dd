"""RSA key plumbing: generation, PEM, JWK members, thumbprints, and parse caches.

Owns conversions between `cryptography` key objects and their PEM/JWK forms, and the key
source used to create new keys (tests inject a pre-generated pool; RSA generation is slow).
It must not decide which keys are acceptable; `jwks_rules` does that.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KeySource = Callable[[], rsa.RSAPrivateKey]
RSA_KEY_BITS = 2048


def generate_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (the default key source)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raises ValueError on anything else."""
    if not isinstance(text, str) or any(char in text for char in "+/="):
        raise ValueError("not base64url")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def int_to_b64url(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def private_key_to_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


@lru_cache(maxsize=64)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parse (once) an unencrypted PEM RSA private key."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("expected an RSA private key")
    return key


@lru_cache(maxsize=1024)
def public_key_from_members(n: str, e: str) -> rsa.RSAPublicKey:
    """Build an RSA public key from base64url JWK members; raises ValueError when invalid."""
    modulus = int.from_bytes(b64url_decode(n), "big")
    exponent = int.from_bytes(b64url_decode(e), "big")
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def public_members(key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {"kty": "RSA", "n": int_to_b64url(numbers.n), "e": int_to_b64url(numbers.e)}


def thumbprint(key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), usable as a deterministic kid."""
    canonical = json.dumps(public_members(key), sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())
