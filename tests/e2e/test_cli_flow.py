"""The CLI end to end against the embedded emulator: plan → apply → converge → drift → verify.

Drift is made the way a person or another tool would make it: directly through Digdir's API
(the emulator's), not by editing mpctl's files.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mpctl.cli.environment import connect, open_workspace
from mpctl.cli.main import main
from mpctl.model import ClientRegistration
from mpctl.remote.client import HttpRemote
from mpctl.secrets import generate_key

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(project: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: str) -> tuple[int, str]:
        code = main([args[0], "--manifests", str(project), *args[1:]])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return invoke


def _remote_edit(project: Path, edit: Callable[[HttpRemote], Awaitable[None]]) -> None:
    async def go() -> None:
        async with connect(open_workspace(project, None), access="write") as (remote, _):
            await edit(remote)

    asyncio.run(go())


async def _client_id(remote: HttpRemote, name: str) -> str:
    for client in await remote.list_clients():
        if client.description and client.description.endswith(f"/{name}]"):
            return client.client_id
    raise AssertionError(f"no managed client {name}")


def _plan_json(run: Run) -> dict[str, object]:
    code, out = run("plan", "--format", "json", "--detailed-exitcode")
    assert code == 2, out
    document: dict[str, object] = json.loads(out)
    return document


def _addresses(plan: dict[str, object]) -> list[tuple[str, str]]:
    return [(s["address"], s["action"]) for s in _steps(plan)]


def _steps(plan: dict[str, object]) -> list[Any]:
    steps = plan["steps"]
    assert isinstance(steps, list)
    return steps


def _apply_then_plan_is_empty(run: Run) -> None:
    """The drift is undone by apply: a fresh plan has no steps (exit 0, "No changes.")."""
    code, out = run("apply", "--auto-approve")
    assert code == 0, out
    code, out = run("plan", "--detailed-exitcode")
    assert code == 0, out
    assert "No changes." in out


def test_first_plan_lists_every_create(run: Run) -> None:
    plan = _plan_json(run)
    creates = {a for a, action in _addresses(plan) if action == "create"}
    assert creates == {
        "client/altinn-sync",
        "client/billing-invoices",
        "client/ledger-invoices",
        "client/reelle-lookup",
        "client/reelle-supplier",
        "client/saldo-studielan",
        "scope/acme:invoices.read",
        "scope/acme:invoices.write",
        "scope/acme:reports/monthly",
        "scope/acme:invoices.read/access/910753614",
        "scope/acme:reports/monthly/access/910753614",
    }
    assert sum(1 for _, action in _addresses(plan) if action == "create_key") == 6


@pytest.fixture
def converged(run: Run) -> Run:
    code, out = run("apply", "--auto-approve")
    assert code == 0, out
    code, out = run("plan", "--detailed-exitcode")
    assert code == 0, out
    assert "No changes." in out
    return run


def test_apply_converges_and_verify_mints_every_token(converged: Run) -> None:
    code, out = converged("apply", "--auto-approve")
    assert code == 0
    assert "No changes." in out
    code, out = converged("verify")
    assert code == 0, out
    assert "All 6 token check(s) passed." in out
    assert "reelle-supplier for 910753614" in out


def test_edited_description_is_drift(converged: Run, project: Path) -> None:
    async def edit(remote: HttpRemote) -> None:
        client_id = await _client_id(remote, "saldo-studielan")
        current = (await remote.get_client(client_id)).model_dump(mode="json")
        body = {
            k: v for k, v in current.items() if k not in {"client_id", "created", "last_updated"}
        }
        body["description"] = "edited in Samarbeidsportalen [mpctl:acme-platform/saldo-studielan]"
        await remote.update_client(client_id, ClientRegistration.model_validate(body))

    _remote_edit(project, edit)
    plan = _plan_json(converged)
    assert _addresses(plan) == [("client/saldo-studielan", "update")]
    (step,) = _steps(plan)
    assert [c["path"] for c in step["changes"]] == [["description"]]
    _apply_then_plan_is_empty(converged)


def test_removed_scope_is_drift(converged: Run, project: Path) -> None:
    async def edit(remote: HttpRemote) -> None:
        client_id = await _client_id(remote, "altinn-sync")
        current = (await remote.get_client(client_id)).model_dump(mode="json")
        body = {
            k: v for k, v in current.items() if k not in {"client_id", "created", "last_updated"}
        }
        body["scopes"] = [s for s in body["scopes"] if s != "altinn:instances.write"]
        await remote.update_client(client_id, ClientRegistration.model_validate(body))

    _remote_edit(project, edit)
    plan = _plan_json(converged)
    assert _addresses(plan) == [("client/altinn-sync", "update")]
    (step,) = _steps(plan)
    (change,) = step["changes"]
    assert (change["path"], change["op"]) == (["scopes"], "add")
    assert (change["old"], change["new"]) == (None, "altinn:instances.write")
    _apply_then_plan_is_empty(converged)


def test_key_added_by_hand_is_reported_and_never_removed(converged: Run, project: Path) -> None:
    foreign = generate_key(kid="added-by-hand", created_at=_now(), size=2048)

    async def edit(remote: HttpRemote) -> None:
        client_id = await _client_id(remote, "reelle-lookup")
        keys = [
            k.model_dump(mode="json", exclude_none=True)
            for k in (await remote.get_jwks(client_id)).keys
        ]
        await remote.put_jwks(client_id, [*keys, dict(foreign.public_jwk)])

    _remote_edit(project, edit)
    code, out = converged("plan", "--detailed-exitcode")
    assert code == 2, out
    assert "added-by-hand" in out
    code, out = converged("apply", "--auto-approve")
    assert code == 0, out

    async def check(remote: HttpRemote) -> None:
        client_id = await _client_id(remote, "reelle-lookup")
        assert "added-by-hand" in (await remote.get_jwks(client_id)).kids

    _remote_edit(project, check)
    code, out = converged("plan")
    assert code == 0, out
    # reported as drift, never a step (apply → plan is empty), and never as "No changes."
    assert "Nothing to apply, but Digdir differs from the manifests" in out
    assert "No changes." not in out
    assert "added-by-hand" in out


def test_revoked_access_is_drift_and_apply_restores_it(converged: Run, project: Path) -> None:
    async def edit(remote: HttpRemote) -> None:
        await remote.revoke_access("acme:invoices.read", "910753614")

    _remote_edit(project, edit)
    plan = _plan_json(converged)
    assert _addresses(plan) == [("scope/acme:invoices.read/access/910753614", "create")]
    _apply_then_plan_is_empty(converged)


def test_saved_plan_round_trip_and_staleness(run: Run, project: Path) -> None:
    saved = project / "plan.json"
    code, out = run("plan", "--out", str(saved))
    assert code == 0, out
    code, out = run("apply", "--plan", str(saved), "--auto-approve")
    assert code == 0, out
    code, out = run("apply", "--plan", str(saved), "--auto-approve")
    assert code == 1
    assert "changed since the plan was made" in out
    assert "nothing was written" in out


def test_no_secret_reaches_any_output(converged: Run, project: Path) -> None:
    outputs = [converged("plan")[1], converged("plan", "--format", "markdown")[1]]
    outputs += [converged("plan", "--format", "json")[1], converged("verify")[1]]
    saved = project / "again.json"
    converged("plan", "--out", str(saved))
    outputs.append(saved.read_text())
    secrets = _planted_secrets(project)
    assert secrets, "the sinks should hold private keys to look for"
    for text in outputs:
        for secret in secrets:
            assert secret not in text


def _planted_secrets(project: Path) -> list[str]:
    """Distinctive fragments of every private key the sinks hold."""
    found: list[str] = []
    for path in (project / ".mpctl" / "secrets" / "local").glob("*.json"):
        document = json.loads(path.read_text())
        text = json.dumps(document)
        for marker in ("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY"):
            if marker in text:
                body = text.split(marker, 1)[1]
                found.append(body[40:100])
    return found


def _now() -> datetime:
    return datetime.now(UTC)


def test_forced_rotation_goes_through_every_phase(converged: Run, project: Path) -> None:
    env_file = project / ".mpctl" / "secrets" / "local" / "saldo-studielan.env"
    before = _kid(env_file)
    code, out = converged("apply", "--rotate", "saldo-studielan", "--auto-approve")
    assert code == 0, out
    after = _kid(env_file)
    assert after != before
    state = json.loads(
        (project / ".mpctl" / "secrets" / "local" / "saldo-studielan.json").read_text()
    )
    assert state["previous"]["kid"] == before  # kept registered for its grace
    code, out = converged("apply", "--rotate", "saldo-studielan", "--auto-approve")
    # one previous key at a time: a second rotation cannot start in the grace, and asking for
    # one is an error a script sees (exit 1), never "No changes." with exit 0
    assert code == 1, out
    assert "[key.rotation-waits]" in out
    assert "--revoke-previous" in out
    code, out = converged("verify", "--client", "saldo-studielan")
    assert code == 0, out


def test_unknown_client_to_rotate_is_a_clear_error(converged: Run) -> None:
    code, out = converged("plan", "--rotate", "nope")
    assert code == 1
    assert "--rotate names unknown clients: nope" in out


def _kid(env_file: Path) -> str:
    for line in env_file.read_text().splitlines():
        if line.startswith("MASKINPORTEN_KID="):
            return line.split("=", 1)[1].strip('"')
    raise AssertionError("no MASKINPORTEN_KID")


def test_verify_from_the_workloads_env_file(
    converged: Run, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = project / ".mpctl" / "secrets" / "local" / "saldo-studielan.env"
    dump = "import os, json; print(json.dumps(dict(os.environ)))"
    script = f'set -a; . "{env_file}"; exec "{sys.executable}" -c "{dump}"'
    loaded = json.loads(
        subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    )
    for name, value in loaded.items():
        if name.startswith("MASKINPORTEN_"):
            monkeypatch.setenv(name, value)  # exactly what a shell loading the file exports
    code, out = converged("verify", "--from-env", "--client", "saldo-studielan")
    assert code == 0, out
    assert "saldo-studielan: token for lanekassen:lan/v1/saldoopplysninger" in out
    monkeypatch.setenv("MASKINPORTEN_KID", "not-registered")
    code, out = converged("verify", "--from-env", "--client", "saldo-studielan")
    assert code == 1
    assert "unknown-kid" in out
    assert "BEGIN" not in out


HAND_MADE = "5f3c9e2a-7b1d-4e8f-a6c4-0d2b9f1e7a35"  # made "by hand" in the shipped world


def test_import_adopts_a_hand_made_client_without_changing_it(
    converged: Run, project: Path
) -> None:
    code, out = converged("plan")
    assert HAND_MADE in out  # listed as not managed
    code, out = converged("import", "--client-id", HAND_MADE)
    assert code == 0, out
    imported = (project / "resources" / "imported.yaml").read_text()
    assert "name: acme-manuell-testklient" in imported
    assert "keys: null" in imported  # someone else's keys stay theirs
    assert f"adopt: {HAND_MADE}" in imported
    code, out = converged("plan", "--detailed-exitcode")
    assert code == 2, out  # the marker is written by apply, after review
    assert "<~ client/acme-manuell-testklient" in out
    assert "Plan: 0 to create, 1 to adopt, 0 to update" in out
    code, out = converged("apply", "--auto-approve")
    assert code == 0, out
    code, out = converged("plan", "--detailed-exitcode")
    assert code == 0, out
    assert HAND_MADE not in out  # managed now, and already matching its manifest
    code, out = converged("import", "--client-id", HAND_MADE)
    assert code == 1
    assert "never overwrites" in out
    again = project / "resources" / "again.yaml"
    code, out = converged("import", "--client-id", HAND_MADE, "--out", str(again))
    assert code == 1
    assert "already carries the mpctl marker" in out


def test_import_refuses_a_file_mpctl_would_not_read(converged: Run, tmp_path: Path) -> None:
    code, out = converged("import", "--client-id", HAND_MADE, "--out", str(tmp_path / "x.yaml"))
    assert code == 1
    assert "outside the project's resources" in out
