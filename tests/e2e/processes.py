"""The real `mpctl` as a child process, for tests that send it signals or kill it.

A project is a copy of the shipped example (2048-bit keys for speed) whose embedded emulator
gets fault rules in its world file (seeded into the emulator state on first use). `Running`
wraps one `mpctl apply`: read its output line by line until a marker, signal it, collect the
rest. Every wait has a generous safety timeout; no test asserts on time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

SAFETY_TIMEOUT = 300
"""Seconds after which a child that should have finished is a failure (never a measurement)."""

LATENCY = {"kind": "latency", "path": "/api/v1/*", "latency_ms": 150}
"""Real network delay on every API request: the loop waits on I/O as with Digdir."""


def prepare(project: Path, *faults: dict[str, Any]) -> Path:
    """Make the example copy fast (2048-bit keys) and give its emulator these fault rules."""
    config = project / "mpctl.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("size: 3072", "size: 2048"))
    world = project / "emulator-world.yaml"
    text = world.read_text(encoding="utf-8").replace("\nfaults: []\n", "\n")
    assert "\nfaults:" not in text
    rules = "".join(f"\n  - {json.dumps(rule)}" for rule in faults)
    world.write_text(f"{text.rstrip()}\nfaults:{rules or ' []'}\n", encoding="utf-8")
    return project


def environ() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def mpctl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `mpctl ARGS --manifests PROJECT` to the end."""
    return subprocess.run(
        [sys.executable, "-m", "mpctl", *args, "--manifests", str(project)],
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
        env=environ(),
    )


def lock_file(project: Path) -> Path:
    return project / ".mpctl" / "local" / "apply.lock"


class Running:
    """One `mpctl apply --auto-approve` in the background; `merged` puts stderr on stdout."""

    def __init__(
        self,
        project: Path,
        *args: str,
        merged: bool = False,
        apply_args: tuple[str, ...] = (),
    ) -> None:
        command = [sys.executable, "-m", "mpctl", *args, "apply", "--manifests", str(project)]
        self.process = subprocess.Popen(
            [*command, "--auto-approve", *apply_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,
            text=True,
            env=environ(),
        )
        self.seen: dict[str, list[str]] = {"stdout": [], "stderr": []}

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for(self, found: Callable[[str], bool], stream: str = "stdout") -> str:
        """Read lines until one satisfies `found`; fail if the process ends first."""
        source: IO[str] | None = getattr(self.process, stream)
        assert source is not None
        for line in source:
            self.seen[stream].append(line)
            if found(line):
                return line
        raise AssertionError(f"the process ended before the expected line:\n{self.output()}")

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def finish(self) -> tuple[int, str, str]:
        """Wait for the end; (exit code, everything on stdout, everything on stderr).

        Reads the pipes through their file objects (not `communicate`, which would lose what
        `wait_for` left in their buffers); stderr stays far below a pipe's capacity.
        """
        assert self.process.stdout is not None
        stdout = "".join(self.seen["stdout"]) + self.process.stdout.read()
        stderr = stdout
        if self.process.stderr is not None:
            stderr = "".join(self.seen["stderr"]) + self.process.stderr.read()
        code = self.process.wait(timeout=SAFETY_TIMEOUT)
        return code, stdout, stderr

    def output(self) -> str:
        return "".join(self.seen["stdout"] + self.seen["stderr"])


def finished_step(line: str) -> bool:
    """A step's progress line: `  ✓ client/altinn-sync`."""
    return line.lstrip().startswith("✓")
