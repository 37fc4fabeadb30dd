"""One table of samples, one expectation, every caller: renderers, remote errors, CLI errors.

A sample is text with a secret inside (and the fragments that must never be shown) or ordinary
text that must survive untouched. `mpctl.redaction` decides; the renderers (`build_document` →
text, markdown, json), the remote errors (`error_for_response`: message, excerpt, repr) and the
CLI's error lines (`console.error`, where every failure and unexpected exception is shown) must
agree with it, so a secret pasted into a description at Digdir or echoed in an error body is
hidden everywhere the same way.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.utils import base64url_encode
from pydantic import JsonValue

from mpctl.cli import console
from mpctl.plan.types import ClientStep, Diagnostic, FieldChange, Plan, PlanSummary, Severity
from mpctl.redaction import SENSITIVE, is_sensitive_text, redact_text, redact_value
from mpctl.remote.errors import error_for_response
from mpctl.render import build_document, render_human, render_json, render_markdown


@dataclass(frozen=True)
class Sample:
    text: str
    secrets: tuple[str, ...]


@cache
def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(
    key: PrivateKeyTypes, fmt: serialization.PrivateFormat, *, password: bytes | None = None
) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def _body_lines(pem: str) -> tuple[str, ...]:
    """Every base64 line of a PEM body (any one of them is a piece of the key)."""
    return tuple(line for line in pem.splitlines() if line and not line.startswith("-----"))


def _pem_sample(pem: str, around: str = "key: {} (end)") -> Sample:
    return Sample(around.format(pem), _body_lines(pem))


def _private_jwk() -> dict[str, str]:
    numbers = _rsa().private_numbers()

    def b64(value: int) -> str:
        return base64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode()

    return {
        "kty": "RSA",
        "kid": "billing-2025-06",
        "e": "AQAB",
        "n": b64(numbers.public_numbers.n),
        "d": b64(numbers.d),
        "p": b64(numbers.p),
        "q": b64(numbers.q),
        "dp": b64(numbers.dmp1),
        "dq": b64(numbers.dmq1),
        "qi": b64(numbers.iqmp),
    }


def _jwt() -> str:
    header = base64url_encode(b'{"alg":"RS256","kid":"admin"}').decode()
    claims = base64url_encode(b'{"scope":"idporten:dcr.write","client_id":"acme"}').decode()
    return f"{header}.{claims}.c2lnbmF0dXJlLWJ5dGVzLXRoYXQtYXJlLWxvbmctZW5vdWdo"


def _der() -> str:
    der = _rsa().private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


def _secret_samples() -> dict[str, Sample]:
    pkcs8 = _pem(_rsa(), serialization.PrivateFormat.PKCS8)
    jwk = _private_jwk()
    jwt = _jwt()
    der = _der()
    return {
        "pem-pkcs8": _pem_sample(pkcs8),
        "pem-rsa": _pem_sample(_pem(_rsa(), serialization.PrivateFormat.TraditionalOpenSSL)),
        "pem-ec": _pem_sample(
            _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
        ),
        "pem-ec-sec1": _pem_sample(
            _pem(
                ec.generate_private_key(ec.SECP384R1()),
                serialization.PrivateFormat.TraditionalOpenSSL,
            )
        ),
        "pem-dsa": _pem_sample(
            _pem(
                dsa.generate_private_key(key_size=1024),
                serialization.PrivateFormat.TraditionalOpenSSL,
            )
        ),
        "pem-openssh": _pem_sample(
            _pem(ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.OpenSSH)
        ),
        "pem-encrypted": _pem_sample(
            _pem(_rsa(), serialization.PrivateFormat.PKCS8, password=b"pw")
        ),
        "pem-cut-off": Sample(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEcutOffHereBeforeTheEnd", ("MIIEcutOffHere",)
        ),
        "pem-escaped-newlines": Sample(
            json.dumps({"key": pkcs8}), tuple(line[:40] for line in _body_lines(pkcs8))
        ),
        "jwt": Sample(f"token {jwt} refused", (jwt.split(".")[0], jwt.split(".")[2])),
        "jwt-in-json": Sample(json.dumps({"access_token": jwt}), (jwt.split(".")[1],)),
        "bearer-dotted": Sample("Bearer abc.def.ghi", ("abc.def.ghi",)),
        "bearer-opaque": Sample("call with Bearer s3cr3tOpaqueValue please", ("s3cr3tOpaque",)),
        "authorization-header": Sample(
            "Authorization: Basic dXNlcjpwYXNzd29yZA==", ("dXNlcjpwYXNzd29yZA",)
        ),
        "authorization-json": Sample(
            '{"Authorization": "Token t0k3n-value-1234"}', ("t0k3n-value-1234",)
        ),
        "client-secret-form": Sample("client_secret=hunter2&grant_type=x", ("hunter2",)),
        "client-secret-json": Sample('{"client_secret": "hunter2"}', ("hunter2",)),
        "client-secret-yaml": Sample("client_secret: 'hunter 2'", ("hunter 2",)),
        "assertion-form": Sample("assertion=aaaa.bbbb.cccc&x=1", ("aaaa.bbbb.cccc",)),
        "token-form": Sample("refresh with token=0paqueValue&x=1", ("0paqueValue",)),
        "token-json": Sample('{"token": "0paque value"}', ("0paque value",)),
        "private-key-json": Sample(
            json.dumps({"private_key": der[:120]}), (der[8:60], der[60:110])
        ),
        "password-json": Sample('{"password": "correct horse battery"}', ("correct horse",)),
        "der-blob": Sample(f"key={der} trailing", (der[10:70], der[-60:-4])),
        "der-blob-alone": Sample(f"pasted {der[:400]} here", (der[10:70],)),
        "jwk-private-members": Sample(
            json.dumps(jwk), (jwk["d"][:30], jwk["p"][:30], jwk["q"][:30], jwk["qi"][:30])
        ),
        "jwk-python-repr": Sample(str({"d": "privexp123", "kid": "k"}), ("privexp123",)),
        "url-password": Sample("fetch https://svc:pa55w0rd@vault.example/v1 failed", ("pa55w0rd",)),
        "long-mixed-base64": Sample("blob " + "A1b2" * 20, ("A1b2" * 10,)),
    }


CLEAN_SAMPLES = (
    "Invalid scope example:invoices.read for client",
    "Fetches invoices [mpctl:billing]",
    "[mpctl:acme/billing] Ledger team reads invoices",
    "correlation b496e785cbd430eee802c1eaafa76f46",
    "client 0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10 not found",
    '{"kid":"billing-sync-2025-06","kty":"RSA","token_type":"Bearer"}',
    "sha256:3177a3fe001d90531782faaf52f525c96be90c6cded548cf111344a963c7da3a",
    "https://api.test.samarbeid.digdir.no/api/v1/clients",
    "billing-TEST.2026-11-21",
    "token refused: the grant expired",
    "no admin token: POST /token → 400: invalid_grant",
    "environment variable MPCTL_TEST_READONLY_ADMIN_PRIVATE_KEY is not set",
    "the client secret: never stored by mpctl",
    "secret file /tmp/pytest-of-root/pytest-96/test_keys_export_refuses_a_key0/keys/svc/TEST.pem "
    "is open to group or others",
)

SECRET_SAMPLES = _secret_samples()


# --- the callers ---------------------------------------------------------------------------


def _plan_with(text: str) -> Plan:
    step = ClientStep(
        address="client/billing",
        action="update",
        changes=(
            FieldChange(path=("description",), old=text, new="Invoices"),
            FieldChange(path=("client_name",), old="billing", new=text),
        ),
        reason=text,
    )
    found = (Diagnostic(severity=Severity.WARNING, code="client.drift", message=text),)
    fields: dict[str, object] = {
        "env_name": "test",
        "observed_fingerprint": "o",
        "manifests_fingerprint": "m",
        "steps": (step,),
        "diagnostics": found,
        "summary": PlanSummary.of((step,), found, unchanged=0),
    }
    if "project" in Plan.model_fields:
        fields["project"] = "313367002"
    return Plan.model_validate(fields)


def _rendered(render: Callable[[Plan], str]) -> Callable[[str], str]:
    return lambda text: render(_plan_with(text))


def _remote_error(text: str) -> str:
    body = json.dumps({"errors": [{"errorMessage": text}], "correlation_id": "c-1"})
    request = httpx.Request("POST", "https://api.test.samarbeid.digdir.no/api/v1/clients")
    error = error_for_response(httpx.Response(400, content=body, request=request), method="POST")
    return "\n".join((str(error), repr(error), error.body_excerpt or "", error.hint or ""))


def _remote_raw_body(text: str) -> str:
    request = httpx.Request("GET", "https://api.test.samarbeid.digdir.no/api/v1/clients")
    error = error_for_response(httpx.Response(502, text=text, request=request), method="GET")
    return "\n".join((str(error), repr(error), error.body_excerpt or ""))


def _cli_error(text: str) -> str:
    """What the CLI's error boundary prints for an error with `text` as message and hint."""
    shown = io.StringIO()
    with contextlib.redirect_stderr(shown):
        console.error(text, text)
    return shown.getvalue()


CALLERS: dict[str, Callable[[str], str]] = {
    "redact_text": redact_text,
    "redact_value": lambda text: json.dumps(redact_value({"description": text})),
    "render-text": _rendered(lambda p: render_human(build_document(p))),
    "render-markdown": _rendered(lambda p: render_markdown(build_document(p))),
    "render-json": _rendered(lambda p: render_json(build_document(p))),
    "remote-error": _remote_error,
    "remote-body": _remote_raw_body,
    "cli-error": _cli_error,
}


@pytest.mark.parametrize("caller", sorted(CALLERS))
@pytest.mark.parametrize("sample", sorted(SECRET_SAMPLES))
def test_every_caller_hides_every_secret(caller: str, sample: str) -> None:
    planted = SECRET_SAMPLES[sample]
    shown = CALLERS[caller](planted.text)
    leaked = [secret for secret in planted.secrets if secret in shown]
    assert leaked == []
    assert SENSITIVE in shown


@pytest.mark.parametrize("caller", sorted(CALLERS))
@pytest.mark.parametrize("text", CLEAN_SAMPLES)
def test_every_caller_keeps_ordinary_text(caller: str, text: str) -> None:
    shown = CALLERS[caller](text)
    assert SENSITIVE not in shown
    words = re.findall(r"[A-Za-z0-9]+", text)
    assert [word for word in words if word not in shown] == []
    if caller in {"redact_text", "render-text", "remote-error", "remote-body", "cli-error"}:
        assert text in shown


@pytest.mark.parametrize("sample", sorted(SECRET_SAMPLES))
def test_redaction_is_idempotent_and_detected(sample: str) -> None:
    once = redact_text(SECRET_SAMPLES[sample].text)
    assert redact_text(once) == once
    assert is_sensitive_text(SECRET_SAMPLES[sample].text)


def test_secret_named_fields_are_hidden_whole_whatever_they_hold() -> None:
    value: dict[str, JsonValue] = {
        "kid": "k",
        "d": "short",
        "Client_Secret": "x",
        "nested": [{"qi": 1, "n": "abc"}],
    }
    assert redact_value(value) == {
        "kid": "k",
        "d": SENSITIVE,
        "Client_Secret": SENSITIVE,
        "nested": [{"qi": SENSITIVE, "n": "abc"}],
    }
    assert value["d"] == "short"  # the input is not changed


def test_the_old_module_paths_are_thin_users_of_the_one_redaction() -> None:
    _redact = importlib.import_module("mpctl.remote._redact")
    redact = importlib.import_module("mpctl.render.redact")
    assert _redact.redact is redact_text
    assert redact.redact is redact_value
    assert redact.SENSITIVE == SENSITIVE
