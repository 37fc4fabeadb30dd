"""`serve --tls`: the loopback CA and server certificate are made once (key 0600), and a port
in use is a clear error rather than a uvicorn traceback."""

from __future__ import annotations

import ipaddress
import socket
import stat
from pathlib import Path

import pytest
from cryptography import x509

from mpctl.emulator import ensure_tls_files, listen
from mpctl.errors import UserError


def test_tls_files_are_made_once_with_a_private_key(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "state")
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    first = [path.read_bytes() for path in (files.ca, files.certificate, files.key)]
    again = ensure_tls_files(tmp_path / "state")
    assert [path.read_bytes() for path in (again.ca, again.certificate, again.key)] == first


def test_the_server_certificate_is_for_loopback_and_issued_by_the_ca(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    server = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]


@pytest.mark.parametrize("broken", ["certificate", "key"])
def test_a_broken_file_makes_all_three_again(tmp_path: Path, broken: str) -> None:
    files = ensure_tls_files(tmp_path)
    ca = files.ca.read_bytes()
    other = ensure_tls_files(tmp_path / "other")
    replacement = {"certificate": "not a certificate", "key": other.key.read_text()}
    getattr(files, broken).write_text(replacement[broken])
    ensure_tls_files(tmp_path)
    assert files.ca.read_bytes() != ca
    server = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    server.verify_directly_issued_by(x509.load_pem_x509_certificate(files.ca.read_bytes()))


def test_a_port_in_use_is_a_user_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError) as raised:
            listen("127.0.0.1", port)
    assert str(raised.value) == (
        f"port {port} is already in use on 127.0.0.1; pick another with --port"
    )


def test_a_free_port_is_bound() -> None:
    with listen("127.0.0.1", 0) as bound:
        assert bound.getsockname()[0] == "127.0.0.1"
