"""Issue 14: apply's visible output, through the real CLI against the embedded emulator.

A rotation shows its phases (stage → register → test → promote → grace) one by one on a
terminal (pexpect, a real pty), and as plain lines with no escape code at all in a CI log
(pipes, CI=true); `--format json` prints one document that validates against the published
schema; the summary counts key rotations apart from first keys; an interactive `apply --plan`
shows the plan, then asks on the terminal, never on stdout.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pexpect
import pytest
from rich.console import Console

from mpctl.apply import Status, StepOutcome
from mpctl.apply.events import Phase
from mpctl.apply.run_report import apply_report_schema
from mpctl.cli.main import main
from mpctl.cli.output import read_plan
from mpctl.cli.progress import BAR_MIN_STEPS, Display, LiveDisplay, PlainDisplay
from mpctl.plan import KeyStep
from tests.e2e.processes import SAFETY_TIMEOUT, prepare

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="terminals (pty)")

CLIENT = "saldo-studielan"
KEY_STEP = f"client/{CLIENT}/key"
ROTATION = ("stage", "register", "test", "promote", "grace")
QUESTION = "Apply 1 step(s) to local?"
SAVED = "rotate.plan.json"
FIRST = "first.plan.json"
SLOW_UPLOAD_S = 1.0
"""The one key upload of the rotation takes this long: register's line shows while it waits."""


def _environ(*, ci: bool) -> dict[str, str]:
    """The caller's environment, without whatever would decide the display for us."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CI", "NO_COLOR", "FORCE_COLOR", "TERM", "MPCTL_NOW", "COLUMNS")
    }
    extra = {"CI": "true", "TERM": "xterm-256color"} if ci else {"TERM": "xterm-256color"}
    return {**base, **extra}


def _run(project: Path, *args: str, ci: bool = True) -> subprocess.CompletedProcess[str]:
    """`mpctl ARGS --manifests PROJECT`, on pipes (no terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "mpctl", *args, "--manifests", str(project)],
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
        env=_environ(ci=ci),
    )


def _spawn(command: str, cwd: Path) -> pexpect.spawn[str]:
    """`command` (a shell line) on a fresh pty, as a person at a terminal runs it."""
    return pexpect.spawn(
        "/bin/sh",
        ["-c", command],
        cwd=str(cwd),
        env=_environ(ci=False),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )


def _mpctl_line(project: Path, *args: str) -> str:
    words = [sys.executable, "-m", "mpctl", *args, "--manifests", str(project)]
    return shlex.join(words)


@pytest.fixture(scope="module")
def converged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The example project after its first apply (6 first keys) with two saved plans: the
    first apply's (`FIRST`) and one to rotate CLIENT (`SAVED`); and that first apply's stdout.
    Tests change only copies of it."""
    from tests.conftest import EXAMPLE_MANIFESTS

    project = tmp_path_factory.mktemp("output") / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, project, ignore=shutil.ignore_patterns(".mpctl"))
    prepare(project)
    made = _run(project, "plan", "--out", str(project / FIRST))
    assert made.returncode == 0, made.stdout + made.stderr
    first = _run(project, "apply", "--auto-approve")
    assert first.returncode == 0, first.stdout + first.stderr
    made = _run(project, "plan", "--rotate", CLIENT, "--out", str(project / SAVED))
    assert made.returncode == 0, made.stdout + made.stderr
    return project, first.stdout


@pytest.fixture
def project(converged: tuple[Path, str], tmp_path: Path) -> Path:
    """A private copy of the converged project (its emulator state and keys included)."""
    copy = tmp_path / "manifests"
    shutil.copytree(converged[0], copy)
    return copy


def _slow_key_upload(project: Path) -> None:
    """The next JWKS upload waits SLOW_UPLOAD_S in the emulator (a fault rule in its state)."""
    state = project / ".mpctl" / "local" / "emulator-state.json"
    document = json.loads(state.read_text())
    document["faults"] = [
        {
            "kind": "latency",
            "path": "/api/v1/clients/*/jwks",
            "methods": ["POST"],
            "latency_ms": int(SLOW_UPLOAD_S * 1000),
            "max_hits": 1,
        }
    ]
    state.write_text(json.dumps(document))


def _phase_lines(text: str) -> list[str]:
    return re.findall(rf"→ {re.escape(KEY_STEP)}: (\w+)", text)


def test_a_rotation_shows_its_phases_one_by_one_on_a_terminal(project: Path) -> None:
    _slow_key_upload(project)
    child = _spawn(_mpctl_line(project, "apply", "--rotate", CLIENT, "--auto-approve"), project)
    for phase in ROTATION:
        child.expect_exact(f"{KEY_STEP}: {phase}")
        if phase == "register":  # the upload is still in flight: nothing after it is shown yet
            assert "test" not in child.buffer, child.buffer
            assert "✓" not in child.buffer, child.buffer
    child.expect_exact(f"✓ {KEY_STEP}")
    child.expect_exact("Key rotations: 1.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before


def test_a_ci_log_has_the_phases_as_plain_lines_and_no_escape_codes(project: Path) -> None:
    done = _run(project, "apply", "--rotate", CLIENT, "--auto-approve", ci=True)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "\x1b" not in done.stdout
    assert "\x1b" not in done.stderr
    assert _phase_lines(done.stdout) == list(ROTATION), done.stdout
    lines = done.stdout.splitlines()
    assert lines.index(f"  ✓ {KEY_STEP}") > max(
        i for i, line in enumerate(lines) if f"→ {KEY_STEP}:" in line
    )
    assert "grace until " in done.stdout
    assert "Key rotations: 1." in done.stdout


def test_the_summary_counts_rotations_apart_from_first_keys(
    converged: tuple[Path, str], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first_apply = converged[1]
    assert "Key rotations: 0. First keys: 6." in first_apply, first_apply

    assert main(["apply", "--rotate", CLIENT, "--auto-approve", "--manifests", str(project)]) == 0
    rotated = capsys.readouterr().out
    assert "Key rotations: 1.\n" in rotated, rotated
    assert "First keys" not in rotated

    assert main(["apply", "--auto-approve", "--manifests", str(project)]) == 0
    assert "Key rotations" not in capsys.readouterr().out  # no key step, no count


def test_format_json_is_one_document_valid_against_the_schema(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["apply", "--rotate", CLIENT, "--auto-approve", "--format", "json"]
    code = main([*args, "--manifests", str(project)])
    done = capsys.readouterr()

    assert code == 0, done.out + done.err
    document = json.loads(done.out)
    jsonschema.Draft202012Validator(apply_report_schema()).validate(document)
    assert document["format_version"] == "1"
    assert document["ok"] is True
    assert document["exit_code"] == 0
    [step] = document["steps"]
    assert step["address"] == KEY_STEP
    assert (step["kind"], step["action"], step["outcome"]) == ("key", "rotate_key", "done")
    assert step["phases"] == list(ROTATION)
    assert document["totals"]["key_rotations"] == 1
    assert document["totals"]["first_keys"] == 0
    assert document["totals"]["writes"] == step["writes"] > 0
    assert f"→ {KEY_STEP}: stage" in done.err  # progress goes to stderr only


def test_format_json_refuses_to_ask_for_confirmation(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["apply", "--rotate", CLIENT, "--format", "json", "--manifests", str(project)])
    refused = capsys.readouterr()

    assert code == 1, refused.out + refused.err
    assert refused.out == ""
    assert "--format json cannot ask for confirmation; nothing was written" in refused.err
    assert not (project / ".mpctl" / "local" / "apply.lock").exists()


def test_apply_plan_shows_the_plan_then_asks_on_the_terminal(project: Path) -> None:
    saved = project / SAVED
    child = _spawn(_mpctl_line(project, "apply", "--plan", str(saved)), project)
    child.expect_exact("1 key rotation.")  # the plan's summary line, before the question
    child.expect_exact(QUESTION)
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "apply cancelled; nothing was written" in (child.before or "")


def test_the_question_goes_to_the_terminal_when_stdout_is_a_file(project: Path) -> None:
    saved = project / SAVED
    log = project / "apply.log"

    line = f"{_mpctl_line(project, 'apply', '--plan', str(saved))} > {shlex.quote(str(log))}"
    child = _spawn(line, project)
    child.expect_exact(QUESTION)
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before

    stdout = log.read_text()
    assert QUESTION not in stdout
    assert "Plan: 0 to create, 0 to update, 0 to delete, 1 key rotation." in stdout
    assert _phase_lines(stdout) == list(ROTATION), stdout
    assert f"✓ {KEY_STEP}" in stdout


def test_many_steps_get_a_bar_on_a_terminal_and_plain_lines_have_no_codes(
    converged: tuple[Path, str],
) -> None:
    """The displays themselves on a rich console that is (or claims to be) a terminal."""
    plan = read_plan(converged[0] / FIRST)
    assert len(plan.steps) >= BAR_MIN_STEPS
    outcomes = [StepOutcome(str(step.address), Status.DONE, writes=1) for step in plan.steps]
    key_step = next(step for step in plan.steps if isinstance(step, KeyStep))

    def shown(display_of: Callable[[Console], Display]) -> str:
        screen = io.StringIO()
        display = display_of(Console(file=screen, force_terminal=True, width=120))
        display.begin(plan)
        display.phase(key_step, Phase.STAGE, "")
        for outcome in outcomes:
            display.finished(outcome)
        display.end()
        return screen.getvalue()

    live = shown(LiveDisplay)
    assert f"{len(plan.steps)}/{len(plan.steps)}" in live  # the bar counted every step
    assert "\x1b[" in live
    plain = shown(PlainDisplay)
    assert "\x1b" not in plain
    assert plain.splitlines() == [
        f"  → {key_step.address}: stage",
        *(f"  ✓ {outcome.address}" for outcome in outcomes),
    ]
