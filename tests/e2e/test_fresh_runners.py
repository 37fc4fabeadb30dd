"""Issue 11's first "done when": applies from fresh CI runners against a durable sink.

Each runner is a fresh copy of the example project with an empty `.mpctl/` (as a new CI runner
has), running the real CLI in its own process with `CI=true`. What outlives the runners is what
outlives them in production: Digdir (the emulator's state file, kept outside the runners'
directories) and the secret store (AWS Secrets Manager on moto's server). Checked:

- the second runner's apply makes zero writes (its plan is empty: nothing re-minted);
- a rotation the first runner started and could not finish (Digdir refused the key upload, so
  the new key waits as AWSPENDING) is finished by the next runner, which has no local state;
- after each apply, a workload that reads its key only from the store (AWSCURRENT, as seed
  002's variables) mints a token: `mpctl verify --from-env` in yet another fresh copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest

from tests.e2e.processes import SAFETY_TIMEOUT
from tests.sinks.aws_server import REGION, moto_url, reset, use_dummy_credentials

__all__ = ["moto_url"]

CLIENT = "saldo-studielan"
SECRET = f"mpctl/local/{CLIENT}"
_LOCAL_EMULATOR = "    emulator:\n      world: emulator-world.yaml\n"


@pytest.fixture
def template(project: Path, moto_url: str, tmp_path: Path) -> Path:
    """The example, its Digdir state kept outside any runner, its keys in AWS (moto)."""
    reset(moto_url)
    state = tmp_path / "digdir" / "state.json"
    state.parent.mkdir(mode=0o700)
    config = project / "mpctl.yaml"
    text = config.read_text()
    assert text.count(_LOCAL_EMULATOR) == 1
    durable = (
        f"{_LOCAL_EMULATOR}      state: {state}\n"
        "    sink:\n"
        "      type: aws-secrets-manager\n"
        f"      region: {REGION}\n"
        f"      endpoint_url: {moto_url}\n"
    )
    config.write_text(text.replace(_LOCAL_EMULATOR, durable))
    shutil.rmtree(project / ".mpctl", ignore_errors=True)
    return project


class Runners:
    """Fresh copies of the template, one per CI job, each run through the real CLI."""

    def __init__(self, template: Path, base: Path, environ: dict[str, str]) -> None:
        self.template = template
        self.base = base
        self.environ = environ
        self.count = 0

    def fresh(self) -> Path:
        self.count += 1
        runner = self.base / f"runner-{self.count}"
        shutil.copytree(self.template, runner, ignore=shutil.ignore_patterns(".mpctl"))
        assert not (runner / ".mpctl").exists()
        return runner

    def mpctl(
        self, runner: Path, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mpctl", *args, "--manifests", str(runner)],
            capture_output=True,
            text=True,
            timeout=SAFETY_TIMEOUT,
            check=False,
            env={**self.environ, **(env or {})},
        )


@pytest.fixture
def runners(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runners:
    use_dummy_credentials(monkeypatch, str(tmp_path))
    environ = {**os.environ, "CI": "true", "NO_COLOR": "1", "COLUMNS": "200"}
    environ.pop("MPCTL_NOW", None)
    return Runners(template, tmp_path / "runners", environ)


def _current(moto_url: str) -> dict[str, str]:
    store = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)
    answer = store.get_secret_value(SecretId=SECRET, VersionStage="AWSCURRENT")
    return {k: v for k, v in json.loads(answer["SecretString"]).items() if isinstance(v, str)}


def _stages(moto_url: str) -> dict[str, list[str]]:
    store = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)
    stages: dict[str, list[str]] = store.describe_secret(SecretId=SECRET)["VersionIdsToStages"]
    return stages


def _workload_mints_a_token(runners: Runners, moto_url: str, env: dict[str, str]) -> str:
    """A program that knows only the store: read AWSCURRENT, mint a token with it."""
    variables = {k: v for k, v in _current(moto_url).items() if k.startswith("MASKINPORTEN_")}
    done = runners.mpctl(
        runners.fresh(), "verify", "--from-env", "--client", CLIENT, env={**env, **variables}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return variables["MASKINPORTEN_KID"]


def _refuse_key_uploads(state: Path, refuse: bool) -> None:
    """Digdir answers 503 to every JWKS upload (a fault rule in the emulator's state)."""
    document = json.loads(state.read_text())
    rule = {"kind": "error", "status": 503, "path": "/api/v1/clients/*/jwks", "methods": ["POST"]}
    document["faults"] = [rule] if refuse else []
    state.write_text(json.dumps(document))


def _state_file(template: Path) -> Path:
    line = next(li for li in (template / "mpctl.yaml").read_text().splitlines() if "state:" in li)
    return Path(line.split("state:", 1)[1].strip())


def test_fresh_runners_converge_once_and_finish_each_others_rotation(
    runners: Runners, template: Path, moto_url: str
) -> None:
    first = runners.fresh()
    done = runners.mpctl(first, "apply", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    kid = _workload_mints_a_token(runners, moto_url, {})
    versions = set(_stages(moto_url))

    second = runners.fresh()
    plan = runners.mpctl(second, "plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    again = runners.mpctl(second, "apply", "--auto-approve")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes." in again.stdout
    assert set(_stages(moto_url)) == versions, "the second runner wrote to the store"
    assert _workload_mints_a_token(runners, moto_url, {}) == kid

    later = {"MPCTL_NOW": (datetime.now(UTC) + timedelta(days=91)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    state = _state_file(template)
    _refuse_key_uploads(state, refuse=True)
    third = runners.fresh()
    cut = runners.mpctl(third, "apply", "--target", CLIENT, "--auto-approve", env=later)
    assert cut.returncode == 1, cut.stdout + cut.stderr
    pending = [v for v, labels in _stages(moto_url).items() if "AWSPENDING" in labels]
    assert len(pending) == 1, "the first runner's new key is not waiting in the store"
    assert _workload_mints_a_token(runners, moto_url, later) == kid  # the old key still works

    _refuse_key_uploads(state, refuse=False)
    fourth = runners.fresh()
    plan = runners.mpctl(fourth, "plan", "--target", CLIENT, env=later)
    assert "phases: register → test → promote" in plan.stdout, plan.stdout
    finish = runners.mpctl(fourth, "apply", "--target", CLIENT, "--auto-approve", env=later)
    assert finish.returncode == 0, finish.stdout + finish.stderr
    rotated = _workload_mints_a_token(runners, moto_url, later)
    assert rotated != kid
    assert not any("AWSPENDING" in labels for labels in _stages(moto_url).values())
    fifth = runners.fresh()
    settled = runners.mpctl(fifth, "plan", "--target", CLIENT, "--detailed-exitcode", env=later)
    assert settled.returncode == 0, settled.stdout + settled.stderr
