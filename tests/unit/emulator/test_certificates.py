"""The emulator's business-certificate CAs and `issue_business_certificate`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from mpctl.emulator import EmulatorSettings, FrozenClock, issue_business_certificate
from mpctl.emulator.authority import (
    ORGANIZATION_IDENTIFIER,
    UntrustedCertificateError,
    certificate_orgno,
    check_trusted,
    create_authority,
    issue_certificate,
)
from mpctl.emulator.keys import KeySource
from mpctl.errors import UserError

NOW = 1_780_000_000.0


def issue(tmp_path: Path, key_source: KeySource, orgno: str, **kw: object) -> x509.Certificate:
    settings = EmulatorSettings(state_path=tmp_path / "state.json")
    cert, key = tmp_path / f"{orgno}.crt", tmp_path / f"{orgno}.key"
    issue_business_certificate(settings, orgno, cert, key, key_source=key_source, **kw)  # type: ignore[arg-type]
    return x509.load_pem_x509_certificate(cert.read_bytes())


def test_certificate_carries_the_orgno_twice(tmp_path: Path, key_source: KeySource) -> None:
    certificate = issue(tmp_path, key_source, "313367002", org_name="ACME AS")
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "313367002"
    identifier = subject.get_attributes_for_oid(ORGANIZATION_IDENTIFIER)[0].value
    assert identifier == "NTRNO-313367002"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME AS"
    assert certificate_orgno(certificate) == "313367002"


def test_key_file_is_private_and_matches(tmp_path: Path, key_source: KeySource) -> None:
    certificate = issue(tmp_path, key_source, "313367002")
    key_path = tmp_path / "313367002.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.public_key().public_numbers() == certificate.public_key().public_numbers()  # type: ignore[union-attr]


def test_the_ca_is_stable_across_calls(tmp_path: Path, key_source: KeySource) -> None:
    first = issue(tmp_path, key_source, "313367002")
    second = issue(tmp_path, key_source, "910753614")
    state = json.loads((tmp_path / "state.json").read_text())
    authority = state["authorities"]["test"]["certificate_pem"]
    check_trusted(first, authority, first.not_valid_before_utc.timestamp() + 60)
    check_trusted(second, authority, second.not_valid_before_utc.timestamp() + 60)
    assert first.issuer.rfc4514_string().startswith("CN=mpctl emulator TEST CA")


def test_prod_certificates_come_from_another_ca(tmp_path: Path, key_source: KeySource) -> None:
    test = issue(tmp_path, key_source, "313367002")
    prod = issue(tmp_path, key_source, "313367002", environment="prod")
    assert test.issuer != prod.issuer


@pytest.mark.parametrize(
    ("orgno", "environment", "state"),
    [("313367003", None, True), ("313367002", "staging", True), ("313367002", None, False)],
)
def test_refusals(
    tmp_path: Path, key_source: KeySource, orgno: str, environment: str | None, state: bool
) -> None:
    settings = EmulatorSettings(state_path=tmp_path / "s.json" if state else None)
    with pytest.raises(UserError):
        issue_business_certificate(
            settings, orgno, tmp_path / "c", tmp_path / "k", environment=environment,
            key_source=key_source,
        )  # fmt: skip
    assert not (tmp_path / "k").exists()


def test_issue_uses_the_given_clock(tmp_path: Path, key_source: KeySource) -> None:
    certificate = issue(tmp_path, key_source, "313367002", clock=FrozenClock(NOW))
    assert certificate.not_valid_before_utc.timestamp() == NOW - 3600


def test_trust_check(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    ca_key, other_ca_key, leaf_key = rsa_keys[3], rsa_keys[4], rsa_keys[5]
    ca = create_authority(ca_key, "test", NOW)
    other_ca = create_authority(other_ca_key, "prod", NOW)
    leaf_pem = issue_certificate(
        ca, ca_key, subject_key=leaf_key.public_key(), orgno="313367002", org_name="A", now=NOW
    )
    leaf = x509.load_pem_x509_certificate(leaf_pem.encode())
    check_trusted(leaf, ca, NOW)
    with pytest.raises(UntrustedCertificateError):
        check_trusted(leaf, other_ca, NOW)
    with pytest.raises(UntrustedCertificateError):
        check_trusted(leaf, None, NOW)
    with pytest.raises(UntrustedCertificateError):
        check_trusted(leaf, ca, NOW - 7200)
    with pytest.raises(UntrustedCertificateError):
        check_trusted(leaf, ca, NOW + 4 * 365 * 86400)
