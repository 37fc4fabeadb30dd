"""The two `.env` dialects: what each refuses, and that the key variable follows the encoding."""

from __future__ import annotations

import base64
import json

import pytest

from mpctl.errors import SecretSinkError
from mpctl.model import SinkVariables
from mpctl.secrets import PrivateKey, to_pem
from mpctl.secrets.dotenv import render_env_file, workload_variables


@pytest.mark.parametrize("value", ['a"b', "a\\b", "$HOME", "`id`", "a\tb", "a\x1bb"])
def test_quoted_dialect_refuses_what_shells_and_dotenv_read_differently(value: str) -> None:
    with pytest.raises(SecretSinkError, match="MP_X") as caught:
        render_env_file({"MP_X": value}, header="h")
    assert value not in caught.value.message


@pytest.mark.parametrize("value", ["a b", "a#b", "'q'", "x\ny", "~home", "a;b", "a&b"])
@pytest.mark.parametrize("encoding", ["base64", "jwk-base64"])
def test_line_dialect_refuses_what_a_shell_would_change(value: str, encoding: str) -> None:
    with pytest.raises(SecretSinkError, match="MP_X"):
        render_env_file({"MP_X": value}, header="h", encoding=encoding)  # type: ignore[arg-type]


def test_pem_dialect_keeps_line_breaks_and_says_it_is_not_line_safe() -> None:
    text = render_env_file({"K": "line1\r\nline2"}, header="h")
    assert 'K="line1\nline2"\n' in text
    assert "It is not line-safe" in text


def test_line_dialect_is_bare_and_says_where_it_loads() -> None:
    text = render_env_file(
        {"U": "https://x.no/token", "K": "QUJD+/=="}, header="h", encoding="base64"
    )
    assert text.endswith("\nU=https://x.no/token\nK=QUJD+/==\n")
    assert "docker --env-file and kubectl" in text
    with pytest.raises(SecretSinkError) as caught:
        render_env_file({"U": "https://x.no/token?a=b"}, header="h", encoding="base64")
    assert caught.value.hint is not None
    assert "dotenv_encoding: pem" in caught.value.hint


def _variables(key: PrivateKey, encoding: str) -> dict[str, str]:
    return workload_variables(
        SinkVariables(private_key_base64="APP_KEY_B64"),
        client_id="id",
        kid=key.kid,
        private_key_pem=to_pem(key),
        token_endpoint="https://test.maskinporten.no/token",
        issuer="https://test.maskinporten.no/",
        encoding=encoding,  # type: ignore[arg-type]
    )


def test_key_variable_follows_the_encoding(keys: tuple[PrivateKey, ...]) -> None:
    key = keys[0]
    pem = _variables(key, "pem")
    assert pem["MASKINPORTEN_PRIVATE_KEY"] == to_pem(key)
    assert "APP_KEY_B64" not in pem
    encoded = _variables(key, "base64")
    assert "MASKINPORTEN_PRIVATE_KEY" not in encoded
    assert base64.b64decode(encoded["APP_KEY_B64"], validate=True).decode() == to_pem(key)
    jwk = json.loads(base64.b64decode(_variables(key, "jwk-base64")["APP_KEY_B64"]))
    assert jwk["kid"] == key.kid
    assert jwk["n"] == key.public_jwk["n"]
