"""SIGTERM during apply (a cancelled CI job): the step in flight finishes, no new one starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

LATENCY = '\nfaults:\n  - {kind: latency, path: "/api/v1/*", latency_ms: 150}\n'


def _mpctl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpctl", args[0], "--manifests", str(project), *args[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_stops_between_steps_and_a_rerun_converges(example_copy: Path) -> None:
    config = example_copy / "mpctl.yaml"
    config.write_text(config.read_text().replace("size: 3072", "size: 2048"))
    world = example_copy / "emulator-world.yaml"
    world.write_text(world.read_text().replace("\nfaults: []\n", "\n") + LATENCY)
    command = [sys.executable, "-m", "mpctl", "apply", "--manifests", str(example_copy)]
    process = subprocess.Popen(
        [*command, "--auto-approve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.lstrip().startswith("✓"):
            process.send_signal(signal.SIGTERM)
            break
    rest, _ = process.communicate(timeout=120)
    output = "".join(lines) + rest
    assert process.returncode == 130, output
    assert "Interrupt received: finishing the step in flight" in output
    assert "not started: apply stopped" in output
    assert "Safe to re-run" in output
    assert _mpctl(example_copy, "apply", "--auto-approve").returncode == 0
    final = _mpctl(example_copy, "plan", "--detailed-exitcode")
    assert final.returncode == 0, final.stdout + final.stderr
