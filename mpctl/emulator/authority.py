"""The emulator's business-certificate authorities ("virksomhetssertifikat" CAs).

Owns certificate crypto: creating a CA per environment, issuing an organisation certificate
(orgno in subject `serialNumber` and `organizationIdentifier` = `NTRNO-<orgno>`), and checking
an `x5c` chain against the trusted CA. It must not read or write state or files.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ORGANIZATION_IDENTIFIER: Final = x509.ObjectIdentifier("2.5.4.97")
_CA_LIFETIME: Final = timedelta(days=20 * 365)
_CERTIFICATE_LIFETIME: Final = timedelta(days=3 * 365)
_BACKDATE: Final = timedelta(hours=1)


class MalformedChainError(ValueError):
    """`x5c` is not an array of base64 DER certificates."""


class UntrustedCertificateError(ValueError):
    """The certificate is not issued by the trusted CA, or is outside its validity period."""


def _moment(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def create_authority(key: rsa.RSAPrivateKey, environment: str, now: float) -> str:
    """A self-signed CA certificate (PEM) for business certificates of `environment`."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mpctl emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"mpctl emulator {environment.upper()} CA"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_moment(now) - _BACKDATE)
        .not_valid_after(_moment(now) + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def issue_certificate(
    authority_pem: str,
    authority_key: rsa.RSAPrivateKey,
    *,
    subject_key: rsa.RSAPublicKey,
    orgno: str,
    org_name: str,
    now: float,
) -> str:
    """An organisation certificate (PEM) signed by the given CA."""
    authority = x509.load_pem_x509_certificate(authority_pem.encode("ascii"))
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.COMMON_NAME, org_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, orgno),
            x509.NameAttribute(ORGANIZATION_IDENTIFIER, f"NTRNO-{orgno}"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.subject)
        .public_key(subject_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_moment(now) - _BACKDATE)
        .not_valid_after(_moment(now) + _CERTIFICATE_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_signing_usage(), critical=True)
        .sign(authority_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _signing_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def leaf_from_x5c(x5c: object) -> x509.Certificate:
    """The first certificate of an `x5c` header member (a JSON array of base64 DER strings)."""
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise MalformedChainError("x5c must be a non-empty array of strings")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(x5c[0], validate=True))
    except (ValueError, binascii.Error):
        raise MalformedChainError("x5c[0] is not a base64 DER certificate") from None


def check_trusted(leaf: x509.Certificate, authority_pem: str | None, now: float) -> None:
    """Raise `UntrustedCertificateError` unless `leaf` is issued by the CA and valid at `now`."""
    if authority_pem is None:
        raise UntrustedCertificateError("no CA is trusted in this environment yet")
    authority = x509.load_pem_x509_certificate(authority_pem.encode("ascii"))
    try:
        leaf.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature):
        raise UntrustedCertificateError("not issued by the trusted CA") from None
    moment = _moment(now)
    if not leaf.not_valid_before_utc <= moment <= leaf.not_valid_after_utc:
        raise UntrustedCertificateError("outside the certificate's validity period")


def certificate_orgno(leaf: x509.Certificate) -> str | None:
    """The organisation number in the subject (`NTRNO-` identifier first, then serialNumber)."""
    for attribute in leaf.subject.get_attributes_for_oid(ORGANIZATION_IDENTIFIER):
        value = attribute.value
        if isinstance(value, str) and value.startswith("NTRNO-"):
            return value.removeprefix("NTRNO-")
    for attribute in leaf.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        if isinstance(attribute.value, str):
            return attribute.value
    return None


def certificate_public_key(leaf: x509.Certificate) -> rsa.RSAPublicKey:
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise UntrustedCertificateError("business certificates carry RSA keys")
    return key
