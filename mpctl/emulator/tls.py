"""TLS for `mpctl emulator serve --tls`: a loopback CA and a server certificate, made once.

Owns `ensure_tls_files`: in a directory (the state file's), a self-signed CA certificate
(`tls-ca.pem`, what an environment's `ca_bundle` names) and a server certificate for
127.0.0.1, ::1 and localhost signed by it, with the server's private key written 0600. The
CA's private key is used once to sign and never written, so nothing can issue another
certificate from it. Files already there are reused while they are valid. It must not serve
or read the emulator state; these certificates have nothing to do with business certificates.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mpctl.errors import UserError
from mpctl.files import PRIVATE_MODE, PUBLIC_MODE, write_atomically

_LIFETIME: Final = timedelta(days=825)
_RENEW_BEFORE: Final = timedelta(days=7)
_BACKDATE: Final = timedelta(minutes=5)
_LOOPBACK_NAMES: Final = ("localhost",)
_LOOPBACK_ADDRESSES: Final = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    """Where the loopback CA, the server certificate and its key (0600) are."""

    ca: Path
    certificate: Path
    key: Path

    @classmethod
    def in_directory(cls, directory: Path) -> TlsFiles:
        return cls(
            directory / "tls-ca.pem",
            directory / "tls-server.pem",
            directory / "tls-server-key.pem",
        )


def ensure_tls_files(directory: Path) -> TlsFiles:
    """The TLS files in `directory`, made (all three together) when any is missing or expiring."""
    files = TlsFiles.in_directory(directory)
    if not _usable(files):
        _write_new(files)
    return files


def _usable(files: TlsFiles) -> bool:
    if not (files.ca.is_file() and files.certificate.is_file() and files.key.is_file()):
        return False
    try:
        ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
        server = x509.load_pem_x509_certificate(files.certificate.read_bytes())
        server.verify_directly_issued_by(ca)
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    except (ValueError, TypeError, OSError):
        return False
    if key.public_key() != server.public_key():
        return False
    files.key.chmod(PRIVATE_MODE)
    return server.not_valid_after_utc - _RENEW_BEFORE > datetime.now(UTC)


def _write_new(files: TlsFiles) -> None:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _authority(ca_key, now)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _server_certificate(ca, ca_key, server_key.public_key(), now)
    try:
        write_atomically(files.key, _private_pem(server_key), mode=PRIVATE_MODE)
        write_atomically(files.certificate, _pem(server), mode=PUBLIC_MODE)
        write_atomically(files.ca, _pem(ca), mode=PUBLIC_MODE)
    except OSError as error:
        raise UserError(
            f"cannot write the emulator's TLS files in {files.ca.parent}: {error.strerror}",
            hint="pick a writable directory with --tls-dir",
        ) from None


def _authority(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mpctl emulator loopback TLS CA")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
) -> x509.Certificate:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in _LOOPBACK_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in _LOOPBACK_ADDRESSES]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signs_certificates=False), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
