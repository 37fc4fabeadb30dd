"""`mpctl verify --format json` through the real CLI, on a copy of the example after apply.

stdout holds exactly one JSON document (the report, valid against `verify_report_schema()`),
listing every managed client and delegation; a refused token carries the MP code and the
catalogue's fix; the issuer's JWKS is fetched once per run whatever the number of checks (the
report counts the HTTP responses its run received, through the call-event seam).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mpctl.cli.environment import connect, open_workspace
from mpctl.model import ClientRegistration
from mpctl.verify import verify_report_schema
from tests.e2e.processes import mpctl

REVOKED_FROM = "altinn-sync"
REVOKED_SCOPE = "altinn:instances.write"


@pytest.fixture
def applied(project: Path) -> Path:
    done = mpctl(project, "apply", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def report_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one JSON document on stdout (json.loads refuses anything after it)."""
    document: dict[str, Any] = json.loads(done.stdout)
    jsonschema.validate(document, verify_report_schema())
    return document


def expected_addresses(project: Path) -> set[str]:
    """Every client (own scopes) and every delegation the manifests declare."""
    addresses = set()
    for name, client in open_workspace(project, None).desired.clients.items():
        if client.own_scopes:
            addresses.add(f"client/{name}")
        for delegation in client.delegations:
            addresses.add(f"client/{name}/delegation/{delegation.consumer_org}")
    return addresses


def expected_clients(project: Path) -> list[str]:
    """Client names in the order verify checks them (the manifests' order)."""
    return list(open_workspace(project, None).desired.clients)


def checks_by_address(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["address"]: check for check in report["checks"]}


def test_verify_json_passes_then_names_each_failure_with_its_fix(applied: Path) -> None:
    """One apply for both halves (the CLI's start-up and apply dominate the time)."""
    every_check_passes_and_the_jwks_is_fetched_once(applied)
    a_revoked_scope_and_a_lost_key_fail_with_their_fix(applied)


def every_check_passes_and_the_jwks_is_fetched_once(applied: Path) -> None:
    """Tokens minted 4 at a time: still one JWKS request, the progress in check order."""
    done = mpctl(applied, "verify", "--format", "json", "--parallelism", "4")
    assert done.returncode == 0, done.stderr
    report = report_of(done)
    checks = checks_by_address(report)
    assert set(checks) == expected_addresses(applied)
    assert any("/delegation/" in address for address in checks)
    assert [c["address"] for c in report["checks"]] == sorted(checks)
    assert {c["outcome"] for c in checks.values()} == {"ok"}
    assert report["totals"] == {"checks": len(checks), "ok": len(checks), "failed": 0, "skipped": 0}
    assert report["requests"] == {"GET /jwk": 1, "POST /token": len(checks)}
    for check in checks.values():
        names = [claim["name"] for claim in check["claims"]]
        assert names[:3] == ["signature", "iss", "scope"]
        assert all(claim["ok"] for claim in check["claims"])
    delegated = next(c for a, c in checks.items() if "/delegation/" in a)
    claims = {claim["name"]: claim for claim in delegated["claims"]}
    assert claims["consumer.ID"]["actual"] == f"0192:{delegated['consumer_org']}"
    assert "All" in done.stderr
    progress = [line.split()[1].rstrip(":") for line in done.stderr.splitlines() if "✓" in line]
    assert progress == [name for name in expected_clients(applied) if name in progress]
    assert set(progress) == {check["client"] for check in checks.values()}
    assert "BEGIN" not in done.stdout + done.stderr
    assert "eyJ" not in done.stdout + done.stderr


def a_revoked_scope_and_a_lost_key_fail_with_their_fix(applied: Path) -> None:
    revoke_scope(applied, REVOKED_FROM, REVOKED_SCOPE)
    lost = "billing-invoices"
    (applied / ".mpctl" / "secrets" / "local" / f"{lost}.json").unlink()
    done = mpctl(applied, "verify", "--format", "json")
    assert done.returncode == 1, done.stderr
    report = report_of(done)
    checks = checks_by_address(report)
    assert set(checks) == expected_addresses(applied)
    refused = checks[f"client/{REVOKED_FROM}"]
    assert (refused["outcome"], refused["code"], refused["mp_code"]) == (
        "failed",
        "MP-200",
        "MP-200",
    )
    assert REVOKED_SCOPE in refused["reason"]
    assert refused["fix"]
    assert refused["cause"]
    assert refused["trace_id"]
    assert refused["claims"] == []
    missing = checks[f"client/{lost}"]
    assert (missing["outcome"], missing["code"], missing["fix"]) == (
        "failed",
        "no-key",
        "run `mpctl apply`",
    )
    others = [c for a, c in checks.items() if a not in {f"client/{REVOKED_FROM}", f"client/{lost}"}]
    assert others
    assert all(c["outcome"] == "ok" for c in others)
    assert report["totals"]["failed"] == 2
    assert not report["ok"]
    # The text output keeps its behaviour: the lost key is an error before any token.
    text = mpctl(applied, "verify")
    assert text.returncode == 1
    assert f"client '{lost}' has no current key" in text.stderr


def test_json_and_events_on_stdout_together_are_refused(project: Path) -> None:
    done = mpctl(project, "verify", "--format", "json", "--log-json", "-")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "--log-json" in done.stderr


def revoke_scope(project: Path, client: str, scope: str) -> None:
    """Take `scope` off the client at Digdir (the emulator), as a person in the portal would."""

    async def edit() -> None:
        async with connect(open_workspace(project, None), access="write") as (remote, _):
            for found in await remote.list_clients():
                if found.description and found.description.endswith(f"/{client}]"):
                    body = found.model_dump(mode="json")
                    for server_field in ("client_id", "created", "last_updated"):
                        body.pop(server_field, None)
                    body["scopes"] = [s for s in body["scopes"] if s != scope]
                    await remote.update_client(
                        found.client_id, ClientRegistration.model_validate(body)
                    )
                    return
        raise AssertionError(f"no managed client {client}")

    asyncio.run(edit())
