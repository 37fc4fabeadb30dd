"""Credential errors that help (issue 14): every unset variable at once (the admin
credential's, the sinks'), a path where PEM was expected, encrypted keys with a passphrase
reference, and no network as one clear line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import TypeAdapter

from mpctl.cli.environment import check_sink_variables, unreachable_error
from mpctl.errors import SecretSinkError
from mpctl.model import SinkSpec
from mpctl.model.config import AdminCredential, Environment
from mpctl.remote import AdminTokenError, TransportError
from mpctl.remote.credentials import load_admin_credential, looks_like_path, unset_variables
from mpctl.remote.errors import AdminCredentialError
from mpctl.secrets.references import env_references, unset_references

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat, password: str | None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def _cred(**fields: object) -> AdminCredential:
    return AdminCredential.model_validate({"client_id": "acme-admin", **fields})


# --- every unset variable at once ----------------------------------------------------------


def test_every_unset_variable_is_named_in_one_error() -> None:
    cred = _cred(
        private_key={"env": "KEY_VAR"},
        certificate={"env": "CERT_VAR"},
        passphrase={"env": "PASS_VAR"},
    )
    assert unset_variables(cred, {"CERT_VAR": "  "}) == {
        "private_key": "KEY_VAR",
        "certificate": "CERT_VAR",
        "passphrase": "PASS_VAR",
    }
    with pytest.raises(AdminCredentialError) as caught:
        load_admin_credential(cred, Path("."), {"CERT_VAR": "  "})
    message = caught.value.message
    assert "KEY_VAR is not set (for private_key)" in message
    assert "CERT_VAR is not set (for certificate)" in message
    assert "PASS_VAR is not set (for passphrase)" in message
    assert caught.value.hint is not None
    assert "{file: PATH}" in caught.value.hint


def test_set_variables_and_files_are_not_listed(key: rsa.RSAPrivateKey) -> None:
    cred = _cred(private_key={"env": "KEY_VAR"}, kid="k", passphrase={"file": "p.txt"})
    assert unset_variables(cred, {"KEY_VAR": "x"}) == {}


# --- a path where PEM content was expected ------------------------------------------------


@pytest.mark.parametrize("value", ["/secrets/admin-key.pem", "./x.pem", "~/keys/a.key", "k.pem"])
def test_a_path_in_the_variable_gets_the_file_hint(value: str) -> None:
    cred = _cred(private_key={"env": "ADMIN_KEY"}, kid="k")
    with pytest.raises(AdminCredentialError) as caught:
        load_admin_credential(cred, Path("."), {"ADMIN_KEY": value})
    assert "holds a file path, not PEM content" in caught.value.message
    assert caught.value.hint is not None
    assert "{file: PATH} instead of {env: ADMIN_KEY}" in caught.value.hint
    assert value not in str(caught.value) + caught.value.hint


def test_a_certificate_path_gets_the_file_hint_too(key: rsa.RSAPrivateKey) -> None:
    pem = _pem(key, serialization.PrivateFormat.PKCS8, None)
    cred = _cred(private_key={"env": "KEY"}, certificate={"env": "CERT"})
    with pytest.raises(AdminCredentialError, match="holds a file path") as caught:
        load_admin_credential(cred, Path("."), {"KEY": pem, "CERT": "C:\\keys\\cert.pem"})
    assert caught.value.hint is not None
    assert "{env: CERT}" in caught.value.hint


def test_junk_that_is_no_path_gets_no_file_hint() -> None:
    cred = _cred(private_key={"env": "ADMIN_KEY"}, kid="k")
    with pytest.raises(AdminCredentialError, match="is not a PEM private key") as caught:
        load_admin_credential(cred, Path("."), {"ADMIN_KEY": "hunter2 is my key"})
    assert caught.value.hint is None
    assert "hunter2" not in caught.value.message


def test_pem_content_never_looks_like_a_path(key: rsa.RSAPrivateKey) -> None:
    assert not looks_like_path(_pem(key, serialization.PrivateFormat.PKCS8, None).encode())
    assert not looks_like_path(b"")
    assert looks_like_path(b"/run/secrets/admin")


# --- encrypted keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_an_encrypted_key_is_decrypted_with_the_passphrase_reference(
    key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat, tmp_path: Path
) -> None:
    pem = _pem(key, fmt, PASSPHRASE)
    assert "ENCRYPTED" in pem
    (tmp_path / "pass.txt").write_text(PASSPHRASE + "\n")
    cred = _cred(private_key={"env": "KEY"}, kid="k", passphrase={"file": "pass.txt"})
    loaded = load_admin_credential(cred, tmp_path, {"KEY": pem})
    assert loaded.private_key.private_numbers() == key.private_numbers()
    assert PASSPHRASE not in repr(loaded)


def test_an_encrypted_key_without_passphrase_says_what_to_add(key: rsa.RSAPrivateKey) -> None:
    pem = _pem(key, serialization.PrivateFormat.PKCS8, PASSPHRASE)
    cred = _cred(private_key={"env": "KEY"}, kid="k")
    with pytest.raises(AdminCredentialError, match="is encrypted") as caught:
        load_admin_credential(cred, Path("."), {"KEY": pem})
    assert caught.value.hint is not None
    assert "passphrase: {env: NAME}" in caught.value.hint


def test_a_wrong_passphrase_is_a_clear_error_without_the_passphrase(
    key: rsa.RSAPrivateKey,
) -> None:
    pem = _pem(key, serialization.PrivateFormat.PKCS8, PASSPHRASE)
    cred = _cred(private_key={"env": "KEY"}, kid="k", passphrase={"env": "PASS"})
    with pytest.raises(AdminCredentialError) as caught:
        load_admin_credential(cred, Path("."), {"KEY": pem, "PASS": "not-the-passphrase"})
    shown = f"{caught.value.message} {caught.value.hint} {caught.value!r}"
    assert "the passphrase from environment variable PASS does not decrypt" in shown
    assert "not-the-passphrase" not in shown
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_passphrase_for_an_unencrypted_key_is_ignored(key: rsa.RSAPrivateKey) -> None:
    pem = _pem(key, serialization.PrivateFormat.PKCS8, None)
    cred = _cred(private_key={"env": "KEY"}, kid="k", passphrase={"env": "PASS"})
    loaded = load_admin_credential(cred, Path("."), {"KEY": pem, "PASS": "x"})
    assert loaded.private_key.private_numbers() == key.private_numbers()


def test_a_passphrase_is_never_written_inline() -> None:
    with pytest.raises(ValueError, match="never written inline"):
        _cred(private_key={"env": "KEY"}, kid="k", passphrase="secret")


# --- no network ---------------------------------------------------------------------------

ENVIRONMENT = Environment.model_validate(
    {
        "api_base_url": "http://127.0.0.1:9/api/v1",
        "issuer": "http://127.0.0.1:8/",
        "token_endpoint": "http://127.0.0.1:8/token",
    }
)


def _not_sent(path: str, summary: str) -> TransportError:
    return TransportError(summary, sent=False, method="POST", path=path)


def test_a_refused_token_endpoint_is_one_line_naming_its_host() -> None:
    failure = _not_sent("/token", "ConnectError: All connection attempts failed")
    token_error = AdminTokenError("no admin token: …", method="POST", path="/token")
    token_error.__cause__ = failure
    error = unreachable_error(token_error, ENVIRONMENT, "remote")
    assert error is not None
    assert error.message == "cannot reach 127.0.0.1:8: connection refused"
    assert error.hint is not None
    assert "MPCTL_REMOTE_API_BASE_URL" in error.hint
    assert "proxy" in error.hint


def test_an_unresolvable_api_host_says_dns() -> None:
    failure = _not_sent("/api/v1/clients", "ConnectError: [Errno -2] Name or service not known")
    error = unreachable_error(failure, ENVIRONMENT, "test")
    assert error is not None
    assert error.message == "cannot reach 127.0.0.1:9: the host name does not resolve (DNS)"


def test_a_request_that_was_sent_is_not_called_unreachable() -> None:
    sent = TransportError("ReadTimeout: timed out", sent=True, method="GET", path="/api/v1/x")
    assert unreachable_error(sent, ENVIRONMENT, "test") is None
    assert unreachable_error(ValueError("x"), ENVIRONMENT, "test") is None


# --- the sinks' references, all at once ---------------------------------------------------


def _sink(spec: Mapping[str, object]) -> SinkSpec:
    return TypeAdapter(SinkSpec).validate_python(spec)


VAULT = {
    "type": "vault-kv",
    "address": "http://127.0.0.1:8200",
    "auth": {
        "method": "approle",
        "role_id": {"env": "ROLE_VAR"},
        "secret_id": {"env": "SECRET_VAR"},
    },
}


def test_every_env_reference_of_a_sink_is_found_with_its_field() -> None:
    found = list(env_references(_sink(VAULT), "environments.test.sink"))
    assert found == [
        ("environments.test.sink.auth.role_id", "ROLE_VAR"),
        ("environments.test.sink.auth.secret_id", "SECRET_VAR"),
    ]
    assert unset_references(found, {"ROLE_VAR": "r"}) == {
        "environments.test.sink.auth.secret_id": "SECRET_VAR"
    }


def test_unset_sink_variables_of_an_environment_are_one_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ROLE_VAR", "SECRET_VAR", "VERCEL_VAR"):
        monkeypatch.delenv(name, raising=False)
    environment = Environment.model_validate(
        {
            "api_base_url": "http://127.0.0.1:9/api/v1",
            "issuer": "http://127.0.0.1:8/",
            "token_endpoint": "http://127.0.0.1:8/token",
            "sink": VAULT,
        }
    )
    assert environment.sink is not None
    vercel = _sink({"type": "vercel", "project": "web", "token": {"env": "VERCEL_VAR"}})
    specs = {"a": environment.sink, "b": environment.sink, "web": vercel}
    with pytest.raises(SecretSinkError) as caught:
        check_sink_variables("test", environment, specs)
    assert caught.value.message == (
        "test's secret sinks: "
        "VERCEL_VAR is not set (client web's keys.sink.token); "
        "ROLE_VAR is not set (environments.test.sink.auth.role_id); "
        "SECRET_VAR is not set (environments.test.sink.auth.secret_id)"
    )
    monkeypatch.setenv("ROLE_VAR", "r")
    monkeypatch.setenv("SECRET_VAR", "s")
    monkeypatch.setenv("VERCEL_VAR", "v")
    check_sink_variables("test", environment, specs)
