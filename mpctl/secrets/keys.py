"""Key material: RSA signing keys, their public JWKs, RFC 7638 thumbprints and kid naming.

Owns `PrivateKey` (a wrapper whose `repr`/`str` never show key material), key generation with
the size rules of reliability.md S9, PEM and base64-JWK (Azure Key Vault, seed 001) import and
export, and altinn-jwks style kids (`name-ENV.YYYY-MM-DD`, seed 001). Must not do file or
network I/O, read the clock or log anything: callers pass `created_at` and write the bytes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Final, Literal, Protocol, get_args

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from mpctl.errors import MpctlError
from mpctl.model import KeyPolicy, KeySlot, rsa_members_fit, rsa_thumbprint

Algorithm = Literal["RS256", "RS384", "RS512"]
ALGORITHMS: Final[tuple[str, ...]] = get_args(Algorithm)
MIN_KEY_SIZE: Final = 2048
MAX_KEY_SIZE: Final = 8192
"""The largest key mpctl reads from outside (a base64 JWK): checking a huge one takes minutes."""
DEFAULT_KEY_SIZE: Final = 3072


class KeyMaterialError(MpctlError):
    """Key material is unusable (too small, not RSA, does not parse). Never quotes the key."""

    code = "KEY_MATERIAL"


class PrivateKey:
    """An RSA private key with its kid, algorithm and creation time.

    `repr` and `str` show only the kid, algorithm and size; the key itself is reachable through
    `crypto_key` for signing and through the explicit export functions of this module.
    """

    __slots__ = ("_crypto_key", "algorithm", "created_at", "kid")

    def __init__(
        self,
        crypto_key: rsa.RSAPrivateKey,
        *,
        kid: str,
        algorithm: str = "RS256",
        created_at: datetime,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise KeyMaterialError(f"algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
        if crypto_key.key_size < MIN_KEY_SIZE:
            raise KeyMaterialError(
                f"RSA key for kid {kid!r} has {crypto_key.key_size} bits; at least "
                f"{MIN_KEY_SIZE} are required (RFC 7518 §3.3)"
            )
        self._crypto_key = crypto_key
        self.kid = kid
        self.algorithm = algorithm
        self.created_at = created_at

    @property
    def crypto_key(self) -> rsa.RSAPrivateKey:
        return self._crypto_key

    @property
    def size(self) -> int:
        return self._crypto_key.key_size

    @property
    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self)

    @property
    def thumbprint(self) -> str:
        jwk = self.public_jwk
        return rsa_thumbprint(jwk["e"], jwk["n"])

    def slot(self, *, promoted_at: datetime | None = None) -> KeySlot:
        """The public view of this key as a sink reports it."""
        return KeySlot(
            kid=self.kid,
            thumbprint=self.thumbprint,
            algorithm=self.algorithm,
            created_at=self.created_at,
            promoted_at=promoted_at,
        )

    def with_kid(self, kid: str) -> PrivateKey:
        """The same key material under another kid (for a kid chosen after generation)."""
        return PrivateKey(
            self._crypto_key, kid=kid, algorithm=self.algorithm, created_at=self.created_at
        )

    def __repr__(self) -> str:
        return f"PrivateKey(kid={self.kid!r}, algorithm={self.algorithm!r}, size={self.size})"

    __str__ = __repr__


def generate_key(
    *, kid: str, created_at: datetime, algorithm: str = "RS256", size: int = DEFAULT_KEY_SIZE
) -> PrivateKey:
    """A fresh RSA key (public exponent 65537); refuses sizes below 2048 bits."""
    if size < MIN_KEY_SIZE:
        raise KeyMaterialError(
            f"key size {size} is below {MIN_KEY_SIZE} bits (RFC 7518 §3.3); use 3072",
            hint="set keys.size to 3072 or more",
        )
    crypto_key = rsa.generate_private_key(public_exponent=65537, key_size=size)
    return PrivateKey(crypto_key, kid=kid, algorithm=algorithm, created_at=created_at)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(key: PrivateKey) -> dict[str, str]:
    """The public JWK: kty, kid, alg, use, e, n. Never any private member (S7)."""
    numbers = key.crypto_key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": key.kid,
        "alg": key.algorithm,
        "use": "sig",
        "e": _b64url_uint(numbers.e),
        "n": _b64url_uint(numbers.n),
    }


def jwks_document(keys: Iterable[PrivateKey]) -> dict[str, list[dict[str, str]]]:
    """A public JWKS (`{"keys": [...]}`) for upload; public members only."""
    return {"keys": [public_jwk(key) for key in keys]}


def dated_kid(name: str, environment: str, day: date, existing: Iterable[str] = ()) -> str:
    """altinn-jwks style kid `name-ENV.YYYY-MM-DD`; `.2`, `.3`… when that kid already exists."""
    base = f"{name}-{environment.upper()}.{day.isoformat()}"
    taken = set(existing)
    if base not in taken:
        return base
    suffix = 2
    while f"{base}.{suffix}" in taken:
        suffix += 1
    return f"{base}.{suffix}"


def choose_kid(
    key: PrivateKey,
    *,
    kid_format: Literal["name-env-date", "thumbprint"],
    name: str,
    environment: str,
    day: date,
    existing: Iterable[str] = (),
) -> PrivateKey:
    """`key` renamed to the kid its policy asks for (dated, or its RFC 7638 thumbprint).

    A dated kid is `name-ENV.YYYY-MM-DD` for the day's first key. When the client already
    holds a kid of that day, the new key's kid ends in eight characters of its own thumbprint
    (`….2026-12-04.k3Xb9Q2a`), not `.2`: a sequential suffix would be handed out again once the
    key that had it was revoked (say, as compromised), and a kid must never name other key
    material, or a verifier's cache keyed by kid could still hold the revoked key.
    """
    if kid_format == "thumbprint":
        return key.with_kid(key.thumbprint)
    base = dated_kid(name, environment, day)
    if not any(kid == base or kid.startswith(f"{base}.") for kid in existing):
        return key.with_kid(base)
    return key.with_kid(f"{base}.{key.thumbprint[:8]}")


UNNAMED: Final = "unnamed"
"""The kid of a key generated before its client's registered kids are known
(`name_for_policy` names it)."""


def name_for_policy(
    key: PrivateKey,
    policy: KeyPolicy,
    *,
    client: str,
    environment: str,
    existing_kids: Iterable[str] = (),
) -> PrivateKey:
    """`key` (made on `key.created_at`) with the kid `policy`'s format gives it beside
    `existing_kids` (see `choose_kid`)."""
    return choose_kid(
        key,
        kid_format=policy.kid_format,
        name=client,
        environment=environment,
        day=key.created_at.date(),
        existing=existing_kids,
    )


def to_pem(key: PrivateKey) -> str:
    """Unencrypted PKCS#8 PEM of the private key. The caller keeps it out of logs."""
    return key.crypto_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _load_pem(pem: str) -> PrivateKeyTypes | None:
    # Parse errors are swallowed here and raised by the caller outside the `except` block, so
    # no exception context can carry the input around. OpenSSL's own check of an RSA key is
    # skipped here and `rsa_members_fit` stands in for it (see there).
    try:
        return serialization.load_pem_private_key(
            pem.encode("utf-8"), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm):
        return None


class RecordedKey(Protocol):
    """What a sink records beside a stored key: who it is and which key material it must be."""

    @property
    def kid(self) -> str: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def thumbprint(self) -> str: ...


def key_for_record(pem: str, record: RecordedKey) -> PrivateKey:
    """The private key `pem` holds, named and dated as `record` says; `KeyMaterialError` when
    it does not parse or is not the key the record's thumbprint names (a swapped value)."""
    key = from_pem(pem, kid=record.kid, algorithm=record.algorithm, created_at=record.created_at)
    if key.thumbprint != record.thumbprint:
        raise KeyMaterialError("does not match its recorded thumbprint")
    return key


def from_pem(pem: str, *, kid: str, created_at: datetime, algorithm: str = "RS256") -> PrivateKey:
    """Parse an unencrypted PEM private key (PKCS#8 or PKCS#1). Errors never quote the input."""
    loaded = _load_pem(pem)
    if loaded is None:
        raise KeyMaterialError(f"the private key for kid {kid!r} is not a readable unencrypted PEM")
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise KeyMaterialError(f"the private key for kid {kid!r} is not an RSA key")
    if loaded.key_size > MAX_KEY_SIZE:
        raise KeyMaterialError(
            f"the private key for kid {kid!r} has {loaded.key_size} bits; mpctl reads keys of "
            f"at most {MAX_KEY_SIZE}"
        )
    if not rsa_members_fit(loaded.private_numbers()):
        raise KeyMaterialError(f"the private key for kid {kid!r} is not a consistent RSA key")
    return PrivateKey(loaded, kid=kid, algorithm=algorithm, created_at=created_at)


def private_jwk(key: PrivateKey) -> dict[str, str]:
    """The full private JWK (public members plus d, p, q, dp, dq, qi). Secret: handle with care."""
    numbers = key.crypto_key.private_numbers()
    members = {
        "d": numbers.d,
        "p": numbers.p,
        "q": numbers.q,
        "dp": numbers.dmp1,
        "dq": numbers.dmq1,
        "qi": numbers.iqmp,
    }
    return public_jwk(key) | {name: _b64url_uint(value) for name, value in members.items()}


def to_private_jwk_base64(key: PrivateKey) -> str:
    """base64 of the compact private JWK JSON, as `altinn-jwks export key --base64` gives it."""
    document = json.dumps(private_jwk(key), separators=(",", ":"), sort_keys=True)
    return base64.b64encode(document.encode("utf-8")).decode("ascii")


def _b64url_to_int(value: object) -> int:
    if not isinstance(value, str):
        raise TypeError("JWK member is not a string")
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def _rsa_from_private_jwk(document: Mapping[str, object]) -> rsa.RSAPrivateKey:
    """altinn-jwks writes `"oth": []`, which PyJWT refuses; an empty `oth` is harmless."""
    if document.get("kty") != "RSA" or document.get("oth"):
        raise ValueError("not a two-prime RSA JWK")
    n, e, d, p, q, dp, dq, qi = (
        _b64url_to_int(document[name]) for name in ("n", "e", "d", "p", "q", "dp", "dq", "qi")
    )
    if n.bit_length() > MAX_KEY_SIZE:
        raise ValueError("modulus too large")
    numbers = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n))
    if not rsa_members_fit(numbers):
        raise ValueError("not a consistent RSA key")
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


def _load_jwk_base64(value: str) -> tuple[dict[str, object], rsa.RSAPrivateKey] | None:
    # As in `_load_pem`: no exception (or its context) may carry the secret input.
    try:
        document = json.loads(base64.b64decode(value.strip(), validate=True))
        return document, _rsa_from_private_jwk(document)
    except (ValueError, TypeError, KeyError, AttributeError, UnsupportedAlgorithm):
        return None


def from_private_jwk_base64(value: str, *, created_at: datetime) -> PrivateKey:
    """Parse a base64 private JWK (altinn-jwks / Azure Key Vault format)."""
    loaded = _load_jwk_base64(value)
    if loaded is None:
        raise KeyMaterialError("the value is not a base64-encoded private RSA JWK")
    document, crypto_key = loaded
    kid = document.get("kid")
    algorithm = document.get("alg", "RS256")
    if not isinstance(kid, str) or not isinstance(algorithm, str):
        raise KeyMaterialError("the base64 JWK has no string 'kid'/'alg'")
    return PrivateKey(crypto_key, kid=kid, algorithm=algorithm, created_at=created_at)
