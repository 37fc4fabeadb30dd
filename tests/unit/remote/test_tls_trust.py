"""An environment's `ca_bundle`: what https is verified against, and a network transport that
carries it without lifting the loopback check an in-process transport lifts."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from mpctl.emulator import ensure_tls_files
from mpctl.errors import ConfigError
from mpctl.model import Environment
from mpctl.remote import network_transport, open_remote
from mpctl.remote.connect import tls_trust


def _environment(base: str = "https://127.0.0.1:8443", **extra: Any) -> Environment:
    return Environment.model_validate(
        {
            "api_base_url": f"{base}/api/v1",
            "issuer": f"{base}/",
            "token_endpoint": f"{base}/token",
            "admin": {"client_id": "admin", "private_key": {"file": "k.pem"}, "kid": "k"},
            **extra,
        }
    )


def test_without_a_ca_bundle_httpx_keeps_its_default(tmp_path: Path) -> None:
    assert tls_trust(_environment(), tmp_path) is True
    assert network_transport(_environment(), tmp_path) is None


def test_a_ca_bundle_is_loaded_relative_to_the_project(tmp_path: Path) -> None:
    ensure_tls_files(tmp_path / "tls")
    trust = tls_trust(_environment(ca_bundle="tls/tls-ca.pem"), tmp_path)
    assert isinstance(trust, ssl.SSLContext)
    assert len(trust.get_ca_certs()) == 1


@pytest.mark.parametrize("content", [None, "not a certificate"])
def test_a_missing_or_broken_ca_bundle_is_a_config_error(
    tmp_path: Path, content: str | None
) -> None:
    if content is not None:
        (tmp_path / "ca.pem").write_text(content)
    with pytest.raises(ConfigError, match=r"cannot load the ca_bundle .*ca\.pem"):
        tls_trust(_environment(ca_bundle="ca.pem"), tmp_path)


def test_a_digdir_environment_cannot_use_a_ca_bundle(tmp_path: Path) -> None:
    environment = _environment(digdir="test", ca_bundle="ca.pem")
    with pytest.raises(ConfigError, match="a Digdir environment cannot name a ca_bundle"):
        tls_trust(environment, tmp_path)


async def test_a_network_transport_keeps_the_loopback_check(tmp_path: Path) -> None:
    ensure_tls_files(tmp_path)
    environment = _environment("https://example.org", ca_bundle="tls-ca.pem")
    transport = network_transport(environment, tmp_path)
    assert transport is not None
    with pytest.raises(ConfigError, match=r"refusing to send the admin token to example\.org"):
        async with open_remote(environment, base_dir=tmp_path, environ={}, transport=transport):
            pass
    await transport.aclose()
