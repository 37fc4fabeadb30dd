"""Run one function on many examples in a child process under a time and memory limit.

The fuzz tests use this so that a crash, a hang or a memory blow-up of one example is detected
and attributed to that example instead of taking the test run down. The child is long-lived (it
imports mpctl once) and handles one example at a time: it reads one JSON line, calls the target,
writes one JSON line back. Its address space is capped with RLIMIT_AS. The parent waits at most
`timeout` seconds for each answer; past that the example is a hang, and a child that dies (a
segfault, the kernel's OOM killer, an exit) makes it a crash. Either way the child is replaced.

Child side: `python -m tests.isolation MODULE:FUNCTION MEMORY_BYTES`.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import resource
import selectors
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
UNEXPECTED = re.compile(r"unexpected [A-Z]\w*(Error|Exception)")
"""How the CLI's last-resort boundary words an exception nobody handled."""


def fuzz_settings(examples: int, *, derandomize_up_to: int = 200) -> settings:
    """Hypothesis settings for a fuzz run through `IsolatedRunner`: no deadline (the child's
    own time limit judges), no example database, fixed examples in the short run."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=examples <= derandomize_up_to,
        suppress_health_check=list(HealthCheck),
    )


@dataclass(frozen=True)
class Outcome:
    """What happened to one example.

    kind: "ok" (the target returned `result`), "exception" (it raised: `detail` has the
    traceback), "memory" (MemoryError under the limit), "hang" or "crash".
    """

    kind: str
    seconds: float
    result: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


class IsolatedRunner:
    """A child process that runs `target` ("module:function") on one example at a time."""

    def __init__(self, target: str, *, timeout: float = 10.0, memory_bytes: int = 1 << 30) -> None:
        self._command = [sys.executable, "-m", "tests.isolation", target, str(memory_bytes)]
        self._timeout = timeout
        self._child: subprocess.Popen[str] | None = None

    def __enter__(self) -> IsolatedRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, example: dict[str, Any]) -> Outcome:
        child = self._started()
        assert child.stdin is not None
        assert child.stdout is not None
        started = time.monotonic()
        try:
            child.stdin.write(json.dumps(example) + "\n")
            child.stdin.flush()
        except BrokenPipeError:
            return self._crashed(started)
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            if not selector.select(self._timeout):
                self.close()
                return Outcome("hang", time.monotonic() - started)
        line = child.stdout.readline()
        if not line:
            return self._crashed(started)
        answer = json.loads(line)
        return Outcome(
            answer["kind"], answer["seconds"], answer.get("result", {}), answer["detail"]
        )

    def close(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            for stream in (self._child.stdin, self._child.stdout):
                if stream is not None:
                    stream.close()
            self._child = None

    def _started(self) -> subprocess.Popen[str]:
        if self._child is None or self._child.poll() is not None:
            self._child = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                cwd=REPO,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
        return self._child

    def _crashed(self, started: float) -> Outcome:
        assert self._child is not None
        code = self._child.wait()
        self.close()
        return Outcome("crash", time.monotonic() - started, detail=f"child exited with {code}")


class Tally:
    """Counts for the report: examples, failures by class, slowest example."""

    def __init__(self) -> None:
        self.examples = 0
        self.failures: Counter[str] = Counter()
        self.slowest = 0.0

    def add(self, failure: str | None, seconds: float) -> None:
        self.examples += 1
        self.slowest = max(self.slowest, seconds)
        if failure is not None:
            self.failures[failure] += 1

    def report(self, name: str) -> str:
        summary = {
            "fuzz": name,
            "examples": self.examples,
            "failures": dict(self.failures),
            "max_seconds": round(self.slowest, 3),
        }
        if os.environ.get("MPCTL_FUZZ_REPORT"):
            with Path(os.environ["MPCTL_FUZZ_REPORT"]).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(summary) + "\n")
        return json.dumps(summary)


def _limit_memory(budget: int) -> None:
    """Cap the address space at what the child uses now plus `budget` bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[0])
    limit = pages * resource.getpagesize() + budget
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(target: str, memory_bytes: int) -> None:
    module, _, name = target.partition(":")
    function = getattr(importlib.import_module(module), name)
    _limit_memory(memory_bytes)
    for line in sys.stdin:
        example = json.loads(line)
        started = time.perf_counter()
        answer: dict[str, Any] = {"kind": "ok", "detail": ""}
        try:
            answer["result"] = function(example)
        except MemoryError:
            answer.update(kind="memory", detail="MemoryError")
        except BaseException:  # everything the target let through is a finding
            answer.update(kind="exception", detail=traceback.format_exc(limit=-8))
        answer["seconds"] = time.perf_counter() - started
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
