"""Ctrl-C and SIGTERM during `mpctl apply`, through the real CLI against the embedded emulator.

Terraform's rule: the first interrupt finishes the step in flight and starts no new one, then
a summary (done / failed / not started), "safe to re-run", exit 130, lock released; a second
interrupt abandons the step in flight (still exit 130, lock released); an interrupt before
anything was written stops at once and says so; Ctrl-C at the confirmation prompt works the
first time. Each case runs with the in-process emulator as it is (no I/O wait at all: before
the fix the loop never saw the signal until the end) and with real latency, and every case
ends with a re-run that converges (`plan --detailed-exitcode` exits 0).
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.processes import (
    LATENCY,
    SAFETY_TIMEOUT,
    Running,
    environ,
    finished_step,
    lock_file,
    mpctl,
    prepare,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and terminals")

SUMMARY = re.compile(r"Apply interrupted: (\d+) done, (\d+) failed, (\d+) not started")
SIGNALS = [signal.SIGINT, signal.SIGTERM]
WORLDS: dict[str, tuple[dict[str, Any], ...]] = {"in-process": (), "latency": (LATENCY,)}


def assert_reruns_converge(project: Path) -> None:
    rerun = mpctl(project, "apply", "--auto-approve")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    final = mpctl(project, "plan", "--detailed-exitcode")
    assert final.returncode == 0, final.stdout + final.stderr


@pytest.mark.parametrize("world", list(WORLDS), ids=str)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_first_interrupt_finishes_the_step_in_flight_and_starts_no_other(
    example_copy: Path, sig: signal.Signals, world: str
) -> None:
    project = prepare(example_copy, *WORLDS[world])
    running = Running(project)
    running.wait_for(finished_step)
    running.signal(sig)
    code, out, err = running.finish()

    assert code == 130, out + err
    assert "Interrupt received: finishing the step in flight" in err
    summary = SUMMARY.search(err)
    assert summary is not None, err
    done, failed, not_started = (int(n) for n in summary.groups())
    assert done >= 1
    assert failed == 0
    assert not_started >= 1, err  # before the fix every step ran (and SIGTERM exited 0)
    assert "Safe to re-run" in err
    assert "not started: apply stopped" in out
    assert not lock_file(project).exists()
    assert_reruns_converge(project)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_second_interrupt_abandons_the_step_in_flight_and_still_releases_the_lock(
    example_copy: Path, sig: signal.Signals
) -> None:
    """The first key upload takes a minute (once): both signals land while it is in flight.
    One step at a time (`--parallelism 1`), so that upload is altinn-sync's key step and it is
    the step in flight when the signals land; at 16 the first signal may come while only client
    creates run, which finish, and the slow key step then never starts (nothing to abandon)."""
    slow_upload = {
        "kind": "latency",
        "path": "/api/v1/clients/*/jwks",
        "methods": ["POST"],
        "latency_ms": 60_000,
        "max_hits": 1,
    }
    project = prepare(example_copy, slow_upload)
    running = Running(project, merged=True, apply_args=("--parallelism", "1"))
    running.wait_for(finished_step)
    running.signal(sig)
    running.wait_for(lambda line: "Interrupt received" in line)
    running.signal(sig)
    code, out, _ = running.finish()

    assert code == 130, out
    assert "Interrupt again to abandon that step" in out
    assert "Second interrupt" in out
    assert "Abandoned in flight: client/altinn-sync/key" in out
    summary = SUMMARY.search(out)
    assert summary is not None, out
    assert int(summary.group(3)) >= 1
    assert "Safe to re-run" in out
    assert not lock_file(project).exists()
    assert_reruns_converge(project)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_interrupt_before_the_first_step_stops_at_once_and_says_nothing_was_written(
    example_copy: Path, sig: signal.Signals
) -> None:
    """A 429 on the first read makes apply wait; `-v` shows the retry, then the signal lands."""
    rate_limited = {
        "kind": "rate_limit",
        "path": "/api/v1/*",
        "methods": ["GET"],
        "retry_after": 30,
        "max_hits": 1,
    }
    project = prepare(example_copy, rate_limited)
    running = Running(project, "-v")
    running.wait_for(lambda line: line.startswith("retry: GET /api/v1/"), stream="stderr")
    running.signal(sig)
    code, out, err = running.finish()

    assert code == 130, out + err
    assert "Interrupt received: nothing was written" in err
    assert "interrupted before the first step: nothing was written; safe to re-run" in err
    assert "Plan:" not in out  # it never got as far as a plan
    assert not lock_file(project).exists()  # SIGTERM before the first step used to leave it
    before = mpctl(project, "plan", "--detailed-exitcode")
    assert before.returncode == 2, before.stdout + before.stderr  # nothing was written
    assert_reruns_converge(project)


def test_ctrl_c_at_the_confirmation_prompt_stops_at_once(example_copy: Path) -> None:
    """On a terminal, the first Ctrl-C at "Apply N step(s)?" exits 130 and writes nothing."""
    project = prepare(example_copy)
    command = [sys.executable, "-m", "mpctl", "apply", "--manifests", str(project)]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: mpctl on the terminal's slave side, as a user would run it
        try:
            os.execve(sys.executable, command, environ())
        finally:
            os._exit(127)
    try:
        seen = _read_until(terminal, b"step(s) to local?")
        os.write(terminal, b"\x03")  # the terminal turns ^C into SIGINT
        seen += _read_until(terminal, None)
    finally:
        ended, status = os.waitpid(pid, os.WNOHANG)
        if not ended:  # still at the prompt: the interrupt did not work
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        os.close(terminal)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 130, text
    assert "interrupted at the confirmation prompt; nothing was written" in text
    assert not lock_file(project).exists()
    untouched = mpctl(project, "plan", "--detailed-exitcode")
    assert untouched.returncode == 2, untouched.stdout + untouched.stderr
    assert_reruns_converge(project)


def _read_until(terminal: int, marker: bytes | None) -> bytes:
    """Read the terminal until `marker` appears (None: until the child closes it)."""
    seen = b""
    while marker is None or marker not in seen:
        ready, _, _ = select.select([terminal], [], [], SAFETY_TIMEOUT)
        assert ready, f"no output for {SAFETY_TIMEOUT} s; so far:\n{seen.decode(errors='replace')}"
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            assert marker is None, f"the child ended before {marker!r}:\n{seen.decode()}"
            return seen
        seen += chunk
    return seen
