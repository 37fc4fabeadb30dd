"""Start-up time of `mpctl --help`, every `mpctl <cmd> --help` and `mpctl validate`.

Issues 13 and 14 ask for `mpctl --help` and `mpctl validate` under 300 ms on this machine. Each
command runs `--runs` times (default 10) as a fresh process, `python -m mpctl ...` with this
interpreter, from a temporary copy of the example project (`manifests/`), output discarded,
with bytecode cached in that temporary folder as an installed mpctl has it (a first, uncounted
run writes the cache; PYTHONDONTWRITEBYTECODE is dropped for the children). The
script prints every run's wall and CPU time (user + system of the child), then per command the
median wall time with its minimum and maximum and the median CPU time, and which
of the modules a light start must not load (the emulator, httpx, rich, verify, jinja2, the vendor
SDKs) the command imported (from one extra run under `python -X importtime`). It measures only;
it asserts nothing.

    .venv/bin/python benchmarks/startup.py                 # every command, 10 runs each
    .venv/bin/python benchmarks/startup.py --runs 5 --only="--help,validate,keys create --help"
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 300.0
COMMANDS = (
    "--help",
    "validate",
    "validate --help",
    "plan --help",
    "apply --help",
    "verify --help",
    "import --help",
    "explain --help",
    "readiness --help",
    "schemas --help",
    "keys --help",
    "keys create --help",
    "emulator --help",
    "emulator serve --help",
    "gitops --help",
    "gitops plan --help",
    "audit --help",
    "audit push --help",
)
WATCHED = (
    "mpctl.emulator",
    "mpctl.verify",
    "mpctl.apply",
    "httpx",
    "rich",
    "jinja2",
    "cryptography",
    "boto3",
    "hvac",
    "lightkube",
    "fastapi",
    "uvicorn",
)


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def child_environment(cwd: Path) -> dict[str, str]:
    """This environment with bytecode caching on, the cache kept under `cwd` (not the repo).

    An installed mpctl runs from compiled bytecode; with PYTHONDONTWRITEBYTECODE set (as in
    some shells and CI) every run would compile mpctl's sources again, which is not start-up.
    """
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
    return environment


def _run_once(arguments: list[str], cwd: Path) -> tuple[float, float]:
    """(wall ms, CPU ms) of one fresh `python -m mpctl ARGUMENTS`."""
    cpu_before = children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mpctl", *arguments],
        cwd=cwd,
        env=child_environment(cwd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    wall = (time.perf_counter() - started) * 1000
    return wall, (children_cpu() - cpu_before) * 1000


def _watched_imports(arguments: list[str], cwd: Path) -> list[str]:
    """The watched top-level packages the command imports (from `-X importtime` on stderr)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mpctl", *arguments],
        cwd=cwd,
        env=child_environment(cwd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    return sorted(name for name in WATCHED if name in imported)


def _measure(command: str, runs: int, cwd: Path) -> tuple[float, float]:
    """Median wall and CPU ms of `runs` runs of `mpctl COMMAND`, each run printed."""
    arguments = command.split()
    _run_once(arguments, cwd)  # warm the file cache and bytecode, not counted
    measured = [_run_once(arguments, cwd) for _ in range(runs)]
    walls = [wall for wall, _ in measured]
    median = statistics.median(walls)
    cpu = statistics.median(cpu for _, cpu in measured)
    verdict = "ok" if median < BUDGET_MS else "OVER"
    heavy = ", ".join(_watched_imports(arguments, cwd)) or "none"
    print(f"mpctl {command}")
    print(f"  wall ms:  {' '.join(f'{t:.0f}' for t in walls)}")
    print(f"  CPU ms:   {' '.join(f'{c:.0f}' for _, c in measured)}")
    print(
        f"  median wall {median:.0f} ms (min {min(walls):.0f}, max {max(walls):.0f}),"
        f" median CPU {cpu:.0f} ms  [{verdict} vs {BUDGET_MS:.0f} ms]"
    )
    print(f"  loads: {heavy}")
    return median, cpu


def timed_runs(command: str, runs: int) -> list[tuple[float, float]]:
    """(wall ms, CPU ms) of `runs` fresh `mpctl COMMAND` processes in a copy of the example
    project, after one uncounted warm-up run (the entry point `benchmarks/scale.py` calls)."""
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        shutil.copytree(ROOT / "manifests", cwd / "manifests")
        _run_once(command.split(), cwd)
        return [_run_once(command.split(), cwd) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="Runs per command (default 10).")
    parser.add_argument(
        "--only", metavar="COMMANDS", help='Comma-separated commands (--only="--help,validate").'
    )
    options = parser.parse_args()
    commands = options.only.split(",") if options.only else COMMANDS
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        shutil.copytree(ROOT / "manifests", cwd / "manifests")
        medians = {command: _measure(command, options.runs, cwd) for command in commands}
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print()
    print(f"load average before the summary: {load} (other work on the machine inflates wall)")
    print(f"{'command':<28} {'wall ms':>8} {'CPU ms':>8}")
    for command, (median, cpu) in medians.items():
        print(f"{'mpctl ' + command:<28} {median:8.0f} {cpu:8.0f}")


if __name__ == "__main__":
    main()
