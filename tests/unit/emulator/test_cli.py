"""`mpctl emulator serve | issue-certificate` option handling."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mpctl.cli.commands import emulator as command
from mpctl.emulator import EmulatorSettings
from mpctl.errors import UserError


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[EmulatorSettings, str, int]]:
    calls: list[tuple[EmulatorSettings, str, int]] = []

    def fake_serve(settings: EmulatorSettings, host: str, port: int, **_: object) -> None:
        calls.append((settings, host, port))

    monkeypatch.setattr(command, "serve", fake_serve)
    monkeypatch.setattr(command, "listen", lambda host, port: None)  # no real port taken
    return calls


def test_serve_defaults(served: list[tuple[EmulatorSettings, str, int]]) -> None:
    result = CliRunner().invoke(command.app, ["serve", "--port", "9123"])
    assert result.exit_code == 0, result.output
    settings, host, port = served[0]
    assert (host, port) == ("127.0.0.1", 9123)
    assert settings.issuer == "http://127.0.0.1:9123/"
    assert settings.control_enabled is False
    assert settings.state_path is None
    assert settings.environment == "test"


def test_serve_options(served: list[tuple[EmulatorSettings, str, int]], tmp_path: Path) -> None:
    arguments = ["serve", "--state", str(tmp_path / "s.json"), "--world", str(tmp_path / "w.yaml")]
    arguments += ["--issuer", "https://test.maskinporten.no/", "--environment", "prod"]
    arguments += ["--control", "--seed", "4"]
    result = CliRunner().invoke(command.app, arguments)
    assert result.exit_code == 0, result.output
    settings = served[0][0]
    assert settings.issuer == "https://test.maskinporten.no/"
    assert (settings.environment, settings.control_enabled, settings.seed) == ("prod", True, 4)
    assert settings.state_path == tmp_path / "s.json"
    assert settings.world == tmp_path / "w.yaml"


def test_serve_rejects_a_bad_issuer(served: list[tuple[EmulatorSettings, str, int]]) -> None:
    result = CliRunner().invoke(command.app, ["serve", "--issuer", "https://no-slash"])
    assert isinstance(result.exception, UserError)
    assert served == []


def test_issue_certificate_writes_cert_and_private_key(tmp_path: Path) -> None:
    arguments = ["issue-certificate", "--orgno", "313367002", "--cert", str(tmp_path / "c.pem")]
    arguments += ["--key", str(tmp_path / "k.pem"), "--state", str(tmp_path / "state.json")]
    result = CliRunner().invoke(command.app, [*arguments, "--org-name", "ACME AS"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in result.output


def test_issue_certificate_rejects_a_bad_orgno(tmp_path: Path) -> None:
    arguments = ["issue-certificate", "--orgno", "313367003", "--cert", str(tmp_path / "c.pem")]
    arguments += ["--key", str(tmp_path / "k.pem"), "--state", str(tmp_path / "state.json")]
    result = CliRunner().invoke(command.app, arguments)
    assert isinstance(result.exception, UserError)
