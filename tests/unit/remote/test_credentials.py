"""Loading the admin credential from files or environment variables, without leaking it."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.model.config import AdminCredential
from mpctl.remote.credentials import load_admin_credential
from mpctl.remote.errors import AdminCredentialError
from tests.unit.remote.conftest import KeyPair, write


def _cred(**fields: object) -> AdminCredential:
    return AdminCredential.model_validate({"client_id": "acme-admin", **fields})


def test_files_relative_to_base_dir_give_x5c(tmp_path: Path, admin_pair: KeyPair) -> None:
    write(tmp_path / "secrets/key.pem", admin_pair.private_pem)
    write(tmp_path / "secrets/cert.pem", admin_pair.certificate_pem)
    cred = _cred(private_key={"file": "secrets/key.pem"}, certificate={"file": "secrets/cert.pem"})
    key = load_admin_credential(cred, tmp_path, {})
    assert key.client_id == "acme-admin"
    assert key.kid is None
    leaf = x509.load_der_x509_certificate(base64.b64decode(key.x5c[0]))
    assert leaf == x509.load_pem_x509_certificate(admin_pair.certificate_pem)
    assert key.scopes == cred.scopes


def test_env_with_escaped_newlines_and_kid(admin_pair: KeyPair) -> None:
    escaped = admin_pair.private_pem.decode().replace("\n", "\\n")
    cred = _cred(private_key={"env": "ADMIN_KEY"}, kid="admin-2025")
    key = load_admin_credential(cred, Path("/nonexistent"), {"ADMIN_KEY": escaped})
    assert key.kid == "admin-2025"
    assert key.x5c == ()


def test_chain_keeps_file_order(tmp_path: Path, admin_pair: KeyPair, other_pair: KeyPair) -> None:
    write(tmp_path / "key.pem", admin_pair.private_pem)
    write(tmp_path / "chain.pem", admin_pair.certificate_pem + other_pair.certificate_pem)
    cred = _cred(private_key={"file": "key.pem"}, certificate={"file": "chain.pem"})
    assert len(load_admin_credential(cred, tmp_path, {}).x5c) == 2


def test_certificate_of_another_key_is_refused(
    tmp_path: Path, admin_pair: KeyPair, other_pair: KeyPair
) -> None:
    write(tmp_path / "key.pem", admin_pair.private_pem)
    write(tmp_path / "cert.pem", other_pair.certificate_pem)
    cred = _cred(private_key={"file": "key.pem"}, certificate={"file": "cert.pem"})
    with pytest.raises(AdminCredentialError, match="does not belong"):
        load_admin_credential(cred, tmp_path, {})


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        ({}, "ADMIN_KEY is not set"),
        ({"ADMIN_KEY": ""}, "ADMIN_KEY is not set"),
        ({"ADMIN_KEY": "not a pem"}, "is not a PEM private key"),
    ],
)
def test_env_problems_name_the_variable(environ: dict[str, str], match: str) -> None:
    cred = _cred(private_key={"env": "ADMIN_KEY"}, kid="k")
    with pytest.raises(AdminCredentialError, match=match) as caught:
        load_admin_credential(cred, Path("."), environ)
    assert "not a pem" not in str(caught.value)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    cred = _cred(private_key={"file": "absent.pem"}, kid="k")
    with pytest.raises(AdminCredentialError, match=r"absent\.pem"):
        load_admin_credential(cred, tmp_path, {})


def test_repr_and_str_show_no_key_material(admin_pair: KeyPair) -> None:
    cred = _cred(private_key={"env": "K"}, kid="admin-2025")
    key = load_admin_credential(cred, Path("."), {"K": admin_pair.private_pem.decode()})
    for shown in (repr(key), str(key), f"{key}", repr([key])):
        assert "admin-2025" in shown
        assert "BEGIN" not in shown
        assert admin_pair.private_der_b64[30:60] not in shown
        assert "private_key=<redacted>" in shown


def test_admin_key_refuses_pickling(admin_pair: KeyPair) -> None:
    import pickle

    cred = _cred(private_key={"env": "K"}, kid="k")
    key = load_admin_credential(cred, Path("."), {"K": admin_pair.private_pem.decode()})
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_an_admin_key_whose_members_do_not_fit_is_refused(
    tmp_path: Path, admin_pair: KeyPair
) -> None:
    """OpenSSL's own check is skipped when the key loads (it proves p and q prime, tens of
    milliseconds per start); `rsa_members_fit` must then stand in for it."""
    good = admin_pair.private_key.private_numbers()
    bent = rsa.RSAPrivateNumbers(
        good.p, good.q, good.d, good.dmp1 ^ 2, good.dmq1, good.iqmp, good.public_numbers
    )
    pem = bent.private_key(unsafe_skip_rsa_key_validation=True).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write(tmp_path / "key.pem", pem)
    write(tmp_path / "cert.pem", admin_pair.certificate_pem)
    cred = _cred(private_key={"file": "key.pem"}, certificate={"file": "cert.pem"})
    with pytest.raises(AdminCredentialError, match="is not a consistent RSA key") as raised:
        load_admin_credential(cred, tmp_path, {})
    assert "BEGIN" not in str(raised.value)
