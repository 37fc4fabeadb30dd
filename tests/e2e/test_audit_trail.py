"""The audit trail of `mpctl apply`, through the real CLI (a child process) and the emulator.

Digdir's correlation ids are made the way Digdir makes them: the emulator answers one admin
token request and one JWKS upload with a 503 whose v1 body carries a correlation id, and the
client retries. Kids and thumbprints are checked against what the emulator registered, with a
thumbprint computed here; secrets are looked for in the file byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import EXAMPLE_MANIFESTS, REPO
from tests.e2e.harness import thumbprint
from tests.e2e.processes import LATENCY, SAFETY_TIMEOUT, Running, finished_step, prepare

GITHUB = {
    "GITHUB_SHA": "4f1c0ffee4f1c0ffee4f1c0ffee4f1c0ffee4f1c",
    "GITHUB_REF": "refs/pull/42/merge",
    "GITHUB_ACTOR": "octocat",
}
FLAKY_DIGDIR = (
    {"kind": "error", "path": "/token", "methods": ["POST"], "status": 503, "max_hits": 1},
    {
        "kind": "error",
        "path": "/api/v1/clients/*/jwks",
        "methods": ["POST"],
        "status": 503,
        "max_hits": 1,
    },
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def environ(**extra: str) -> dict[str, str]:
    """This process's environment without GitHub's variables (CI may run this suite), plus
    `extra`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return {**kept, "NO_COLOR": "1", "COLUMNS": "200", **extra}


def mpctl(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpctl", *args, "--manifests", str(project)],
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
        env=environ(**env),
    )


def trail(project: Path) -> Path:
    return project / ".mpctl" / "local" / "audit.jsonl"


def records(path: Path) -> list[dict[str, Any]]:
    """Every line of the trail, each checked against the published schema."""
    schema = json.loads((REPO / "schemas" / "audit-record.schema.json").read_text())
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    found = [json.loads(line) for line in text.splitlines()]
    for record in found:
        jsonschema.validate(record, schema)
    return found


def registered_thumbprints(project: Path) -> dict[str, str]:
    """kid → RFC 7638 thumbprint of every key the emulator holds (computed here)."""
    state = json.loads((project / ".mpctl" / "local" / "emulator-state.json").read_text())
    return {
        key["kid"]: thumbprint(key["n"], key["e"])
        for client in state["clients"].values()
        for key in ((client.get("jwks") or {}).get("keys") or [])
    }


def secrets_of(project: Path) -> list[str]:
    """The base64 lines of every private key mpctl holds: the sinks' keys and the admin key."""
    pems = [(project / ".mpctl" / "local" / "admin-key.pem").read_text()]
    for path in sorted((project / ".mpctl" / "secrets" / "local").glob("*.json")):
        labels = json.loads(path.read_text())
        pems += [s["private_key_pem"] for s in labels.values() if isinstance(s, dict) and s]
    return [line for pem in pems for line in pem.splitlines() if len(line) >= 40]


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The example project applied once in "CI" (commit, PR, actor), against a flaky Digdir."""
    project = tmp_path_factory.mktemp("audit") / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, project, ignore=shutil.ignore_patterns(".mpctl"))
    prepare(project, *FLAKY_DIGDIR)
    done = mpctl(project, "apply", "--auto-approve", **GITHUB)
    assert done.returncode == 0, done.stdout + done.stderr
    return project, done.stdout


def test_an_apply_records_its_start_every_step_and_its_end(provisioned: tuple[Path, str]) -> None:
    project, stdout = provisioned
    found = records(trail(project))
    start, *steps, end = found
    assert start["record"] == "run_start"
    assert end["record"] == "run_end"
    assert {r["record"] for r in steps} == {"step"}
    assert {r["run_id"] for r in found} == {start["run_id"]}
    for record in found:
        assert (record["commit"], record["pr"], record["actor"]) == (
            GITHUB["GITHUB_SHA"],
            42,
            "octocat",
        )
        assert (record["env"], record["project"]) == ("local", "313367002/acme-platform")
    shown = [line.split("✓", 1)[1].strip() for line in stdout.splitlines() if finished_step(line)]
    assert [r["address"] for r in steps] == shown
    assert {r["status"] for r in steps} == {"done"}
    assert end["outcome"] == "complete"
    assert end["counts"]["done"] == len(steps) == end["planned_steps"]
    assert end["writes"] == sum(r["writes"] for r in steps)
    assert not end["interrupted"]


def test_key_steps_name_their_kid_and_the_thumbprint_digdir_holds(
    provisioned: tuple[Path, str],
) -> None:
    project, _ = provisioned
    key_steps = [r for r in records(trail(project)) if r.get("action") == "create_key"]
    assert len(key_steps) == 6
    registered = registered_thumbprints(project)
    for record in key_steps:
        (key,) = record["keys"]
        assert key["kid"].startswith(record["address"].split("/")[1])
        assert key["thumbprint"] == registered[key["kid"]]
        assert {"staged", "promoted"} <= set(key["roles"])
    others = [r for r in records(trail(project)) if r.get("action") == "create"]
    assert others
    assert all(r["keys"] == [] for r in others)


def test_digdir_correlation_ids_are_credited_to_the_step_or_the_run(
    provisioned: tuple[Path, str],
) -> None:
    project, _ = provisioned
    found = records(trail(project))
    with_ids = [r for r in found if r["record"] == "step" and r["correlation_ids"]]
    (step,) = with_ids
    (seen,) = step["correlation_ids"]
    assert step["action"] == "create_key"
    assert (seen["method"], seen["status"]) == ("POST", 503)
    assert re.fullmatch(r"/api/v1/clients/[0-9a-f-]+/jwks", seen["path"])
    assert re.fullmatch(r"[0-9a-f]{32}", seen["correlation_id"])
    (admin_token,) = found[-1]["correlation_ids"]  # outside any step: the admin token
    assert (admin_token["path"], admin_token["status"]) == ("/token", 503)


def test_the_trail_holds_no_key_material_token_or_grant(provisioned: tuple[Path, str]) -> None:
    project, _ = provisioned
    text = trail(project).read_text(encoding="utf-8")
    assert "PRIVATE KEY" not in text
    assert "BEGIN" not in text
    assert not _JWT.search(text), "a JWT (admin token, access token or client assertion)"
    state = json.loads((project / ".mpctl" / "local" / "emulator-state.json").read_text())
    jtis = [key.rpartition("|")[2] for key in state["used_grants"]]  # "<client>|jti|<jti>"
    assert len(jtis) >= 7  # the admin's grant and one per key test
    assert not [jti for jti in jtis if jti in text]
    lines = secrets_of(project)
    assert len(lines) > 6 * 10
    assert not [line for line in lines if line in text]
    assert '"d":' not in text


def test_a_rotation_names_the_old_and_the_new_kid(tmp_path: Path, example_copy: Path) -> None:
    project = prepare(example_copy)
    assert mpctl(project, "apply", "--auto-approve", "--no-audit").returncode == 0
    assert not trail(project).exists()
    sink = project / ".mpctl" / "secrets" / "local" / "billing-invoices.json"
    old = json.loads(sink.read_text())["current"]["kid"]
    done = mpctl(project, "apply", "--auto-approve", "--rotate", "billing-invoices")
    assert done.returncode == 0, done.stdout + done.stderr
    new = json.loads(sink.read_text())["current"]["kid"]
    _, rotation, end = records(trail(project))
    assert (rotation["address"], rotation["action"]) == (
        "client/billing-invoices/key",
        "rotate_key",
    )
    roles = {key["kid"]: set(key["roles"]) for key in rotation["keys"]}
    assert roles == {old: {"current"}, new: {"pending", "staged", "promoted"}}
    registered = registered_thumbprints(project)
    assert [k["thumbprint"] for k in rotation["keys"]] == [registered[k] for k in sorted(roles)]
    assert end["outcome"] == "complete"
    elsewhere = tmp_path / "elsewhere" / "trail.jsonl"
    again = mpctl(project, "apply", "--auto-approve", "--audit-log", str(elsewhere))
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r["outcome"] for r in records(elsewhere) if r["record"] == "run_end"] == ["no_changes"]
    if Path("/dev/full").exists():
        full = mpctl(project, "apply", "--auto-approve", "--audit-log", "/dev/full")
        assert full.returncode == 1
        assert "cannot write the audit log /dev/full" in full.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigkill_mid_apply_leaves_only_whole_lines(example_copy: Path) -> None:
    """About 12 requests come before the first step's line; slow ones go on well after it."""
    project = prepare(example_copy, {**LATENCY, "latency_ms": 100, "max_hits": 25})
    running = Running(project)
    first = running.wait_for(finished_step).split("✓", 1)[1].strip()
    running.signal(signal.SIGKILL)
    code, _, _ = running.finish()
    assert code == -signal.SIGKILL
    found = records(trail(project))  # every line whole and valid
    assert found[0]["record"] == "run_start"
    assert first in [r.get("address") for r in found]
    assert "run_end" not in {r["record"] for r in found}
    again = mpctl(project, "apply", "--auto-approve")
    assert again.returncode == 0, again.stdout + again.stderr
    after = records(trail(project))
    assert after[: len(found)] == found
    assert [r["record"] for r in after].count("run_start") == 2
    assert after[-1]["outcome"] == "complete"
