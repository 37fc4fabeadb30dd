"""Loading the admin client's credential: private key and business certificate chain or kid.

Owns `AdminKey` (the loaded material, with a repr that shows no key) and
`load_admin_credential`, which resolves `SecretSource` references (a file relative to the
manifests directory, or an environment variable) and parses them, decrypting an encrypted PEM
key with the credential's `passphrase` reference. `unset_variables` lists every `{env: NAME}`
reference of a credential that is unset, so one error names them all. Errors name the source
(path or variable name), never its content; a value that looks like a path where PEM was
expected gets the hint to use `{file: …}`. Must not send anything anywhere and must not log.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from mpctl.model import AdminCredential, SecretSource, rsa_members_fit
from mpctl.remote.errors import AdminCredentialError

_PATH_LIKE = re.compile(r"^(~|\.{1,2})?[/\\]|^[A-Za-z]:[/\\]|\.(pem|key|crt|cer|p8)$", re.I)
_NOT_PEM = {
    "admin private key": "a PEM private key",
    "admin certificate": "a PEM certificate chain",
}


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
    commands pass `cred.scopes_for("read")`. Every unset variable is named in one error.
    """
    _refuse_unset(cred, environ)
    key_pem = _read_source(cred.private_key, base_dir, environ, what="admin private key")
    private_key = _parse_private_key(key_pem, cred, _passphrase(cred, base_dir, environ))
    x5c: tuple[str, ...] = ()
    if cred.certificate is not None:
        cert_pem = _read_source(cred.certificate, base_dir, environ, what="admin certificate")
        certificates = _parse_certificate_chain(cert_pem, cred.certificate)
        _check_pair(certificates[0], private_key, _describe(cred.certificate))
        x5c = tuple(base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in certificates)
    return AdminKey(
        client_id=cred.client_id,
        private_key=private_key,
        scopes=cred.scopes if scopes is None else scopes,
        x5c=x5c,
        kid=cred.kid,
    )


def credential_sources(cred: AdminCredential) -> dict[str, SecretSource]:
    """The credential's references by field name, those it has."""
    named = {
        "private_key": cred.private_key,
        "certificate": cred.certificate,
        "passphrase": cred.passphrase,
    }
    return {field: source for field, source in named.items() if source is not None}


def unset_variables(cred: AdminCredential, environ: Mapping[str, str]) -> dict[str, str]:
    """Every `{env: NAME}` reference of `cred` whose variable is unset or empty: field name
    to variable name."""
    return {
        field: source.env
        for field, source in credential_sources(cred).items()
        if source.env is not None and not environ.get(source.env, "").strip()
    }


def _refuse_unset(cred: AdminCredential, environ: Mapping[str, str]) -> None:
    unset = unset_variables(cred, environ)
    if unset:
        listed = "; ".join(
            f"{variable} is not set (for {field})" for field, variable in unset.items()
        )
        raise AdminCredentialError(f"admin credential {cred.client_id}: {listed}", hint=UNSET_HINT)


UNSET_HINT = "set them all (in CI: as the job's secrets), or use {file: PATH} references"


def _passphrase(cred: AdminCredential, base_dir: Path, environ: Mapping[str, str]) -> bytes | None:
    if cred.passphrase is None:
        return None
    value = _read_source(cred.passphrase, base_dir, environ, what="admin key passphrase")
    return value.rstrip(b"\r\n")


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


def looks_like_path(value: bytes) -> bool:
    """True for a short one-line value such as `/path/key.pem`, `./x.pem` or `key.pem`: a
    path given where PEM content was expected."""
    text = value.strip()
    if b"-----BEGIN" in text or b"\n" in text or not 0 < len(text) <= 4096:
        return False
    return bool(_PATH_LIKE.search(text.decode("utf-8", "replace")))


def _not_pem(content: bytes, what: str, source: SecretSource) -> AdminCredentialError:
    """The error for content that holds no PEM, with the `{file: …}` hint for a path."""
    if source.env is not None and looks_like_path(content):
        return AdminCredentialError(
            f"{what} from environment variable {source.env} holds a file path, not PEM content",
            hint=f"to read that file, write {{file: PATH}} instead of {{env: {source.env}}} "
            "(or put the PEM itself in the variable)",
        )
    return AdminCredentialError(f"{what} from {_describe(source)} is not {_NOT_PEM[what]}")


def _is_encrypted(pem: bytes) -> bool:
    """PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional PEM with `Proc-Type: 4,ENCRYPTED`."""
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem or b"Proc-Type: 4,ENCRYPTED" in pem


def _parse_private_key(
    pem: bytes, cred: AdminCredential, passphrase: bytes | None
) -> RSAPrivateKey:
    source = _describe(cred.private_key)
    if b"-----BEGIN" not in pem:
        raise _not_pem(pem, "admin private key", cred.private_key)
    encrypted = _is_encrypted(pem)
    if encrypted and passphrase is None:
        raise AdminCredentialError(
            f"admin private key from {source} is encrypted and the credential has no passphrase",
            hint="add `passphrase: {env: NAME}` (or {file: PATH}) next to private_key",
        )
    try:
        key = load_pem_private_key(
            pem, password=passphrase if encrypted else None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError):
        if encrypted and cred.passphrase is not None:
            raise AdminCredentialError(
                f"the passphrase from {_describe(cred.passphrase)} does not decrypt the admin "
                f"private key from {source}",
                hint="check that the passphrase and the key belong together",
            ) from None
        raise AdminCredentialError(
            f"admin private key from {source} is not a PEM private key"
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise AdminCredentialError(f"admin private key from {source} is not an RSA key")
    if not rsa_members_fit(key.private_numbers()):  # OpenSSL's slower check was skipped above
        raise AdminCredentialError(
            f"admin private key from {source} is not a consistent RSA key (its members do not "
            "fit together)",
            hint="export the key again from where it was made",
        )
    return key


def _parse_certificate_chain(pem: bytes, source: SecretSource) -> list[x509.Certificate]:
    """The chain, leaf first, as the file holds it (x5c keeps that order)."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise _not_pem(pem, "admin certificate", source) from None


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
