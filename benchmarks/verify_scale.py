"""Verify N managed clients against the emulator on loopback with latency on every request.

Issue 13's verify figures. For each size N the project of `benchmarks/plan_scale.py` is built
in a temporary directory (one non-embedded environment `bench` over TLS on 127.0.0.1, N clients
that exist at the emulator with one registered key each, each client's file sink holding that
key as current with its client_id; one 3072-bit RSA key under per-client kids, so every sink
holds its own PEM to parse). The emulator runs in a child process (no shared GIL) behind an ASGI
layer of this script that adds `--latency-ms` to *every* request, `/token` and `/jwk`
included (they are the requests verify makes), and counts requests by path.

What is timed is what `mpctl verify` does after loading the manifests: `collect_checks` (read
each sink, load its current key) and `run_checks` (mint each client's token, fetch the issuer's
keys, check the claims), with `--parallelism` tokens in flight at once (as `mpctl verify
--parallelism`; 1 is the only choice before that option existed). `--runs 2` repeats both in
the same process, which shows what a process pays again (keys parsed, JWKS fetched). Printed
per run: wall time of each part, requests the emulator served by path, CPU seconds in this
process and in the emulator's, and the 1-minute load average. Prints, never asserts beyond
"every check passed".

    .venv/bin/python benchmarks/verify_scale.py [--sizes 100] [--latency-ms 50] [--runs 2]
        [--parallelism 1,16]

`verify_once` is the entry point `benchmarks/scale.py` calls.

Run it against another checkout's mpctl (e.g. before a change) with
`PYTHONPATH=/path/to/checkout .venv/bin/python benchmarks/verify_scale.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import uvicorn
from plan_scale import (
    ENV,
    SERVER_STOP_SECONDS,
    Project,
    add_serve_arguments,
    build_project,
    exit_with_parent,
    listening_socket,
    numbers,
    serve_command,
    served_config,
    served_settings,
    trust,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from mpctl.cli.commands.verify import collect_checks, run_checks
from mpctl.cli.environment import Workspace, open_workspace
from mpctl.emulator import create_app

COUNTS_PATH: Final = "/_bench/counts"
SERVER_START_SECONDS: Final = 300.0


# --- the server side (a child process) ---------------------------------------------------------


class LatencyEverywhere:
    """ASGI layer: delays every request (but its own counter) and counts requests by path."""

    def __init__(self, app: ASGIApp, latency_seconds: float) -> None:
        self.app = app
        self.latency = latency_seconds
        self.by_path: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == COUNTS_PATH:
            await self._report(send)
            return
        if path:
            self.by_path[f"{scope['method']} {path}"] += 1
            if self.latency:
                await asyncio.sleep(self.latency)
        await self.app(scope, receive, send)

    async def _report(self, send: Send) -> None:
        body = json.dumps({"by_path": self.by_path, "cpu_seconds": time.process_time()}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def serve_child(arguments: argparse.Namespace) -> None:
    """Serve the emulator over TLS on the inherited listening socket until SIGTERM."""
    threading.Thread(target=exit_with_parent, args=(arguments.serve_life,), daemon=True).start()
    settings = served_settings(arguments.serve_issuer, arguments.serve_world, arguments.serve_state)
    app = LatencyEverywhere(create_app(settings), arguments.latency_ms / 1000)
    certificate, key = arguments.serve_tls
    config = served_config(app, certificate, key)
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=arguments.serve_fd)])


# --- the parent side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    by_path: Counter[str]
    cpu_seconds: float

    def __sub__(self, other: Counts) -> Counts:
        by_path = Counter(self.by_path)
        by_path.subtract(other.by_path)
        return Counts(+by_path, self.cpu_seconds - other.cpu_seconds)


@dataclass(frozen=True)
class Server:
    base: str
    ca: Path

    def counts(self) -> Counts:
        response = httpx.get(self.base + COUNTS_PATH, timeout=30, verify=trust(self.ca))
        document = response.raise_for_status().json()
        return Counts(Counter(document["by_path"]), float(document["cpu_seconds"]))


@contextmanager
def emulator_process(
    listener: socket.socket, project: Project, latency_ms: int, life: float
) -> Iterator[Server]:
    """Serve the project's emulator in a child process; always stops it."""
    command = serve_command(Path(__file__), listener, project, latency_ms, life)
    process = subprocess.Popen(command, pass_fds=[listener.fileno()])
    listener.close()
    server = Server(project.issuer.rstrip("/"), project.tls_ca)
    try:
        wait_until_serving(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=SERVER_STOP_SECONDS)


def wait_until_serving(server: Server, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the emulator exited with status {process.returncode}")
        try:
            server.counts()
            # The first read loads the state file; do it before any clock starts.
            httpx.get(server.base + "/jwk", timeout=120, verify=trust(server.ca))
        except httpx.TransportError:
            time.sleep(0.2)
        else:
            return
    raise SystemExit("the emulator did not start in time")


@dataclass(frozen=True)
class Row:
    size: int
    parallelism: int
    run: int
    checks: int
    collect: float
    verify: float
    cpu: float
    server: Counts

    @property
    def wall(self) -> float:
        return self.collect + self.verify


async def collect_and_run(
    workspace: Workspace, parallelism: int
) -> tuple[float, float, float, int]:
    """`collect_checks` then `run_checks`, as `mpctl verify` runs them: (collect s, verify s,
    CPU s, checks); stops when a check failed."""
    cpu, started = time.process_time(), time.perf_counter()
    checks, missing = await collect_checks(workspace)
    collected = time.perf_counter()
    if parallelism == 1:  # the only call a checkout from before --parallelism understands
        results = await run_checks(workspace, checks)
    else:
        results = await run_checks(workspace, checks, parallelism=parallelism)
    verified = time.perf_counter()
    failed = [r for r in results if not r.ok]
    if missing or failed or not checks:
        detail = "; ".join(f"{r.check.label}: {r.code}" for r in failed[:3])
        raise SystemExit(f"verify did not pass: {len(missing)} missing key(s); {detail}")
    return collected - started, verified - collected, time.process_time() - cpu, len(checks)


def measure(server: Server, workspace: Workspace, size: int, parallelism: int, run: int) -> Row:
    before = server.counts()
    collect, verify, cpu, checks = asyncio.run(collect_and_run(workspace, parallelism))
    return Row(size, parallelism, run, checks, collect, verify, cpu, server.counts() - before)


def show(row: Row) -> None:
    paths = row.server.by_path
    print(
        f"{row.size:>5} {row.parallelism:>4} {row.run:>4} {row.checks:>6} {row.collect:>9.2f} "
        f"{row.verify:>8.2f} {row.wall:>7.2f} {paths['POST /token']:>6} {paths['GET /jwk']:>5} "
        f"{sum(paths.values()):>8} {row.cpu:>11.2f} {row.server.cpu_seconds:>14.2f} "
        f"{os.getloadavg()[0]:>5.2f}",
        flush=True,
    )


def run(sizes: Sequence[int], parallelisms: Sequence[int], latency_ms: int, runs: int) -> None:
    print(
        f"emulator on 127.0.0.1 (uvicorn on uvloop + httptools, child process), "
        f"+{latency_ms} ms per request (/token "
        f"and /jwk included); N clients, 3072-bit keys in file sinks; collect = collect_checks "
        f"(sinks read, keys loaded), verify = run_checks (tokens minted, claims checked); "
        f"{os.cpu_count()} CPUs, load = 1-min load average",
        flush=True,
    )
    print(
        f"{'N':>5} {'par':>4} {'run':>4} {'checks':>6} {'collect s':>9} {'verify s':>8} "
        f"{'wall s':>7} {'/token':>6} {'/jwk':>5} {'requests':>8} {'cpu mpctl s':>11} "
        f"{'cpu emulator s':>14} {'load':>5}",
        flush=True,
    )
    for size in sizes:
        life = 600 + len(parallelisms) * runs * size * 4 * latency_ms / 1000
        with served_clients(size, latency_ms, life) as (server, workspace):
            for parallelism in parallelisms:
                for index in range(1, runs + 1):
                    show(measure(server, workspace, size, parallelism, index))


@contextmanager
def served_clients(size: int, latency_ms: int, life: float) -> Iterator[tuple[Server, Workspace]]:
    """plan_scale's project of `size` existing clients, served by this script's emulator."""
    with tempfile.TemporaryDirectory(prefix=f"mpctl-verify-{size}-") as folder:
        listener = listening_socket()
        port = int(listener.getsockname()[1])
        project = build_project(Path(folder), port, size, 0, "asgi")
        os.environ["SSL_CERT_FILE"] = str(project.tls_ca)
        workspace = open_workspace(project.directory, ENV)
        with emulator_process(listener, project, latency_ms, life) as server:
            yield server, workspace


def verify_once(size: int, parallelism: int, latency_ms: int) -> Row:
    """One verify of `size` clients at `parallelism` on a fresh project and emulator."""
    life = 600 + size * 4 * latency_ms / 1000
    with served_clients(size, latency_ms, life) as (server, workspace):
        return measure(server, workspace, size, parallelism, 1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=numbers, default=[100], help="e.g. 100,1000")
    parser.add_argument("--latency-ms", type=int, default=50, help="added per request")
    parser.add_argument("--runs", type=int, default=2, help="runs per size in one process")
    parser.add_argument("--parallelism", type=numbers, default=[1], help="e.g. 1,16")
    add_serve_arguments(parser)
    arguments = parser.parse_args(argv)
    if not 0 <= arguments.latency_ms <= 10_000:
        parser.error("--latency-ms must be between 0 and 10000")
    if not 1 <= arguments.runs <= 10:
        parser.error("--runs must be between 1 and 10")
    if arguments.serve_fd is not None:
        serve_child(arguments)
        return
    run(arguments.sizes, arguments.parallelism, arguments.latency_ms, arguments.runs)


if __name__ == "__main__":
    main()
