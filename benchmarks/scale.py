"""Issue 13's figures side by side: plan, apply, rotation and verify at scale, in one table.

One driver over the other benchmark scripts; it owns no measuring code of its own beyond
running `mpctl plan` as a whole process. Each row runs in a child process of this script
(`--row OPERATION:N:PARALLELISM`), so its CPU seconds and peak RSS are that row's alone; the
child calls the scripts' entry points and prints the row as JSON:

* `plan`: `plan_scale.plan_once`, a drift check of N managed clients (observe + make_plan
  in-process, the emulator on loopback over TLS with `--latency-ms` per API request).
* `process`: the whole `python -m mpctl plan` process against the same project (start-up,
  manifests, fetch, plan, rendering), at mpctl's default concurrency, from the project's
  directory and from compiled bytecode (an uncounted first run writes it); requests are the
  API requests the emulator served (the token exchange is not counted).
* `apply`: `apply_scale.apply_once`, N new clients, each with its first key of each
  `--key-bits` (3072 by default, as `keys.size` defaults).
* `rotate`: `apply_scale.rotate_once`, a forced rotation of N clients' keys (created first at
  the default parallelism, not timed), a new key of each `--key-bits`.
* `verify`: `verify_scale.verify_once`, every client's token minted and checked (latency on
  `/token` and `/jwk` too).
* `make_plan`: `plan_size.run_case("new:N")`, the pure planner alone (GC tuned as the CLI).
* `startup`: `startup.timed_runs("--help")`, median of 10 fresh processes.

Columns: the new keys' bits, wall seconds, requests, the latency bound (requests × latency /
parallelism), wall / bound, CPU seconds of mpctl's side (this row's process, or the `mpctl`
child's for `process` and `startup`), the CPU floor (for apply and rotate: mpctl's and the
emulator's CPU seconds over the machine's cores, the least wall time their work allows, which
RSA key generation can push past the latency bound), peak RSS of that side
(`resource.getrusage` RUSAGE_SELF, or RUSAGE_CHILDREN for the children), and the 1-minute load
average. It prints figures and checks each target of issue 13 it has a row for; it never fails
on a missed target.

    .venv/bin/python benchmarks/scale.py [--sizes 100,1000] [--parallelism 1,16]
        [--latency-ms 50] [--only plan,process,apply,rotate,verify,make_plan,startup]
        [--make-plan-sizes 10000] [--key-bits 3072,2048] [--lock local|s3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import apply_scale
import plan_scale
import plan_size
import startup
import verify_scale

from mpctl.remote import DEFAULT_CONCURRENCY
from mpctl.secrets.keys import DEFAULT_KEY_SIZE, MIN_KEY_SIZE

OPERATIONS: Final = ("plan", "process", "apply", "rotate", "verify", "make_plan", "startup")
SWEPT: Final = ("plan", "apply", "rotate", "verify")  # rows for every size × parallelism
CORES: Final = os.cpu_count() or 1
ROW_TIMEOUT_SECONDS: Final = 7200.0
Lock = plan_scale.LockBackend


@dataclass(frozen=True)
class Figure:
    operation: str
    size: int
    parallelism: int
    wall: float
    requests: int
    bound: float
    cpu: float
    rss_mb: float
    note: str = ""
    key_bits: int = 0
    """Bits of each new key (apply and rotate rows); 0 for the other rows."""
    server_cpu: float = 0.0
    """CPU seconds of the emulator's process in the row (apply and rotate rows)."""

    @property
    def ratio(self) -> float:
        return self.wall / self.bound if self.bound else float("nan")

    @property
    def cpu_floor(self) -> float:
        """The shortest wall time the CPU work allows: mpctl's and the emulator's CPU seconds
        spread over every core (they share this machine)."""
        return (self.cpu + self.server_cpu) / CORES


def bound_of(requests: int, latency_ms: int, parallelism: int) -> float:
    return requests * latency_ms / 1000 / parallelism


def self_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- one row, in a child process ---------------------------------------------------------------


def plan_row(size: int, parallelism: int, latency_ms: int) -> Figure:
    row = plan_scale.plan_once(size, parallelism, latency_ms)
    return Figure(
        "plan", size, parallelism, row.wall, row.requests, row.lower_bound, row.client_cpu,
        self_rss_mb(),
    )  # fmt: skip


def process_row(size: int, parallelism: int, latency_ms: int) -> Figure:
    """`python -m mpctl plan` as a user runs it, timed from its start to its exit: from the
    project's directory, running from compiled bytecode as an installed mpctl does (an uncounted
    first run writes the cache, as `startup` does; PYTHONDONTWRITEBYTECODE would otherwise have
    every run compile mpctl's sources again)."""
    del parallelism  # `mpctl plan` has no option for it: always DEFAULT_CONCURRENCY
    life = 600 + plan_scale.deadline_for(size, 1, latency_ms)
    with plan_scale.served_project(size, latency_ms, "asgi", life) as served:
        server, directory = served.server, served.project.directory
        command = [sys.executable, "-m", "mpctl", "plan", "--manifests"]
        command += [str(directory), "-e", plan_scale.ENV]

        def run_plan() -> None:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=False,
                timeout=life,
                cwd=directory,
                env=startup.child_environment(directory),
            )
            if done.returncode != 0 or "No changes" not in done.stdout:
                raise SystemExit(f"mpctl plan exited {done.returncode}: {done.stderr[-2000:]}")

        run_plan()  # uncounted: writes the bytecode cache
        before = plan_scale.server_counts(server.base, server.ca)
        cpu_before = startup.children_cpu()
        started = time.perf_counter()
        run_plan()
        wall = time.perf_counter() - started
        cpu = startup.children_cpu() - cpu_before
        counts = plan_scale.server_counts(server.base, server.ca) - before
    return Figure(
        "process", size, DEFAULT_CONCURRENCY, wall, counts.api_requests,
        bound_of(counts.api_requests, latency_ms, DEFAULT_CONCURRENCY),
        cpu, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "API requests only",
    )  # fmt: skip


def apply_row(size: int, parallelism: int, latency_ms: int, key_bits: int, lock: Lock) -> Figure:
    row = apply_scale.apply_once(size, parallelism, latency_ms, key_bits, lock)
    return Figure(
        "apply", size, parallelism, row.wall, row.requests, row.bound, row.cpu, row.peak_rss_mb,
        f"{row.steps} steps; emulator CPU {row.server.cpu_seconds:.1f} s", key_bits,
        row.server.cpu_seconds,
    )  # fmt: skip


def rotate_row(size: int, parallelism: int, latency_ms: int, key_bits: int, lock: Lock) -> Figure:
    row = apply_scale.rotate_once(size, parallelism, latency_ms, key_bits, lock)
    return Figure(
        "rotate", size, parallelism, row.wall, row.requests, row.bound, row.cpu, row.peak_rss_mb,
        f"{row.steps} steps; emulator CPU {row.server.cpu_seconds:.1f} s; RSS incl. the setup",
        key_bits, row.server.cpu_seconds,
    )  # fmt: skip


def verify_row(size: int, parallelism: int, latency_ms: int) -> Figure:
    row = verify_scale.verify_once(size, parallelism, latency_ms)
    requests = sum(row.server.by_path.values())
    return Figure(
        "verify", size, parallelism, row.wall, requests,
        bound_of(requests, latency_ms, parallelism), row.cpu, self_rss_mb(),
        f"collect {row.collect:.2f} s + verify {row.verify:.2f} s",
    )  # fmt: skip


def make_plan_row(size: int, parallelism: int, latency_ms: int) -> Figure:
    del parallelism, latency_ms  # no network
    plan_size.tune_gc()
    figures = plan_size.run_case(f"new:{size}", runs=3)
    return Figure(
        "make_plan", size, 0, figures["wall"], 0, 0.0, figures["cpu"], figures["rss_mb"],
        f"{figures['steps']} steps, plan file {figures['bytes'] / 1e6:.1f} MB (median of 3)",
    )  # fmt: skip


def startup_row(size: int, parallelism: int, latency_ms: int) -> Figure:
    del size, parallelism, latency_ms
    runs = startup.timed_runs("--help", 10)
    wall = statistics.median(wall for wall, _ in runs) / 1000
    cpu = statistics.median(cpu for _, cpu in runs) / 1000
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return Figure("startup", 0, 0, wall, 0, 0.0, cpu, rss, "mpctl --help, median of 10")


ROWS: Final[dict[str, Callable[[int, int, int], Figure]]] = {
    "plan": plan_row,
    "process": process_row,
    "verify": verify_row,
    "make_plan": make_plan_row,
    "startup": startup_row,
}
KEYED_ROWS: Final[dict[str, Callable[[int, int, int, int, Lock], Figure]]] = {
    "apply": apply_row,
    "rotate": rotate_row,
}
"""Rows that make new keys: one per `--key-bits` too, with the `--lock` they run under."""


# --- the table, in the parent ------------------------------------------------------------------


Spec = tuple[str, int, int, int]
"""(operation, N, parallelism, key bits or 0) of one row."""


def row_specs(
    only: Sequence[str],
    sizes: Sequence[int],
    parallelisms: Sequence[int],
    make_plan_sizes: Sequence[int],
    key_bits: Sequence[int],
) -> list[Spec]:
    """The rows in the order the table shows them."""
    specs: list[Spec] = []
    for operation in OPERATIONS:
        if operation not in only:
            continue
        if operation in KEYED_ROWS:
            specs += [(operation, n, p, b) for n in sizes for b in key_bits for p in parallelisms]
        elif operation in SWEPT:
            specs += [(operation, n, p, 0) for n in sizes for p in parallelisms]
        elif operation == "process":
            specs += [(operation, n, DEFAULT_CONCURRENCY, 0) for n in sizes]
        elif operation == "make_plan":
            specs += [(operation, n, 0, 0) for n in make_plan_sizes]
        else:
            specs.append((operation, 0, 0, 0))
    return specs


def run_row(spec: Spec, latency_ms: int, lock: Lock) -> Figure:
    operation, size, parallelism, bits = spec
    command = [sys.executable, str(Path(__file__).resolve()), "--latency-ms", str(latency_ms)]
    command += ["--lock", lock]
    command += ["--row", f"{operation}:{size}:{parallelism}:{bits}"]
    done = subprocess.run(
        command, stdout=subprocess.PIPE, text=True, check=False, timeout=ROW_TIMEOUT_SECONDS
    )
    if done.returncode != 0:
        raise SystemExit(f"{operation} N={size} par={parallelism} failed ({done.returncode})")
    return Figure(**json.loads(done.stdout.strip().splitlines()[-1]))


HEADER: Final = (
    f"{'operation':<10} {'N':>6} {'par':>4} {'bits':>5} {'wall s':>8} {'requests':>8} "
    f"{'bound s':>8} {'ratio':>6} {'CPU s':>7} {'CPU floor s':>11} {'peak RSS MB':>11} "
    f"{'load':>5}  note"
)


def show(figure: Figure) -> None:
    def blank_if_zero(value: float, text: str) -> str:
        return text if value else ""

    print(
        f"{figure.operation:<10} {blank_if_zero(figure.size, str(figure.size)):>6} "
        f"{blank_if_zero(figure.parallelism, str(figure.parallelism)):>4} "
        f"{blank_if_zero(figure.key_bits, str(figure.key_bits)):>5} {figure.wall:>8.2f} "
        f"{blank_if_zero(figure.requests, str(figure.requests)):>8} "
        f"{blank_if_zero(figure.bound, f'{figure.bound:.2f}'):>8} "
        f"{blank_if_zero(figure.bound, f'{figure.ratio:.2f}'):>6} {figure.cpu:>7.2f} "
        f"{figure.cpu_floor:>11.2f} {figure.rss_mb:>11.0f} {os.getloadavg()[0]:>5.2f}  "
        f"{figure.note}",
        flush=True,
    )


def find(
    figures: Sequence[Figure], operation: str, size: int, par: int, bits: int = 0
) -> Figure | None:
    wanted = (operation, size, par, bits)
    return next(
        (f for f in figures if (f.operation, f.size, f.parallelism, f.key_bits) == wanted), None
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def check_targets(figures: Sequence[Figure]) -> None:
    """Issue 13's targets, for the rows this run has."""
    print("\ntargets (issue 13):")
    default = DEFAULT_CONCURRENCY
    for bits in sorted({f.key_bits for f in figures if f.key_bits}, reverse=True):
        check_key_targets(figures, bits)
    process = find(figures, "process", 1000, default)
    if process:
        print(f"  the mpctl plan process for 1000 within 1.3x: ratio {process.ratio:.2f} "
              f"({verdict(process.ratio <= 1.3)})")  # fmt: skip
    make_plan = find(figures, "make_plan", 10000, 0)
    if make_plan:
        print(f"  make_plan of 10000 under 1 s: {make_plan.wall:.2f} s "
              f"({verdict(make_plan.wall < 1)})")  # fmt: skip
    at_5000 = [f for f in figures if f.size == 5000]
    if at_5000:
        peak = max(f.rss_mb for f in at_5000)
        print(f"  peak RSS at 5000 under 300 MB: {peak:.0f} MB ({verdict(peak < 300)})")
    started = find(figures, "startup", 0, 0)
    if started:
        print(f"  mpctl --help under 300 ms: {started.wall * 1000:.0f} ms "
              f"({verdict(started.wall < 0.3)})")  # fmt: skip


def check_key_targets(figures: Sequence[Figure], bits: int) -> None:
    """Apply and rotation of 1000 with `bits`-bit keys: each ratio to the latency bound, and to
    the CPU floor (when the CPU work alone takes longer than the latency bound, no scheduling
    can meet the bound on this machine)."""
    default = DEFAULT_CONCURRENCY
    fast, slow = find(figures, "apply", 1000, default, bits), find(figures, "apply", 1000, 1, bits)
    rotation = find(figures, "rotate", 1000, default, bits)
    for name, figure in (("apply", fast), ("rotation", rotation)):
        if figure:
            to_floor = figure.wall / max(figure.bound, figure.cpu_floor)
            print(f"  {name} of 1000 ({bits}-bit keys) at {default} within 2x its bound: ratio "
                  f"{figure.ratio:.2f} ({verdict(figure.ratio <= 2)}); CPU floor "
                  f"{figure.cpu_floor:.1f} s vs bound {figure.bound:.1f} s, wall / "
                  f"max(bound, floor) = {to_floor:.2f}")  # fmt: skip
    if fast and slow:
        speedup = slow.wall / fast.wall
        print(f"  apply 1000 ({bits}-bit keys) at {default} >= 10x faster than at 1: "
              f"{speedup:.1f}x ({verdict(speedup >= 10)})")  # fmt: skip


def run(specs: Sequence[Spec], latency_ms: int, lock: Lock) -> None:
    print(
        f"emulator on 127.0.0.1 over TLS (uvicorn on uvloop + httptools, child process), "
        f"+{latency_ms} ms per API "
        f"request (verify: every request); bound = requests x {latency_ms} ms / parallelism; "
        f"CPU and peak RSS are mpctl's side; apply rows under a {lock} lock; {CORES} CPUs, "
        f"load = 1-min load average after the row; started with load "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        flush=True,
    )
    print(HEADER, flush=True)
    figures = []
    for spec in specs:
        figure = run_row(spec, latency_ms, lock)
        show(figure)
        figures.append(figure)
    check_targets(figures)


def operations(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(OPERATIONS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(OPERATIONS)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=plan_scale.numbers, default=[100, 1000])
    parser.add_argument("--parallelism", type=plan_scale.numbers, default=[1, DEFAULT_CONCURRENCY])
    parser.add_argument("--latency-ms", type=int, default=50, help="added per request")
    parser.add_argument("--only", type=operations, default=list(OPERATIONS), help="e.g. plan,apply")
    parser.add_argument("--make-plan-sizes", type=plan_scale.numbers, default=[10_000])
    parser.add_argument(
        "--key-bits",
        type=plan_scale.numbers,
        default=[DEFAULT_KEY_SIZE],
        help=f"bits of the new keys of apply and rotate rows, e.g. 3072,2048 (default "
        f"{DEFAULT_KEY_SIZE}; Digdir documents 2048 as its minimum)",
    )
    parser.add_argument(
        "--lock", choices=["local", "s3"], default="local", help=apply_scale.LOCK_HELP
    )
    parser.add_argument("--row", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if not 0 <= arguments.latency_ms <= 10_000:
        parser.error("--latency-ms must be between 0 and 10000")
    if arguments.row:
        operation, size, parallelism, bits = arguments.row.split(":")
        if operation in KEYED_ROWS:
            keyed = KEYED_ROWS[operation]
            latency_ms = arguments.latency_ms
            figure = keyed(int(size), int(parallelism), latency_ms, int(bits), arguments.lock)
        else:
            figure = ROWS[operation](int(size), int(parallelism), arguments.latency_ms)
        print(json.dumps(asdict(figure)), flush=True)
        return
    if min(arguments.key_bits) < MIN_KEY_SIZE:
        parser.error(f"--key-bits must be at least {MIN_KEY_SIZE}")
    specs = row_specs(
        arguments.only,
        arguments.sizes,
        arguments.parallelism,
        arguments.make_plan_sizes,
        arguments.key_bits,
    )
    run(specs, arguments.latency_ms, arguments.lock)


if __name__ == "__main__":
    main()
