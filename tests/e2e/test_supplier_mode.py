"""Supplier mode through the real CLI: one project manages clients for three customer
organisations and its own, validated, planned, applied and verified in one run against the
embedded emulator, whose admin client holds idporten:dcr.supplier, then one client moved to
another customer (a replacement, with --allow-replace); without the scope on the
admin, validate and plan stop before any call and name the fix (MPL115).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OWN = "313367002"
CUSTOMERS = {"kunde-a": "910753614", "kunde-b": "923456783", "kunde-c": "934567897"}
TIMEOUT = 120

WORLD = f"""\
organisations:
  - {{orgno: "{OWN}", name: ACME AS, prefixes: [acme]}}
  - {{orgno: "974760673", name: Brønnøysundregistrene, prefixes: [brreg]}}
  - {{orgno: "{CUSTOMERS["kunde-a"]}", name: Kunde A AS}}
  - {{orgno: "{CUSTOMERS["kunde-b"]}", name: Kunde B AS}}
  - {{orgno: "{CUSTOMERS["kunde-c"]}", name: Kunde C AS}}
admin_clients:
  - client_id: acme-admin
    client_orgno: "{OWN}"
    scopes: [idporten:dcr.read, idporten:dcr.write, idporten:dcr.modify,
             idporten:scopes.read, idporten:scopes.write, idporten:dcr.supplier]
scopes:
  - name: brreg:enhetsregisteret.read
    owner_orgno: "974760673"
    description: Open data, available to everyone
    allowed_integration_types: [maskinporten]
    accessible_for_all: true
"""

PROJECT = f"""\
project: supplier-test
organisation: {{orgno: "{OWN}", name: ACME AS, scope_prefixes: [acme]}}
default_env: local
defaults:
  client:
    keys: {{size: 2048}}
environments:
  local:
    api_base_url: http://emulator.mpctl.local/api/v1
    issuer: http://emulator.mpctl.local/
    token_endpoint: http://emulator.mpctl.local/token
    emulator: {{world: world.yaml}}
    admin:
      client_id: acme-admin
      certificate: {{file: ./.mpctl/local/admin-certificate.pem}}
      private_key: {{file: ./.mpctl/local/admin-key.pem}}
      supplier: true
"""


def _clients() -> str:
    own = (
        "kind: Client\nname: own-sync\ndescription: Our own sync\n"
        "scopes: [brreg:enhetsregisteret.read]\n"
    )
    customers = [
        f"kind: Client\nname: {name}\ndescription: Runs {name}'s sync\n"
        f'client_orgno: "{orgno}"\nscopes: [brreg:enhetsregisteret.read]\n'
        for name, orgno in CUSTOMERS.items()
    ]
    return "---\n".join([own, *customers])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "resources").mkdir(parents=True)
    (root / ".mpctl").mkdir()
    (root / "mpctl.yaml").write_text(PROJECT, encoding="utf-8")
    (root / "world.yaml").write_text(WORLD, encoding="utf-8")
    (root / "resources" / "clients.yaml").write_text(_clients(), encoding="utf-8")
    return root


def _mpctl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
    environ.pop("MPCTL_NOW", None)
    return subprocess.run(
        [sys.executable, "-m", "mpctl", *args, "--manifests", str(project)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=environ,
        cwd=project,
    )


def test_clients_for_three_customers_and_own_in_one_run(project: Path) -> None:
    validated = _mpctl(project, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr

    planned = _mpctl(project, "plan", "--format", "json")
    assert planned.returncode == 0, planned.stderr
    steps = {s["address"]: s for s in json.loads(planned.stdout)["steps"]}
    for name, orgno in CUSTOMERS.items():
        step = steps[f"client/{name}"]
        assert step["action"] == "create"
        assert step["body"]["client_orgno"] == orgno
    assert "client_orgno" not in steps["client/own-sync"]["body"]

    applied = _mpctl(project, "apply", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr

    settled = _mpctl(project, "plan", "--detailed-exitcode")
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert "No changes." in settled.stdout

    verified = _mpctl(project, "verify", "--format", "json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    consumers = {
        check["client"]: actual
        for check in json.loads(verified.stdout)["checks"]
        for name, actual in _claims(check)
        if name == "consumer.ID"
    }
    expected = {name: f"0192:{orgno}" for name, orgno in {**CUSTOMERS, "own-sync": OWN}.items()}
    assert consumers == expected, verified.stdout + verified.stderr
    _move_kunde_c(project)


def _move_kunde_c(project: Path) -> None:
    """A client cannot move between organisations: a new client_orgno replaces it."""
    clients = project / "resources" / "clients.yaml"
    moved = CUSTOMERS["kunde-b"]
    clients.write_text(
        clients.read_text(encoding="utf-8").replace(CUSTOMERS["kunde-c"], moved),
        encoding="utf-8",
    )
    applied = _mpctl(project, "apply", "--auto-approve", "--allow-replace")
    output = applied.stdout + applied.stderr
    assert applied.returncode == 0, output
    assert f'client_orgno = "{CUSTOMERS["kunde-c"]}" → "{moved}"' in output
    assert "client_orgno cannot change in place" in output
    settled = _mpctl(project, "plan", "--format", "json", "--detailed-exitcode")
    assert settled.returncode == 0, settled.stdout + settled.stderr


def _claims(check: dict[str, object]) -> list[tuple[str, str]]:
    claims = check["claims"]
    assert isinstance(claims, list)
    return [(c["name"], c["actual"]) for c in claims]


def test_without_the_supplier_scope_validate_and_plan_name_the_fix(project: Path) -> None:
    config = project / "mpctl.yaml"
    config.write_text(PROJECT.replace("      supplier: true\n", ""), encoding="utf-8")
    for command in ("validate", "plan"):
        result = _mpctl(project, command)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert "MPL115" in output
        assert "idporten:dcr.supplier" in output
        assert "supplier: true" in output
    assert not (project / ".mpctl" / "local" / "emulator-state.json").exists()
