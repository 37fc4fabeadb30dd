"""`mpctl readiness` through the CLI entry point: verdicts, exit codes, JSON shape, no values."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import click
import pytest
import typer

from mpctl.cli import main as cli_main
from mpctl.cli.app import app as real_app
from mpctl.cli.commands.readiness import readiness
from mpctl.cli.main import main
from mpctl.secrets import PrivateKey, generate_key, to_pem

SECRET_CLIENT_ID = "0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10"


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the real app once `readiness` is wired into it; until then a small app with it alone."""
    command = typer.main.get_command(real_app)
    if isinstance(command, click.Group) and "readiness" in command.commands:
        return
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.command()(readiness)
    monkeypatch.setattr(cli_main, "app", app)


@pytest.fixture(scope="module")
def key() -> PrivateKey:
    created = datetime(2026, 11, 21, tzinfo=UTC)
    return generate_key(kid="billing-TEST.2026-11-21", created_at=created, size=2048)


@pytest.fixture
def live_env(monkeypatch: pytest.MonkeyPatch, key: PrivateKey) -> dict[str, str]:
    """A complete live configuration in this process's environment (and nothing else of ours)."""
    for name in [n for n in os.environ if n.startswith(("MASKINPORTEN_", "BILLING_MP_"))]:
        monkeypatch.delenv(name)
    values = {
        "MASKINPORTEN_MODE": "live",
        "MASKINPORTEN_CLIENT_ID": SECRET_CLIENT_ID,
        "MASKINPORTEN_KID": key.kid,
        "MASKINPORTEN_PRIVATE_KEY": to_pem(key),
        "MASKINPORTEN_TOKEN_ENDPOINT": "https://test.maskinporten.no/token",
        "MASKINPORTEN_ISSUER": "https://test.maskinporten.no/",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["readiness", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_ready(live_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys) == (0, {"status": "ready"})
    assert main(["readiness"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ready: ")
    assert "  MASKINPORTEN_PRIVATE_KEY: set" in out


@pytest.mark.parametrize("mode", [None, "mock"])
def test_mock(
    live_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: str | None,
) -> None:
    if mode is None:
        monkeypatch.delenv("MASKINPORTEN_MODE")
    else:
        monkeypatch.setenv("MASKINPORTEN_MODE", mode)
    monkeypatch.setenv("MASKINPORTEN_PRIVATE_KEY", "not checked in mock mode")
    assert run_json(capsys) == (0, {"status": "mock"})
    assert main(["readiness"]) == 0
    assert capsys.readouterr().out.startswith("mock: MASKINPORTEN_MODE is not 'live'")


def test_mock_where_live_is_required(
    live_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASKINPORTEN_MODE", "mock")
    code, document = run_json(capsys, "--require-live")
    assert code == 1
    assert document["status"] == "not_ready"
    assert [f["field"] for f in document["failures"]] == ["MASKINPORTEN_MODE"]


@pytest.mark.parametrize(
    "case",
    [
        ("MASKINPORTEN_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nAAAA\n", "does not parse"),
        ("MASKINPORTEN_ISSUER", "http://test.maskinporten.no/", "https is required"),
        ("MASKINPORTEN_ISSUER", "https://test.maskinporten.no", "must end with '/'"),
    ],
    ids=["broken-pem", "http-issuer", "no-trailing-slash"],
)
def test_not_ready_names_the_variable_and_why(
    live_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, str, str],
) -> None:
    name, value, reason = case
    monkeypatch.setenv(name, value)
    code, document = run_json(capsys)
    assert code == 1
    assert set(document) == {"status", "failures"}
    assert document["status"] == "not_ready"
    failures = document["failures"]
    assert all(set(f) == {"field", "reason"} for f in failures)
    assert reason in {f["field"]: f["reason"] for f in failures}[name]
    assert main(["readiness"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("not ready: ")
    assert f"  {name}: " in out


def test_missing_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("MASKINPORTEN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MASKINPORTEN_MODE", "live")
    code, document = run_json(capsys)
    assert code == 1
    assert {f["reason"] for f in document["failures"]} == {"missing"}
    assert len(document["failures"]) == 5


def test_allow_http_for_the_emulator(
    live_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASKINPORTEN_ISSUER", "http://emulator:8080/")
    monkeypatch.setenv("MASKINPORTEN_TOKEN_ENDPOINT", "http://emulator:8080/token")
    assert run_json(capsys)[0] == 1
    assert run_json(capsys, "--allow-http") == (0, {"status": "ready"})


def test_prefix_and_variable_overrides(
    live_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in live_env.items():
        monkeypatch.delenv(name)
        monkeypatch.setenv(name.replace("MASKINPORTEN_", "BILLING_MP_"), value)
    assert run_json(capsys)[1] == {"status": "mock"}
    assert run_json(capsys, "--prefix", "BILLING_MP") == (0, {"status": "ready"})
    monkeypatch.setenv("SIGNING_KEY", live_env["MASKINPORTEN_PRIVATE_KEY"])
    monkeypatch.delenv("BILLING_MP_PRIVATE_KEY")
    assert run_json(capsys, "--prefix", "BILLING_MP_")[1]["failures"] == [
        {"field": "BILLING_MP_PRIVATE_KEY", "reason": "missing"}
    ]
    args = ("--prefix", "BILLING_MP", "--variable", "private_key=SIGNING_KEY")
    assert run_json(capsys, *args) == (0, {"status": "ready"})


@pytest.mark.parametrize(
    "args",
    [("--prefix", "1BAD"), ("--variable", "secret=X"), ("--variable", "kid=has space")],
)
def test_bad_names_are_user_errors(
    live_env: dict[str, str], capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    assert main(["readiness", *args]) == 1
    assert "Error: " in capsys.readouterr().err


@pytest.mark.parametrize("output", ["text", "json"])
@pytest.mark.parametrize("broken", [None, "MASKINPORTEN_ISSUER", "MASKINPORTEN_PRIVATE_KEY"])
def test_no_value_is_ever_printed(
    live_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    output: str,
    broken: str | None,
) -> None:
    if broken:
        monkeypatch.setenv(broken, live_env[broken][:-3])
    main(["readiness", "--format", output])
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    pem_lines = [
        line for line in live_env["MASKINPORTEN_PRIVATE_KEY"].splitlines() if "--" not in line
    ]
    assert not [line for line in pem_lines if line in printed]
    assert SECRET_CLIENT_ID not in printed
    assert live_env["MASKINPORTEN_KID"] not in printed
