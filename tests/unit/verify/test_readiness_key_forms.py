"""The forms a private key takes in a workload's environment, and hostile URLs, in readiness.

A PEM with real line breaks, the same PEM with literal `\\n` escapes (what Vercel and many other
platforms store), and `MASKINPORTEN_PRIVATE_KEY_BASE64` holding a base64 PEM or altinn-jwks'
base64 private JWK (seed 001's own sample included) are all accepted; everything else is a
finding that names the variable, never an exception.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from mpctl.secrets import PrivateKey, to_pem, to_private_jwk_base64
from mpctl.verify.errors import EnvironmentConfigError
from mpctl.verify.readiness import Readiness, credentials_from_env, probe

SEED_001 = next(Path("/work/shared/seeds").glob("001_*.txt"), None)
KEY = "MASKINPORTEN_PRIVATE_KEY"
KEY64 = "MASKINPORTEN_PRIVATE_KEY_BASE64"


@pytest.fixture
def live_env(key: PrivateKey) -> dict[str, str]:
    return {
        "MASKINPORTEN_MODE": "live",
        "MASKINPORTEN_CLIENT_ID": "0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10",
        "MASKINPORTEN_KID": key.kid,
        KEY: to_pem(key),
        "MASKINPORTEN_TOKEN_ENDPOINT": "https://test.maskinporten.no/token",
        "MASKINPORTEN_ISSUER": "https://test.maskinporten.no/",
    }


def failures(result: Readiness) -> dict[str, str]:
    return {f.field: f.reason for f in result.failures}


def with_base64(env: dict[str, str], value: str) -> dict[str, str]:
    return {**{k: v for k, v in env.items() if k != KEY}, KEY64: value}


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda pem: pem, id="real-newlines"),
        pytest.param(lambda pem: pem.replace("\n", "\\n"), id="literal-backslash-n"),
        pytest.param(lambda pem: pem.replace("\n", "\\r\\n"), id="literal-backslash-r-n"),
        pytest.param(lambda pem: pem.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda pem: f"\n  {pem}  \n", id="surrounding-space"),
    ],
)
def test_pem_forms_are_ready(live_env: dict[str, str], form: object, key: PrivateKey) -> None:
    assert callable(form)
    live_env[KEY] = form(live_env[KEY])
    assert probe(live_env) == Readiness("ready")
    assert credentials_from_env(live_env).key.thumbprint == key.thumbprint


def test_base64_pem_is_ready(live_env: dict[str, str], key: PrivateKey) -> None:
    env = with_base64(live_env, base64.b64encode(to_pem(key).encode()).decode())
    assert probe(env) == Readiness("ready")
    assert credentials_from_env(env).key.thumbprint == key.thumbprint


def test_base64_private_jwk_is_ready(live_env: dict[str, str], key: PrivateKey) -> None:
    env = with_base64(live_env, to_private_jwk_base64(key))
    assert probe(env) == Readiness("ready")
    assert credentials_from_env(env).key.thumbprint == key.thumbprint


@pytest.mark.skipif(SEED_001 is None, reason="seed 001 is not on this machine")
def test_seed_001_altinn_jwks_base64_output_is_ready(live_env: dict[str, str]) -> None:
    assert SEED_001 is not None
    match = re.search(r"export key testklient --base64\n(\S+)", SEED_001.read_text())
    assert match
    env = with_base64(live_env, match[1]) | {"MASKINPORTEN_KID": "testklient-TEST.2024-07-10"}
    assert probe(env) == Readiness("ready")
    env["MASKINPORTEN_KID"] = "another-kid"
    assert failures(probe(env)) == {"MASKINPORTEN_KID": f"differs from the kid inside {KEY64}"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not base64!", "not standard base64"),
        (base64.b64encode(b"hello").decode(), "decodes to neither a PEM nor a private JWK"),
        (base64.b64encode(b'{"kty": "RSA"}').decode(), "not a private RSA JWK"),
        (base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nAAAA\n").decode(), "does not parse"),
        ("QUFB" * 4000, "longer than"),
    ],
)
def test_bad_base64_values_name_the_variable(
    live_env: dict[str, str], value: str, reason: str
) -> None:
    found = failures(probe(with_base64(live_env, value)))
    assert list(found) == [KEY64]
    assert reason in found[KEY64]


def test_both_key_variables_is_a_finding(live_env: dict[str, str], key: PrivateKey) -> None:
    live_env[KEY64] = to_private_jwk_base64(key)
    assert failures(probe(live_env)) == {KEY64: f"set together with {KEY}; keep only one of them"}


def test_a_broken_quoted_pem_gets_a_hint(live_env: dict[str, str]) -> None:
    live_env[KEY] = f"'{live_env[KEY][:200]}'"
    assert "remove the quotes" in failures(probe(live_env))[KEY]


def test_an_oversized_pem_is_refused_unparsed(live_env: dict[str, str]) -> None:
    live_env[KEY] = live_env[KEY] * 5
    assert "longer than" in failures(probe(live_env))[KEY]


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1/",
        "https://[::1]:99999/",
        "https://host:port/",
        "https://ex\u2100ample.no/",
        "https://user:secret@test.maskinporten.no/",
        "https://test.maskinporten.no/ x/",
        "https://" + "a" * 5000 + "/",
    ],
)
@pytest.mark.parametrize("variable", ["MASKINPORTEN_ISSUER", "MASKINPORTEN_TOKEN_ENDPOINT"])
def test_hostile_urls_are_findings_never_crashes(
    live_env: dict[str, str], variable: str, url: str
) -> None:
    live_env[variable] = url
    result = probe(live_env)
    assert result.status == "not_ready"
    assert variable in failures(result)
    assert "secret" not in str(result)
    with pytest.raises(EnvironmentConfigError, match=variable):
        credentials_from_env(live_env)
