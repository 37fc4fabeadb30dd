"""The audit log's parts: who ran it (GitHub variables, git, the user), the append-only file,
what a step record collects, and a log that cannot be written (the apply goes on)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mpctl.apply import Status, StepOutcome
from mpctl.apply.audit import (
    AppendOnlyFile,
    AuditLog,
    KeySeen,
    RunIdentity,
    git_head,
    identify_run,
    open_audit_log,
    parse_record,
    pull_request_number,
)
from mpctl.model import KeyPolicy
from mpctl.plan import Action, KeyChange, KeyPhase, KeyStep, PlanOptions
from mpctl.remote import CallEvent

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
IDENTITY = RunIdentity(
    run_id="r1", env="test", project="313367002/acme", commit=None, pr=None, actor="ci"
)


def _git(directory: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_in_github_actions_the_run_is_named_by_its_variables(tmp_path: Path) -> None:
    environ = {
        "GITHUB_SHA": "a" * 40,
        "GITHUB_REF": "refs/pull/42/merge",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/manifests",
        "GITHUB_RUN_ID": "7",
        "GITHUB_RUN_ATTEMPT": "2",
    }
    identity = identify_run(env="prod", project="p", directory=tmp_path, environ=environ)
    assert (identity.commit, identity.pr, identity.actor) == ("a" * 40, 42, "octocat")
    assert identity.ci_run_url == "https://github.com/acme/manifests/actions/runs/7/attempts/2"
    assert len(identity.run_id) == 32
    assert identify_run(env="prod", project="p", directory=tmp_path, environ=environ, pr=9).pr == 9


def test_the_pull_request_comes_from_the_event_payload_when_the_ref_is_a_branch(
    tmp_path: Path,
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 17}}), encoding="utf-8")
    assert pull_request_number({"GITHUB_REF": "refs/heads/main"}) is None
    environ = {"GITHUB_REF": "refs/heads/main", "GITHUB_EVENT_PATH": str(event)}
    assert pull_request_number(environ) == 17
    event.write_text("{not json", encoding="utf-8")
    assert pull_request_number(environ) is None


def test_locally_the_commit_is_git_head_and_none_outside_a_repository(tmp_path: Path) -> None:
    assert git_head(tmp_path) is None
    _git(tmp_path, "init", "-q")
    assert git_head(tmp_path) is None  # no commit yet
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "first")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert git_head(tmp_path) == head
    identity = identify_run(env="local", project="p", directory=tmp_path, environ={})
    assert identity.commit == head
    assert identity.pr is None


def test_the_file_is_private_and_a_torn_last_line_is_closed_first(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    path.parent.mkdir()
    path.write_bytes(b'{"whole": 1}\n{"cut sh')
    os.chmod(path, 0o600)
    file = AppendOnlyFile(path)
    file.append(b'{"next": 2}\n')
    file.close()
    assert path.read_bytes() == b'{"whole": 1}\n{"cut sh\n{"next": 2}\n'
    fresh = tmp_path / "new" / "audit.jsonl"
    AppendOnlyFile(fresh).close()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_a_step_record_holds_what_was_seen_while_it_ran(tmp_path: Path) -> None:
    log = open_audit_log(tmp_path / "audit.jsonl", IDENTITY, now=lambda: NOW)
    log.run_started(PlanOptions(rotate=("billing",)), saved=False)
    log.call_seen(CallEvent("GET", "/api/v1/clients", 503, "c0"))  # before any step
    step = KeyStep(
        address="client/billing/key",
        action=Action.ROTATE_KEY,
        key=KeyChange(client="billing", phases=(KeyPhase.STAGE,), policy=KeyPolicy()),
    )
    log.step_started(step)
    log.call_seen(CallEvent("POST", "/api/v1/clients/x/jwks", 503, "c1"))
    log.call_seen(CallEvent("POST", "/api/v1/clients/x/jwks", 200))
    log.key_seen(KeySeen("billing", "k1", "current", "tp1"))
    log.key_seen(KeySeen("billing", "k2", "staged", "tp2"))
    log.key_seen(KeySeen("billing", "k2", "promoted"))
    outcome = StepOutcome("client/billing/key", Status.DONE, writes=3)
    log.step_finished(step, outcome)
    log.key_seen(KeySeen("billing", "k9", "current", "tp9"))  # after the step: not credited
    log.close()
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    start, record = (parse_record(line) for line in lines)
    assert start.record == "run_start"
    assert record.record == "step"
    assert [c.correlation_id for c in record.correlation_ids] == ["c1"]
    assert [(k.kid, k.thumbprint, k.roles) for k in record.keys] == [
        ("k1", "tp1", ("current",)),
        ("k2", "tp2", ("promoted", "staged")),
    ]
    assert lines[1] == json.dumps(json.loads(lines[1]), sort_keys=True, separators=(",", ":"))


def test_a_log_that_cannot_be_written_keeps_the_failure_and_raises_nothing() -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("needs /dev/full")
    log = AuditLog(AppendOnlyFile(full), IDENTITY, now=lambda: NOW)
    log.run_started(PlanOptions(), saved=True)
    log.run_started(PlanOptions(), saved=True)
    log.close()
    assert log.failure is not None
    assert "/dev/full" in log.failure
