"""Loading the admin client's credential: private key and business certificate chain or kid.

Owns `AdminKey` (the loaded material, with a repr that shows no key) and
`load_admin_credential`, which resolves `SecretSource` references (a file relative to the
manifests directory, or an environment variable) and parses them. Errors name the source (path
or variable name), never its content. Must not send anything anywhere and must not log.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from mpctl.model import AdminCredential, SecretSource
from mpctl.remote.errors import AdminCredentialError


class AdminKey:
    """The admin client's signing material. Its repr and str never show key material."""

    __slots__ = ("_private_key", "client_id", "kid", "scopes", "x5c")

    def __init__(
        self,
        *,
        client_id: str,
        private_key: RSAPrivateKey,
        scopes: tuple[str, ...],
        x5c: tuple[str, ...] = (),
        kid: str | None = None,
    ) -> None:
        if bool(x5c) == (kid is not None):
            raise AdminCredentialError("admin credential needs exactly one of x5c or kid")
        self.client_id = client_id
        self.scopes = scopes
        self.x5c = x5c
        self.kid = kid
        self._private_key = private_key

    @property
    def private_key(self) -> RSAPrivateKey:
        return self._private_key

    def __repr__(self) -> str:
        proof = f"x5c=<{len(self.x5c)} certificate(s)>" if self.x5c else f"kid={self.kid!r}"
        return f"AdminKey(client_id={self.client_id!r}, {proof}, private_key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("AdminKey holds a private key and is not picklable")


def load_admin_credential(
    cred: AdminCredential,
    base_dir: Path,
    environ: Mapping[str, str],
    *,
    scopes: tuple[str, ...] | None = None,
) -> AdminKey:
    """Read and parse the admin credential's private key and certificate chain (or kid).

    `scopes` are the ones the grant asks for (default: all the credential's scopes); reading
    commands pass `cred.scopes_for("read")`.
    """
    key_pem = _read_source(cred.private_key, base_dir, environ, what="admin private key")
    private_key = _parse_private_key(key_pem, _describe(cred.private_key))
    x5c: tuple[str, ...] = ()
    if cred.certificate is not None:
        cert_pem = _read_source(cred.certificate, base_dir, environ, what="admin certificate")
        certificates = _parse_certificate_chain(cert_pem, _describe(cred.certificate))
        _check_pair(certificates[0], private_key, _describe(cred.certificate))
        x5c = tuple(base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in certificates)
    return AdminKey(
        client_id=cred.client_id,
        private_key=private_key,
        scopes=cred.scopes if scopes is None else scopes,
        x5c=x5c,
        kid=cred.kid,
    )


def _read_source(
    source: SecretSource, base_dir: Path, environ: Mapping[str, str], *, what: str
) -> bytes:
    if source.env is not None:
        value = environ.get(source.env)
        if not value:
            raise AdminCredentialError(f"{what}: environment variable {source.env} is not set")
        return _unescape_newlines(value).encode()
    assert source.file is not None  # guaranteed by SecretSource's validator
    path = Path(source.file).expanduser()
    path = path if path.is_absolute() else base_dir / path
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AdminCredentialError(f"{what}: cannot read {path}: {exc.strerror}") from exc


def _unescape_newlines(value: str) -> str:
    """CI secrets often hold a PEM with literal `\\n`; turn those into real line breaks."""
    if "-----BEGIN" in value and "\n" not in value and "\\n" in value:
        return value.replace("\\n", "\n")
    return value


def _parse_private_key(pem: bytes, source: str) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise AdminCredentialError(
            f"admin private key from {source} is not an unencrypted PEM private key"
        ) from exc
    if not isinstance(key, RSAPrivateKey):
        raise AdminCredentialError(f"admin private key from {source} is not an RSA key")
    return key


def _parse_certificate_chain(pem: bytes, source: str) -> list[x509.Certificate]:
    """The chain, leaf first, as the file holds it (x5c keeps that order)."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise AdminCredentialError(
            f"admin certificate from {source} is not a PEM certificate chain"
        ) from exc


def _check_pair(leaf: x509.Certificate, private_key: RSAPrivateKey, source: str) -> None:
    """The first certificate must certify the private key, or every grant fails (MP-124)."""
    public_key = leaf.public_key()
    matches = isinstance(public_key, RSAPublicKey) and (
        public_key.public_numbers() == private_key.public_key().public_numbers()
    )
    if not matches:
        raise AdminCredentialError(
            f"the first certificate in {source} does not belong to the admin private key",
            hint="put the business certificate (leaf) first, then its issuers",
        )


def _describe(source: SecretSource) -> str:
    return f"environment variable {source.env}" if source.env else f"file {source.file}"
