"""Apply N new clients against the emulator on loopback with injected latency per request.

The concurrent apply engine's figures (issue 13). For each size N a throw-away project is
generated as `benchmarks/plan_scale.py` does (one non-embedded environment `bench` over TLS on
127.0.0.1, N Client manifests whose new keys have `--key-size` bits, 3072 by default, file
sinks), but the emulator's world holds none of the clients: apply creates every client and
stages, registers, tests and promotes its first key. The emulator runs in plan_scale's child
process (so client and server do not share one GIL) with `--latency-ms` added to every
`/api/v1/...` request; `/token` (the admin token and each new key's token test) is not
delayed. Each parallelism gets a fresh project and emulator.

What is timed is what `mpctl apply` does after confirmation: `apply_plan` (the stale-plan
check's observation, then every step) with the real `TokenKeyTester`; observing and planning
before it are not timed. Printed per run: wall time, requests made (`HttpRemote.requests_made`
plus the token tests), the latency bound (API requests the emulator served × latency /
parallelism), wall / bound, CPU seconds in this process and in the emulator's, and this
process's peak RSS. Prints, never asserts beyond "every step done".

`--rotate` times a forced rotation instead: the N clients are first created at the default
parallelism (not reported), then every client's key rotates (`plan --rotate` for each: a new
key staged, registered, tested and promoted) at each `--parallelism`.
`apply_once` and `rotate_once` are the entry points `benchmarks/scale.py` calls.

    .venv/bin/python benchmarks/apply_scale.py [--sizes 100,1000] [--parallelism 1,16]
        [--latency-ms 50] [--rotate] [--key-size 3072] [--lock local|s3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from plan_scale import (
    ENV,
    HOST,
    LockBackend,
    Server,
    ServerCounts,
    build_project,
    client_name,
    emulator_process,
    listening_socket,
    manifest_files,
    numbers,
    server_counts,
)

from mpctl.apply import ApplyContext, ApplyObserver, ApplyReport, ApplySettings, apply_plan
from mpctl.cli import clock
from mpctl.cli.commands.plan import plan_from
from mpctl.cli.environment import Workspace, open_workspace
from mpctl.cli.keytest import TokenKeyTester
from mpctl.cli.locking import client_listing_max_age
from mpctl.plan import PlanOptions
from mpctl.remote import DEFAULT_CONCURRENCY, CallObserver, open_http, watch_calls
from mpctl.remote.connect import open_remote
from mpctl.secrets import SecretSink
from mpctl.secrets.keys import DEFAULT_KEY_SIZE, MIN_KEY_SIZE
from mpctl.state import observe

LOCK_HELP = (
    "the environment's lock backend (never taken here): with s3 every run shares it, so creates "
    "trust the stale-plan check's listing; with local each create looks in a listing begun after "
    "it asked"
)


@dataclass(frozen=True)
class Row:
    size: int
    parallelism: int
    wall: float
    requests: int
    cpu: float
    server: ServerCounts
    latency_ms: int
    steps: int
    peak_rss_mb: float = 0.0

    @property
    def bound(self) -> float:
        return self.server.api_requests * self.latency_ms / 1000 / self.parallelism

    @property
    def ratio(self) -> float:
        return self.wall / self.bound if self.bound else float("nan")


@dataclass(frozen=True)
class Applied:
    report: ApplyReport
    wall: float
    cpu: float
    requests: int


@dataclass(frozen=True)
class Probe:
    """What a diagnosing benchmark hangs on one apply (benchmarks/apply_steps.py): an observer
    of its steps, of every response, and a wrapper of the sinks the steps use."""

    observer: ApplyObserver
    on_call: CallObserver
    wrap_sinks: Callable[[Mapping[str, SecretSink]], Mapping[str, SecretSink]]


async def plan_and_apply(
    workspace: Workspace,
    parallelism: int,
    options: PlanOptions | None = None,
    probe: Probe | None = None,
) -> Applied:
    """Observe and plan (not timed), then `apply_plan` as `mpctl apply` runs it (timed)."""
    sinks = workspace.open_sinks()
    environment = workspace.environment
    token_calls = 0

    def count_token_call(event: object) -> None:
        nonlocal token_calls
        del event
        token_calls += 1

    async with (
        open_remote(
            environment,
            base_dir=workspace.directory,
            environ=os.environ,
            access="write",
            concurrency=max(parallelism, DEFAULT_CONCURRENCY),
        ) as remote,
        open_http() as http,
    ):
        watch_calls(http, count_token_call)
        snapshot = await observe(remote, orgno=workspace.desired.organisation.orgno, sinks=sinks)
        plan = plan_from(workspace, snapshot, options or PlanOptions())
        if probe is not None:
            remote.watch(probe.on_call)
            watch_calls(http, probe.on_call)
        ctx = ApplyContext(
            api=remote,
            env_name=workspace.env_name,
            sinks=sinks if probe is None else probe.wrap_sinks(sinks),
            tester=TokenKeyTester(
                http, issuer=environment.issuer, token_endpoint=str(environment.token_endpoint)
            ),
            now=clock.now,
            sleep=asyncio.sleep,
            parallelism=parallelism,
            settings=ApplySettings(client_listing_max_age=client_listing_max_age(workspace)),
        )
        before = remote.requests_made
        cpu, started = time.process_time(), time.perf_counter()
        report = await apply_plan(plan, ctx, observer=None if probe is None else probe.observer)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        requests = remote.requests_made - before + token_calls
    return Applied(report, wall, cpu, requests)


def measure(
    server: Server,
    workspace: Workspace,
    size: int,
    parallelism: int,
    options: PlanOptions | None = None,
) -> Row:
    """Apply the plan `options` give (new clients by default) and check every step is done."""
    before = server_counts(server.base, server.ca)
    applied = asyncio.run(plan_and_apply(workspace, parallelism, options))
    report = applied.report
    expected = 2 * size if options is None else size  # at least one step per client rotates
    if not report.ok or len(report.outcomes) < expected:
        failed = "; ".join(f"{o.address}: {o.message}" for o in report.failed[:3])
        raise SystemExit(f"N={size}: apply did not complete: {failed or 'steps missing'}")
    return Row(
        size=size,
        parallelism=parallelism,
        wall=applied.wall,
        requests=applied.requests,
        cpu=applied.cpu,
        server=server_counts(server.base, server.ca) - before,
        latency_ms=server.latency_ms,
        steps=len(report.outcomes),
        peak_rss_mb=peak_rss_mb(),
    )


def peak_rss_mb() -> float:
    """This process's peak RSS so far (mpctl's side; the emulator is a child process)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def show(row: Row) -> None:
    print(
        f"{row.size:>5} {row.parallelism:>4} {row.steps:>6} {row.wall:>8.2f} {row.requests:>8} "
        f"{row.bound:>8.2f} {row.ratio:>6.2f} {row.cpu:>11.2f} {row.server.cpu_seconds:>14.2f} "
        f"{os.getloadavg()[0]:>5.2f} {row.peak_rss_mb:>7.0f}",
        flush=True,
    )


def run(
    sizes: Sequence[int],
    parallelisms: Sequence[int],
    latency_ms: int,
    *,
    rotate: bool = False,
    key_size: int = DEFAULT_KEY_SIZE,
    lock: LockBackend = "local",
) -> None:
    print(
        f"emulator on {HOST} (uvicorn on uvloop + httptools, child process), "
        f"+{latency_ms} ms per /api/v1 request, "
        f"/token not delayed; N new clients, {key_size}-bit keys, a {lock} lock; wall = "
        f"apply_plan (stale-plan check + every step); requests = API + token calls; bound = "
        f"API requests × {latency_ms} ms / parallelism; {os.cpu_count()} CPUs, load = 1-min "
        f"load average",
        flush=True,
    )
    print(
        f"{'N':>5} {'par':>4} {'steps':>6} {'wall s':>8} {'requests':>8} {'bound s':>8} "
        f"{'ratio':>6} {'cpu mpctl s':>11} {'cpu emulator s':>14} {'load':>5} {'rss MB':>7}",
        flush=True,
    )
    for size in sizes:
        for parallelism in parallelisms:
            once = rotate_once if rotate else apply_once
            show(once(size, parallelism, latency_ms, key_size, lock))


def lifetime(size: int, latency_ms: int, parallelism: int) -> float:
    """Seconds the emulator may live for one run: generous, but finite."""
    return 600 + 40 * size * latency_ms / 1000 / parallelism


@contextmanager
def served_new_clients(
    size: int, latency_ms: int, life: float, key_size: int, lock: LockBackend
) -> Iterator[tuple[Server, Workspace]]:
    """A fresh project declaring `size` clients that Digdir does not have yet, and its emulator."""
    with tempfile.TemporaryDirectory(prefix=f"mpctl-apply-{size}-") as folder:
        listener = listening_socket()
        port = int(listener.getsockname()[1])
        project = build_project(
            Path(folder), port, 0, latency_ms, "asgi", key_size=key_size, lock=lock
        )
        write_manifests(project.directory, size)
        os.environ["SSL_CERT_FILE"] = str(project.tls_ca)
        workspace = open_workspace(project.directory, ENV)
        with emulator_process(listener, project, latency_ms, "asgi", life) as server:
            yield server, workspace


def apply_once(
    size: int,
    parallelism: int,
    latency_ms: int,
    key_size: int = DEFAULT_KEY_SIZE,
    lock: LockBackend = "local",
) -> Row:
    """Apply `size` new clients (each with its first key of `key_size` bits) at `parallelism`."""
    life = lifetime(size, latency_ms, parallelism)
    with served_new_clients(size, latency_ms, life, key_size, lock) as served:
        return measure(*served, size, parallelism)


def rotate_once(
    size: int,
    parallelism: int,
    latency_ms: int,
    key_size: int = DEFAULT_KEY_SIZE,
    lock: LockBackend = "local",
) -> Row:
    """Create `size` clients at the default parallelism (not reported), then time a forced
    rotation of every client's key (`plan --rotate` for each) at `parallelism`."""
    life = lifetime(size, latency_ms, DEFAULT_CONCURRENCY) + lifetime(size, latency_ms, parallelism)
    with served_new_clients(size, latency_ms, life, key_size, lock) as (server, workspace):
        measure(server, workspace, size, DEFAULT_CONCURRENCY)
        rotate = PlanOptions(rotate=tuple(sorted(workspace.desired.clients)))
        return measure(server, workspace, size, parallelism, rotate)


def write_manifests(directory: Path, size: int) -> None:
    """N client manifests in place of the empty project's (the world has no client yet)."""
    resources = directory / "resources"
    for old in resources.glob("*.yaml"):
        old.unlink()
    names = [client_name(index) for index in range(size)]
    for file_name, text in manifest_files(names).items():
        (resources / file_name).write_text(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=numbers, default=[100, 1000], help="e.g. 100,1000")
    parser.add_argument("--parallelism", type=numbers, default=[1, 16], help="e.g. 1,16")
    parser.add_argument("--latency-ms", type=int, default=50, help="added per API request")
    parser.add_argument("--rotate", action="store_true", help="time a forced rotation instead")
    parser.add_argument(
        "--key-size",
        type=int,
        default=DEFAULT_KEY_SIZE,
        help=f"bits of each new RSA key (keys.size; default {DEFAULT_KEY_SIZE}, Digdir's "
        "documented minimum is 2048)",
    )
    parser.add_argument("--lock", choices=["local", "s3"], default="local", help=LOCK_HELP)
    arguments = parser.parse_args(argv)
    if not 0 <= arguments.latency_ms <= 10_000:
        parser.error("--latency-ms must be between 0 and 10000")
    if arguments.key_size < MIN_KEY_SIZE:
        parser.error(f"--key-size must be at least {MIN_KEY_SIZE}")
    run(
        arguments.sizes,
        arguments.parallelism,
        arguments.latency_ms,
        rotate=arguments.rotate,
        key_size=arguments.key_size,
        lock=arguments.lock,
    )


if __name__ == "__main__":
    main()
