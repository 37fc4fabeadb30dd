"""Issue 8's cases through the real CLI (a `python -m mpctl` subprocess per command).

Each test reproduces what a user saw on the example project, then checks the fix:
create before destroy, no duplicate client for a lost marker, ownership per project, `import`
that writes only a manifest, saved plans that are checked step for step, and a default key
policy. Digdir is the embedded emulator; remote changes are made through its API, as another
person or tool would make them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mpctl.cli.environment import connect, open_workspace
from mpctl.manifests import load
from mpctl.model import ClientRegistration, ObservedState
from mpctl.remote.client import HttpRemote
from mpctl.remote.fetch import fetch

ORGNO = "313367002"
CONSUMER = "910753614"  # Eksempel Kunde AS, an approved consumer of acme:invoices.read
HAND_MADE = "5f3c9e2a-7b1d-4e8f-a6c4-0d2b9f1e7a35"  # made "by hand" in the shipped world


def _valid_unknown_orgno() -> str:
    """A 9-digit number with a correct mod-11 check digit that no organisation in the world has."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    for base in range(87654321, 87654421):
        digits = [int(d) for d in f"{base:08d}"]
        check = 11 - sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        if check < 10:
            return f"{base:08d}{0 if check == 11 else check}"
    raise AssertionError("no candidate")


UNKNOWN_ORG = _valid_unknown_orgno()


def mpctl(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the real CLI; returns the exit code and stdout + stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "mpctl", args[0], "--manifests", str(project), *args[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )
    return done.returncode, done.stdout + done.stderr


T = TypeVar("T")


def remote(project: Path, action: Callable[[HttpRemote], Awaitable[T]]) -> T:
    """Act on Digdir (the project's embedded emulator) as someone outside mpctl would."""

    async def go() -> T:
        async with connect(open_workspace(project, None), access="write") as (api, _):
            return await action(api)

    return asyncio.run(go())


def observed(project: Path) -> ObservedState:
    return remote(project, lambda api: fetch(api, orgno=ORGNO))


def digdir_objects(project: Path) -> str:
    """Everything Digdir holds for ACME that a write could change, as one comparable string."""
    state = observed(project)
    parts = {
        "clients": {k: v.model_dump(mode="json") for k, v in sorted(state.clients.items())},
        "scopes": {k: v.model_dump(mode="json") for k, v in sorted(state.scopes.items())},
        "access": {
            k: [a.model_dump(mode="json") for a in v] for k, v in sorted(state.access.items())
        },
        "jwks": {k: v.model_dump(mode="json") for k, v in sorted(state.jwks.items())},
    }
    return json.dumps(parts, sort_keys=True)


@pytest.fixture
def converged(project: Path) -> Path:
    code, out = mpctl(project, "apply", "--auto-approve")
    assert code == 0, out
    return project


def _plan_json(project: Path, *args: str) -> dict[str, Any]:
    code, out = mpctl(project, "plan", "--format", "json", *args)
    assert code in (0, 1, 2), out
    start = out.index("{")
    document: dict[str, Any] = json.JSONDecoder().raw_decode(out[start:])[0]
    return document


def _steps(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["address"]: step for step in plan["steps"]}


# ---------------------------------------------------------------------------------------------
# 1. create before destroy


def test_a_refused_grant_never_revokes_the_consumer_it_replaces(converged: Path) -> None:
    scopes = converged / "resources" / "scopes.yaml"
    text = scopes.read_text()
    first = 'consumers: ["910753614"]'
    scopes.write_text(text.replace(first, f'consumers: ["{UNKNOWN_ORG}"]', 1))
    grant = f"scope/acme:invoices.read/access/{UNKNOWN_ORG}"
    revoke = f"scope/acme:invoices.read/access/{CONSUMER}"
    steps = _steps(_plan_json(converged, "--allow-delete"))
    assert grant in steps[revoke]["depends_on"]

    code, out = mpctl(converged, "apply", "--auto-approve", "--allow-delete")
    assert code == 1, out
    assert f"✗ {grant}" in out
    assert "Invalid consumer organization number" in out
    assert f"- {revoke}: waits for {grant}" in out
    access = observed(converged).access["acme:invoices.read"]
    assert [(a.consumer_orgno, a.state) for a in access] == [(CONSUMER, "APPROVED")]


# ---------------------------------------------------------------------------------------------
# 2. a lost marker never makes a duplicate


async def _drop_marker(api: HttpRemote, name: str) -> str:
    for client in await api.list_clients():
        if client.description and client.description.endswith(f"/{name}]"):
            body = client.model_dump(mode="json", exclude_none=True)
            body["description"] = "Saldo for Lånekassen (edited in the portal)"
            for field in ("client_id", "client_orgno", "active", "created", "last_updated"):
                body.pop(field, None)
            await api.update_client(client.client_id, ClientRegistration.model_validate(body))
            return client.client_id
    raise AssertionError(f"no managed client {name}")


def test_a_client_that_lost_its_marker_is_held_until_adopted(converged: Path) -> None:
    name = "saldo-studielan"
    client_id = remote(converged, lambda api: _drop_marker(api, name))
    before = len(observed(converged).clients)

    code, out = mpctl(converged, "plan")
    assert code == 1, out
    assert f"client.looks-like-yours] client/{name}" in out
    assert f"adopt: {client_id}" in out
    assert "the secret sink records this client_id" in out
    assert f"+ client/{name}\n" not in out

    code, out = mpctl(converged, "apply", "--auto-approve")
    assert code == 1, out
    assert "holding changes back" in out
    assert len(observed(converged).clients) == before  # nothing created, nothing duplicated

    manifest = converged / "resources" / "clients" / "lanekassen.yaml"
    text = manifest.read_text()
    assert f"name: {name}\n" in text
    manifest.write_text(text.replace(f"name: {name}\n", f"name: {name}\nadopt: {client_id}\n", 1))
    plan = _plan_json(converged)
    assert _steps(plan)[f"client/{name}"]["action"] == "adopt"
    code, out = mpctl(converged, "apply", "--auto-approve")
    assert code == 0, out
    code, out = mpctl(converged, "plan", "--detailed-exitcode")
    assert code == 0, out
    assert len(observed(converged).clients) == before


# ---------------------------------------------------------------------------------------------
# 3. ownership is per project


def _second_project(first: Path, target: Path) -> Path:
    """Another repository of ACME: project `payroll`, the same Digdir, a client of the same name."""
    target.mkdir()
    (target / "resources").mkdir()
    shared = os.path.relpath(first, target)
    config = (first / "mpctl.yaml").read_text()
    config = config.replace("project: acme-platform", "project: payroll")
    config = config.replace("world: emulator-world.yaml", f"world: {shared}/emulator-world.yaml")
    config = config.replace(
        "    emulator:\n",
        f"    emulator:\n      state: {shared}/.mpctl/local/emulator-state.json\n",
        1,
    )
    config = config.replace("{file: ./.mpctl/local/", f"{{file: {shared}/.mpctl/local/")
    (target / "mpctl.yaml").write_text(config)
    (target / "resources" / "clients.yaml").write_text(
        "kind: Client\nname: saldo-studielan\ndescription: Payroll's own saldo client\n"
        "scopes: [lanekassen:lan/v1/saldoopplysninger]\n"
    )
    return target


def test_two_projects_of_one_organisation_never_touch_each_other(
    converged: Path, tmp_path: Path
) -> None:
    other = _second_project(converged, tmp_path / "payroll")
    code, out = mpctl(other, "validate")
    assert code == 0, out
    plan = _plan_json(other, "--allow-delete")
    assert _steps(plan)["client/saldo-studielan"]["action"] == "create"
    assert not [s for s in plan["steps"] if s["action"] in ("delete", "update", "adopt")]
    reasons = {u["reason"] for u in plan["unmanaged"] if u["kind"] == "client"}
    assert "managed by mpctl project 'acme-platform', not this one" in reasons

    code, out = mpctl(other, "apply", "--auto-approve", "--allow-delete")
    assert code == 0, out
    code, out = mpctl(converged, "plan", "--detailed-exitcode", "--allow-delete")
    assert code == 0, out  # the first project sees nothing of the second's work to undo
    markers = [c.description for c in observed(converged).clients.values() if c.description]
    assert sum(m.endswith("[mpctl:payroll/saldo-studielan]") for m in markers) == 1
    assert sum(m.endswith("[mpctl:acme-platform/saldo-studielan]") for m in markers) == 1


def test_a_legacy_marker_is_read_as_ours_and_rewritten(converged: Path) -> None:
    async def to_legacy(api: HttpRemote) -> None:
        for client in await api.list_clients():
            marker = "[mpctl:acme-platform/saldo-studielan]"
            if client.description and client.description.endswith(marker):
                body = client.model_dump(mode="json", exclude_none=True)
                body["description"] = client.description.replace(marker, "[mpctl:saldo-studielan]")
                for field in ("client_id", "client_orgno", "active", "created", "last_updated"):
                    body.pop(field, None)
                await api.update_client(client.client_id, ClientRegistration.model_validate(body))

    remote(converged, to_legacy)
    step = _steps(_plan_json(converged))["client/saldo-studielan"]
    assert step["action"] == "update"
    assert [c["path"] for c in step["changes"]] == [["ownership_marker"]]
    assert mpctl(converged, "apply", "--auto-approve")[0] == 0
    assert mpctl(converged, "plan", "--detailed-exitcode")[0] == 0


# ---------------------------------------------------------------------------------------------
# 4. import writes a manifest for its environment, and nothing at Digdir


def test_import_writes_a_manifest_for_one_environment_and_nothing_at_digdir(
    converged: Path,
) -> None:
    prod_before = sorted(load(converged, "prod").desired.clients)  # type: ignore[union-attr]
    before = digdir_objects(converged)
    code, out = mpctl(converged, "import", "--client-id", HAND_MADE)
    assert code == 0, out
    assert "nothing changed at Digdir" in out
    assert digdir_objects(converged) == before
    imported = (converged / "resources" / "imported.yaml").read_text()
    assert "environments:\n- local\n" in imported
    assert f"adopt: {HAND_MADE}" in imported
    prod_after = sorted(load(converged, "prod").desired.clients)  # type: ignore[union-attr]
    assert prod_after == prod_before


# ---------------------------------------------------------------------------------------------
# 5. a saved plan is checked step for step


def _edited(plan_file: Path, edit: Callable[[dict[str, Any]], None], target: Path) -> Path:
    document = json.loads(plan_file.read_text())
    edit(document)
    target.write_text(json.dumps(document, indent=2))
    return target


def _bump_at_max_age(document: dict[str, Any]) -> None:
    for step in document["steps"]:
        if step["address"] == "scope/acme:invoices.read":
            step["body"]["at_max_age"] += 1
            return
    raise AssertionError("no such step")


def _swap_two_steps(document: dict[str, Any]) -> None:
    steps = document["steps"]
    steps[0], steps[1] = steps[1], steps[0]


def _grant_a_stranger(document: dict[str, Any]) -> None:
    for step in document["steps"]:
        if step["kind"] == "access":
            step["address"] = step["address"].rsplit("/", 1)[0] + "/923456783"
            return
    raise AssertionError("no access step")


def _drop_a_step(document: dict[str, Any]) -> None:
    document["steps"] = document["steps"][1:]
    document["summary"]["create"] -= 1


TAMPERING = {
    "a value": (_bump_at_max_age, "scope/acme:invoices.read differs"),
    "two steps swapped": (_swap_two_steps, "the steps are in another order"),
    "a grant to a stranger": (_grant_a_stranger, "is not called for"),
    "a step dropped": (_drop_a_step, "is missing from the plan"),
}


def test_an_edited_saved_plan_is_refused_with_zero_writes(project: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    code, out = mpctl(project, "plan", "--out", str(saved))
    assert code == 0, out
    before = digdir_objects(project)
    for label, (edit, reason) in TAMPERING.items():
        edited = _edited(saved, edit, tmp_path / "edited.json")
        code, out = mpctl(project, "apply", "--plan", str(edited), "--auto-approve")
        assert code == 1, (label, out)
        assert "nothing was written" in out, (label, out)
        assert reason in out, (label, out)
        assert digdir_objects(project) == before, label
    code, out = mpctl(project, "apply", "--plan", str(saved), "--auto-approve")
    assert code == 0, out


def test_a_saved_plan_of_another_project_or_with_unrepeated_allows_is_refused(
    converged: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert mpctl(converged, "plan", "--out", str(saved))[0] == 0
    foreign = _edited(saved, lambda d: d.update(project=f"{ORGNO}/payroll"), tmp_path / "f.json")
    code, out = mpctl(converged, "apply", "--plan", str(foreign), "--auto-approve")
    assert code == 1
    assert "made for project '313367002/payroll'" in out
    assert "manifests changed" not in out

    allowed = tmp_path / "allowed.json"
    assert mpctl(converged, "plan", "--allow-delete", "--out", str(allowed))[0] == 0
    code, out = mpctl(converged, "apply", "--plan", str(allowed), "--auto-approve")
    assert code == 1
    assert "the plan was made with --allow-delete" in out
    code, out = mpctl(
        converged, "apply", "--plan", str(allowed), "--auto-approve", "--allow-delete"
    )
    assert code == 0, out


def test_an_old_format_plan_is_refused_with_its_version(project: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert mpctl(project, "plan", "--out", str(saved))[0] == 0
    old = _edited(saved, lambda d: d.update(format_version="1"), tmp_path / "old.json")
    code, out = mpctl(project, "apply", "--plan", str(old), "--auto-approve")
    assert code == 1
    assert "format_version 1" in out


# ---------------------------------------------------------------------------------------------
# 6. a client without `keys:` gets the default key policy


def test_a_client_without_keys_gets_a_key_and_verifies(project: Path) -> None:
    config = project / "mpctl.yaml"
    text = config.read_text()
    start = text.index("    keys:\n      algorithm: RS256")
    end = text.index("      grace: 1d\n", start) + len("      grace: 1d\n")
    config.write_text(text[:start] + text[end:])  # no project-wide key defaults either
    (project / "resources" / "plain.yaml").write_text(
        "kind: Client\nname: plain\ndescription: A client that says nothing about keys\n"
        "scopes: [acme:invoices.read]\n"
    )
    steps = _steps(_plan_json(project))
    assert steps["client/plain/key"]["action"] == "create_key"
    code, out = mpctl(project, "apply", "--auto-approve")
    assert code == 0, out
    code, out = mpctl(project, "verify", "--client", "plain")
    assert code == 0, out

    (project / "resources" / "plain.yaml").write_text(
        "kind: Client\nname: plain\ndescription: A client that says nothing about keys\n"
        "scopes: [acme:invoices.read]\nkeys: null\n"
    )
    code, out = mpctl(project, "verify", "--client", "plain")
    assert code == 1
    assert "has `keys: null`" in out


# ---------------------------------------------------------------------------------------------
# issue 9.7: an error about one client holds back that client only


def test_an_error_about_one_client_holds_back_only_that_client(converged: Path) -> None:
    altinn = converged / "resources" / "clients" / "altinn.yaml"
    altinn.write_text(
        altinn.read_text().replace("  - altinn:instances.read\n", "  - nope:secret\n", 1)
    )
    lanekassen = converged / "resources" / "clients" / "lanekassen.yaml"
    text = lanekassen.read_text()
    description = next(line for line in text.splitlines() if line.startswith("description: "))
    lanekassen.write_text(text.replace(description, "description: Saldo, reworded", 1))

    code, out = mpctl(converged, "plan")
    assert code == 1, out  # errors make the plan exit 1 ...
    assert "apply holds back the 1 step(s)" in out  # ... but they hold back one client only

    code, out = mpctl(converged, "apply", "--auto-approve")
    assert code == 1, out
    assert "✓ client/saldo-studielan" in out
    assert "! client/altinn-sync: held back: client.scope-no-access" in out
    assert "Held back by the plan's errors (everything else ran): client/altinn-sync" in out
    descriptions = [c.description or "" for c in observed(converged).clients.values()]
    assert any(d.startswith("Saldo, reworded [mpctl:") for d in descriptions)
