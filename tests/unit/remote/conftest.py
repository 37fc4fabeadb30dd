"""Fixtures for `mpctl.remote` tests: keys made once per session, planted secrets, PEM files."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import stamina
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.unit.remote.emulator_world import EmulatorWorld, make_template


@dataclass(frozen=True)
class KeyPair:
    private_key: rsa.RSAPrivateKey
    private_pem: bytes
    certificate_pem: bytes

    @property
    def private_der_b64(self) -> str:
        """The key's DER body as base64, the text inside the PEM armour."""
        der = self.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return base64.b64encode(der).decode()


def _self_signed(key: rsa.RSAPrivateKey, orgno: str) -> bytes:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ACME AS"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, orgno),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyPair(key, pem, _self_signed(key, "313367002"))


@pytest.fixture(scope="session")
def admin_pair() -> KeyPair:
    return _key_pair()


@pytest.fixture(scope="session")
def other_pair() -> KeyPair:
    return _key_pair()


@pytest.fixture
def no_waits() -> Iterator[None]:
    """stamina's test mode: zero backoff, the policy's own attempt budget kept (cap)."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def emulator_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("remote-emulator"))


@pytest.fixture
def emulator(emulator_template: Path, tmp_path: Path) -> EmulatorWorld:
    return EmulatorWorld.copy_of(emulator_template, tmp_path)
