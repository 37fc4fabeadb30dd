"""The child process of the MASKINPORTEN_* environment fuzz: runs a batch of probes under limits.

Reads `{"examples": [{"environ": {...}, "flags": [...]}, ...]}` as JSON on stdin, sets an
address-space and a CPU limit (`resource.setrlimit`), then for each example: replaces every
MASKINPORTEN_* variable of this process with the example's, runs the real CLI entry point
(`mpctl readiness --format json` plus the example's flags) with stdout and stderr captured, and
calls `credentials_from_env` (what `verify --from-env` uses) on the same values. Each example has
a wall-clock budget (SIGALRM). One JSON line per finished example goes to the real stdout, flushed
at once, so the parent knows which example was in flight if this process dies or hangs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import sys
import time
from types import FrameType
from typing import Any

from mpctl.cli.main import main
from mpctl.verify.errors import EnvironmentConfigError
from mpctl.verify.readiness import credentials_from_env

PREFIX = "MASKINPORTEN_"
EXAMPLE_SECONDS = 5


class OverBudget(BaseException):
    """Raised by SIGALRM in the example that ran out of time (not an Exception: nothing eats it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise OverBudget


def limit(memory_bytes: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))


def set_environment(environ: dict[str, str]) -> None:
    for name in [n for n in os.environ if n.startswith(PREFIX)]:
        del os.environ[name]
    for name, value in environ.items():
        os.environ[name] = value


def run_cli(flags: list[str]) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["readiness", "--format", "json", *flags])
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}


def run_credentials(flags: list[str]) -> dict[str, Any]:
    try:
        credentials_from_env(os.environ, allow_http="--allow-http" in flags)
    except EnvironmentConfigError as exc:
        return {"credentials": "refused", "message": exc.message}
    except Exception as exc:
        return {"credentials": "crashed", "message": type(exc).__name__}
    return {"credentials": "ok", "message": ""}


def run_example(example: dict[str, Any]) -> dict[str, Any]:
    set_environment(example["environ"])
    flags = list(example["flags"])
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, EXAMPLE_SECONDS)
    try:
        outcome = run_cli(flags) | run_credentials(flags)
    except OverBudget:
        outcome = {"code": None, "out": "", "err": "", "over_budget": True}
    except BaseException as exc:
        outcome = {"code": None, "out": "", "err": f"escaped: {type(exc).__name__}"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return outcome | {"seconds": round(time.monotonic() - started, 3)}


def child() -> None:
    request = json.load(sys.stdin)
    limit(request["memory_bytes"], request["cpu_seconds"])
    signal.signal(signal.SIGALRM, _alarm)
    report = sys.__stdout__
    assert report is not None
    for index, example in enumerate(request["examples"]):
        report.write(json.dumps({"index": index, **run_example(example)}) + "\n")
        report.flush()


if __name__ == "__main__":
    child()
