"""`mpctl explain` through the CLI entry point: every seed-000 message, codes, bodies, no match."""

from __future__ import annotations

import io
import json

import click
import pytest
import typer

from mpctl.cli import main as cli_main
from mpctl.cli.app import app as real_app
from mpctl.cli.commands.explain import CONTEXT_SETTINGS, explain
from mpctl.cli.main import main


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the real app once `explain` is wired into it; until then a small app with it alone."""
    command = typer.main.get_command(real_app)
    if isinstance(command, click.Group) and "explain" in command.commands:
        return
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.command(context_settings=CONTEXT_SETTINGS)(explain)
    monkeypatch.setattr(cli_main, "app", app)


# The message headings of seed 000 (Digdir's "Feilsøking i Maskinporten"), verbatim.
SEED_000 = [
    ("Invalid assertion. Client authentication failed.", "MP-100"),
    ('"Invalid assertion. Client authentication failed. Invalid JWT claim aud"', "MP-110"),
    (
        '"Invalid assertion. Client authentication failed. The JWT is signed with an invalid '
        'certificate."',
        "MP-120",
    ),
    ("Invalid assertion. Invalid parameter value", "MP-011"),
    (
        '"Validation of JWT claim failed: The combination consumer_org in claim and delegation '
        'scope on client is invalid"',
        "consumer-org-is-own-org",
    ),
    ('Invalid scope -"Token request contains invalid scopes for client"', "MP-200"),
    (
        'Invalid scope - "Token request contains scopes with integration types only allowed for '
        'user login"',
        "MP-201",
    ),
    ("Grant is used before", "MP-012"),
    ("Client not found", "MP-100"),
    ("JWT is expired", "MP-130"),
    ("Client orgno <org.nr> does not match certificate orgno <org.nr>", "MP-122"),
    ("Failed to extract certificate from jwt", "MP-123"),
    ("Could not validate JWT Signature", "MP-124"),
    ("Issue time is after now", "issue-time-after-now"),
    ("Consumer has not been granted access to the scope <scope>", "MP-250"),
    (
        "Consumer <consumer org.nr> has not delegated access to the scope <scope> to supplier "
        "<supplier org.nr>",
        "MP-251",
    ),
]


def explained(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["explain", *args, "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert isinstance(entries, list)
    return entries


@pytest.mark.parametrize(("message", "code"), SEED_000, ids=[c for _, c in SEED_000])
def test_every_seed_000_message_maps_to_its_entry(
    capsys: pytest.CaptureFixture[str], message: str, code: str
) -> None:
    assert main(["explain", message]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{code}  ")
    assert "cause: " in out
    assert "fix: " in out


def test_text_output_has_code_error_description_cause_and_fix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", "Invalid JWT claim aud"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "MP-110  invalid_grant (HTTP 400)"
    assert lines[1] == "  Invalid assertion. Client authentication failed. Invalid JWT claim aud"
    assert lines[2].startswith("  cause: The grant's 'aud' is not this environment's issuer")
    assert lines[3].startswith("  fix:   Set 'aud' to the issuer exactly, with the trailing slash")


@pytest.mark.parametrize(
    "text", ["MP-110", "mp110", "https://test.maskinporten.no/errors/MP-110", "  MP-110  "]
)
def test_codes_and_error_uris(capsys: pytest.CaptureFixture[str], text: str) -> None:
    entries = explained(capsys, text)
    assert [e["code"] for e in entries] == ["MP-110"]
    assert set(entries[0]) == {
        "code",
        "mp_code",
        "error",
        "http_status",
        "description",
        "cause",
        "fix",
    }


def test_a_pasted_json_error_body_with_its_trace_id(capsys: pytest.CaptureFixture[str]) -> None:
    body = {
        "error": "invalid_grant",
        "error_description": "Invalid assertion. Client authentication failed. Expired key. "
        "(trace_id: 356666143081bbec11d293753e9702ca)",
    }
    assert main(["explain", json.dumps(body, indent=2)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("trace_id: 356666143081bbec11d293753e9702ca")
    assert "MP-121  invalid_grant" in out
    assert main(["explain", json.dumps(body), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["trace_id"] == "356666143081bbec11d293753e9702ca"
    assert [e["code"] for e in document["entries"]] == ["MP-121"]


def test_an_error_uri_in_a_body_wins(capsys: pytest.CaptureFixture[str]) -> None:
    body = {"error": "invalid_scope", "error_uri": "https://maskinporten.no/errors/MP-201"}
    assert [e["code"] for e in explained(capsys, json.dumps(body))] == ["MP-201"]


def test_an_unusual_json_object_falls_back_to_its_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert [e["code"] for e in explained(capsys, '{"message": "JWT is expired"}')] == ["MP-130"]


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"error_description": "Client not found"}\n'))
    assert [e["code"] for e in explained(capsys, "-")] == ["MP-100"]


def test_an_oauth_error_lists_every_candidate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "invalid_scope"]) == 0
    out = capsys.readouterr().out
    assert "MP-200  invalid_scope" in out
    assert "\n\nMP-201  invalid_scope" in out


@pytest.mark.parametrize("text", ["the weather is nice", "MP-999", "", "{not json"])
def test_unknown_text_exits_1_with_a_hint(capsys: pytest.CaptureFixture[str], text: str) -> None:
    assert main(["explain", text]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no entry in Maskinporten's error catalogue matches" in captured.err
    assert "hint: pass an MP code" in captured.err


def test_unknown_in_json_is_an_empty_list_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "nothing like it", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"entries": []}


@pytest.mark.parametrize("dashes", ["", "--"])
def test_the_input_is_never_echoed(capsys: pytest.CaptureFixture[str], dashes: str) -> None:
    """Even text that looks like an option (a PEM pasted by mistake) is not echoed back."""
    pasted = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
    assert main(["explain", *filter(None, [dashes]), pasted]) == 1
    captured = capsys.readouterr()
    assert "MIIEvQ" not in captured.out + captured.err
    assert "no entry in Maskinporten's error catalogue matches" in captured.err


def test_text_starting_with_a_dash(capsys: pytest.CaptureFixture[str]) -> None:
    assert [e["code"] for e in explained(capsys, "- JWT is expired")] == ["MP-130"]
