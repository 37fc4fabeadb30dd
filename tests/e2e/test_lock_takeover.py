"""SIGKILL during apply leaves the lock behind; the next apply takes it over with no human step.

The killed run's lock names a process that is gone on this host during this boot, so the next
`mpctl apply` takes the lock over, says whose it was, and converges (reliability.md L8, L2).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from tests.e2e.processes import LATENCY, Running, finished_step, lock_file, mpctl, prepare

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="boot id and /proc: Linux only")


def test_apply_after_a_sigkill_takes_the_lock_over_and_converges(example_copy: Path) -> None:
    project = prepare(example_copy, LATENCY)
    running = Running(project)
    running.wait_for(finished_step)
    running.signal(signal.SIGKILL)
    code, _, _ = running.finish()
    assert code == -signal.SIGKILL
    left = json.loads(lock_file(project).read_text(encoding="utf-8"))
    assert left["pid"] == running.pid  # no `finally` ran: the lock outlived its holder

    rerun = mpctl(project, "apply", "--auto-approve")

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Took over the environment lock of a run that is gone" in rerun.stderr
    assert f"pid {running.pid}" in rerun.stderr
    assert f"lock id {left['id']}" in rerun.stderr
    assert not lock_file(project).exists()
    final = mpctl(project, "plan", "--detailed-exitcode")
    assert final.returncode == 0, final.stdout + final.stderr
