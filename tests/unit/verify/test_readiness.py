"""Seed 002's offline readiness probe and the `--from-env` credential loader."""

from __future__ import annotations

import socket

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mpctl.model import SinkVariables
from mpctl.secrets import PrivateKey, to_pem
from mpctl.verify.errors import EnvironmentConfigError
from mpctl.verify.readiness import Readiness, ReadinessFailure, credentials_from_env, probe


@pytest.fixture
def live_env(key: PrivateKey) -> dict[str, str]:
    return {
        "MASKINPORTEN_MODE": "live",
        "MASKINPORTEN_CLIENT_ID": "0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10",
        "MASKINPORTEN_KID": key.kid,
        "MASKINPORTEN_PRIVATE_KEY": to_pem(key),
        "MASKINPORTEN_TOKEN_ENDPOINT": "https://test.maskinporten.no/token",
        "MASKINPORTEN_ISSUER": "https://test.maskinporten.no/",
        "INTERNAL_API_SECRET": "not ours to check",
    }


def failures(result: Readiness) -> dict[str, str]:
    return {f.field: f.reason for f in result.failures}


def pem_of(crypto_key: object) -> str:
    return crypto_key.private_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_ready(live_env: dict[str, str]) -> None:
    result = probe(live_env)
    assert result == Readiness("ready")
    assert (result.exit_code, result.as_dict()) == (0, {"status": "ready"})


@pytest.mark.parametrize("mode", [None, "", "mock", "LIVE "])
def test_anything_but_live_is_mock(live_env: dict[str, str], mode: str | None) -> None:
    if mode is None:
        del live_env["MASKINPORTEN_MODE"]
    else:
        live_env["MASKINPORTEN_MODE"] = mode
    live_env["MASKINPORTEN_PRIVATE_KEY"] = "garbage: not validated in mock mode"
    result = probe(live_env)
    assert (result.status, result.exit_code, result.failures) == ("mock", 0, ())


def test_mock_where_live_is_required_is_not_ready(live_env: dict[str, str]) -> None:
    live_env["MASKINPORTEN_MODE"] = "mock"
    result = probe(live_env, require_live=True)
    assert result.status == "not_ready"
    assert list(failures(result)) == ["MASKINPORTEN_MODE"]


def test_every_missing_variable_is_listed() -> None:
    result = probe({"MASKINPORTEN_MODE": "live", "MASKINPORTEN_KID": "  "})
    assert result.status == "not_ready"
    assert result.exit_code == 1
    assert failures(result) == {
        "MASKINPORTEN_CLIENT_ID": "missing",
        "MASKINPORTEN_KID": "missing",
        "MASKINPORTEN_ISSUER": "missing",
        "MASKINPORTEN_TOKEN_ENDPOINT": "missing",
        "MASKINPORTEN_PRIVATE_KEY": "missing",
    }
    assert result.as_dict()["failures"][0] == {  # type: ignore[index]
        "field": "MASKINPORTEN_CLIENT_ID",
        "reason": "missing",
    }


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("MASKINPORTEN_ISSUER", "http://test.maskinporten.no/", "https is required"),
        ("MASKINPORTEN_TOKEN_ENDPOINT", "http://test.maskinporten.no/token", "https is required"),
        ("MASKINPORTEN_ISSUER", "https://test.maskinporten.no", "must end with '/'"),
        ("MASKINPORTEN_ISSUER", "test.maskinporten.no/", "not an absolute"),
        ("MASKINPORTEN_TOKEN_ENDPOINT", "ftp://test.maskinporten.no/token", "not an absolute"),
        ("MASKINPORTEN_TOKEN_ENDPOINT", "https://maskinporten.no/token", "not under the issuer"),
        ("MASKINPORTEN_KID", "kid with spaces", "not a valid kid"),
        ("MASKINPORTEN_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nAAAA\n", "does not parse"),
    ],
)
def test_bad_values(live_env: dict[str, str], field: str, value: str, reason: str) -> None:
    live_env[field] = value
    result = probe(live_env)
    assert result.status == "not_ready"
    assert field in failures(result)
    assert reason in failures(result)[field]


def test_small_rsa_key(live_env: dict[str, str]) -> None:
    live_env["MASKINPORTEN_PRIVATE_KEY"] = pem_of(rsa.generate_private_key(65537, 1024))
    assert "2048" in failures(probe(live_env))["MASKINPORTEN_PRIVATE_KEY"]


def test_non_rsa_key(live_env: dict[str, str]) -> None:
    live_env["MASKINPORTEN_PRIVATE_KEY"] = pem_of(ec.generate_private_key(ec.SECP256R1()))
    assert failures(probe(live_env))["MASKINPORTEN_PRIVATE_KEY"] == "not an RSA private key"


def test_key_that_cannot_sign(live_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_encode(*args: object, **kwargs: object) -> str:
        raise ValueError("cannot sign")

    monkeypatch.setattr(jwt, "encode", broken_encode)
    reason = failures(probe(live_env))["MASKINPORTEN_PRIVATE_KEY"]
    assert reason == "invalid or unusable for JWT signing"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.2"])
def test_http_is_allowed_on_loopback(live_env: dict[str, str], host: str) -> None:
    live_env["MASKINPORTEN_ISSUER"] = f"http://{host}:8080/"
    live_env["MASKINPORTEN_TOKEN_ENDPOINT"] = f"http://{host}:8080/token"
    assert probe(live_env).status == "ready"


def test_http_elsewhere_needs_the_emulator_flag(live_env: dict[str, str]) -> None:
    live_env["MASKINPORTEN_ISSUER"] = "http://emulator:8080/"
    live_env["MASKINPORTEN_TOKEN_ENDPOINT"] = "http://emulator:8080/token"
    assert probe(live_env).status == "not_ready"
    assert probe(live_env, allow_http=True).status == "ready"


def test_configurable_names(live_env: dict[str, str]) -> None:
    renamed = {k.replace("MASKINPORTEN_", "MP_"): v for k, v in live_env.items()}
    names = SinkVariables(
        client_id="MP_CLIENT_ID",
        kid="MP_KID",
        private_key="MP_PRIVATE_KEY",
        token_endpoint="MP_TOKEN_ENDPOINT",
        issuer="MP_ISSUER",
        mode="MP_MODE",
    )
    assert probe(renamed, variables=names).status == "ready"
    assert probe(renamed).status == "mock"


def test_reasons_never_contain_the_key(live_env: dict[str, str]) -> None:
    pem = live_env["MASKINPORTEN_PRIVATE_KEY"]
    live_env["MASKINPORTEN_PRIVATE_KEY"] = pem[:-300]
    text = repr(probe(live_env)) + str(probe(live_env).as_dict())
    assert pem.split()[4] not in text


def test_probe_makes_no_network_call(
    live_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the probe must stay offline")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert probe(live_env).status == "ready"


def test_credentials_from_env(live_env: dict[str, str], key: PrivateKey) -> None:
    credentials = credentials_from_env(live_env)
    assert credentials.kid == key.kid
    assert credentials.key.thumbprint == key.thumbprint
    assert credentials.issuer == "https://test.maskinporten.no/"
    assert live_env["MASKINPORTEN_PRIVATE_KEY"].split()[4] not in repr(credentials)


def test_credentials_from_env_lists_every_failure(live_env: dict[str, str]) -> None:
    live_env["MASKINPORTEN_MODE"] = "mock"
    del live_env["MASKINPORTEN_KID"]
    with pytest.raises(EnvironmentConfigError) as caught:
        credentials_from_env(live_env)
    assert "MASKINPORTEN_MODE" in str(caught.value)
    assert "MASKINPORTEN_KID: missing" in str(caught.value)


def test_failure_is_a_plain_value() -> None:
    assert ReadinessFailure("A", "b") == ReadinessFailure("A", "b")
