"""Plan N managed clients against the emulator on loopback with injected latency per request.

A steady-state drift check at scale. For each size N a throw-away project is generated in a
temporary directory: `mpctl.yaml` with one non-embedded environment `bench` pointing at
https://127.0.0.1:PORT (mpctl refuses plain http outside an `emulator:` environment, MPL108, so
the emulator is served over TLS with the loopback CA that `mpctl emulator serve --tls` makes,
which this process trusts through SSL_CERT_FILE, as httpx honours it); the admin certificate and
key issued by the emulator; one own scope plus N Client manifests in one multi-document file; a
world file where the N clients already exist with the ownership marker and one registered key
each; and each client's file sink holding that key as *current* with the client_id (written
through the sink API). One RSA key is shared by all clients under per-client kids: the plan
compares kids and thumbprints only, and generating N keys would take longer than the benchmark.

The emulator runs in a child process (uvicorn, on uvloop and httptools, on an inherited socket
bound to 127.0.0.1, so client and server do not share one GIL) with `--latency-ms` added to
every self-service API request (`/api/v1/...`); `/token` is not delayed, and the admin token
is fetched once per run. mpctl's own plan path then runs once per concurrency: `open_remote` →
`observe` (fetch + sink labels) → `make_plan`, as `mpctl plan` does before rendering. The plan
must be "no changes" (no steps, no drift, no warnings or errors); the script stops with an
error otherwise.

Printed per run: wall time of observe + make_plan (the token exchange included), requests
made (`HttpRemote.requests_made`: API requests plus the token exchange), the latency lower
bound (API requests served, as the emulator counted them, / concurrency × latency), wall /
bound, and where the time went: fetch vs plan, CPU seconds in mpctl's process and in the
emulator's.

    .venv/bin/python benchmarks/plan_scale.py [--sizes 100,1000,5000] [--concurrency 1,16]
        [--latency-ms 50] [--inject asgi|emulator]

`--inject asgi` (default) delays requests in a thin ASGI layer around the emulator app.
`--inject emulator` uses the emulator's own latency fault rule (world file `faults:`) instead;
that rule costs a state write per faulted request, so the figures then measure the emulator
(see benchmarks/README.md). Everything is bounded: each run has a deadline, and the server
process stops on SIGTERM, when this script exits, or at a lifetime limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, cast

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import ASGIApp, Receive, Scope, Send

from mpctl.cli.commands.plan import plan_from
from mpctl.cli.environment import Workspace, open_workspace
from mpctl.emulator import (
    EmulatorSettings,
    create_app,
    ensure_tls_files,
    issue_business_certificate,
)
from mpctl.emulator.app import EmulatorApp
from mpctl.emulator.representations import encoded_client_view
from mpctl.plan import Plan, PlanOptions
from mpctl.plan.types import Severity
from mpctl.remote.connect import open_remote
from mpctl.secrets import ThreadedSink
from mpctl.secrets.keys import DEFAULT_KEY_SIZE, PrivateKey, public_jwk
from mpctl.state import observe

HOST: Final = "127.0.0.1"
ORGNO: Final = "313367002"
ORG_NAME: Final = "ACME AS"
CONSUMER_ORGNO: Final = "910753614"
BRREG_ORGNO: Final = "974760673"
ENV: Final = "bench"
OWN_SCOPE: Final = "acme:bench.read"
OPEN_SCOPE: Final = "brreg:enhetsregisteret.read"
API_PREFIX: Final = "/api/v1/"
COUNTER_PATH: Final = "/_bench/requests"
ADMIN_SCOPES: Final = (
    "idporten:dcr.read",
    "idporten:dcr.write",
    "idporten:dcr.modify",
    "idporten:scopes.read",
    "idporten:scopes.write",
)
SERVER_START_SECONDS: Final = 300.0
SERVER_STOP_SECONDS: Final = 15.0
Inject = Literal["asgi", "emulator"]
LockBackend = Literal["local", "s3"]


# --- the server side (a child process, so client and server do not share one GIL) -----------


class LatencyAndCount:
    """ASGI layer: delays `/api/v1/...` requests and counts them; `COUNTER_PATH` reports."""

    def __init__(self, app: ASGIApp, latency_seconds: float) -> None:
        self.app = app
        self.latency = latency_seconds
        self.api_requests = 0
        self.token_seconds = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == COUNTER_PATH:
            await self._report(send)
            return
        if path.startswith(API_PREFIX):
            self.api_requests += 1
            if self.latency:
                await asyncio.sleep(self.latency)
        started = time.perf_counter()
        await self.app(scope, receive, send)
        if path == "/token":
            self.token_seconds += time.perf_counter() - started

    async def _report(self, send: Send) -> None:
        counts = {
            "api_requests": self.api_requests,
            "token_seconds": self.token_seconds,
            "cpu_seconds": time.process_time(),
        }
        body = json.dumps(counts).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def exit_with_parent(max_seconds: float) -> None:
    """Watchdog: end this process when the parent is gone or the lifetime limit is reached."""
    parent, deadline = os.getppid(), time.monotonic() + max_seconds
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.5)
    os._exit(3)


@dataclass(frozen=True)
class ServeArguments:
    fd: int
    world: Path
    state: Path
    issuer: str
    tls_cert: Path
    tls_key: Path
    latency_ms: int
    life: float


def served_settings(issuer: str, world: Path, state: Path) -> EmulatorSettings:
    """The benchmark emulator's settings: the state file (holding the CA that signed the admin
    certificate) is read once, and every later write stays in memory at O(size of the change),
    so the figures measure mpctl rather than rewrites of a state file of N clients."""
    return EmulatorSettings(issuer=issuer, world=world, state_path=state, state_file_writes="never")


def warm_client_views(app: ASGIApp) -> None:
    """Encode every client's view before serving, as a server that has been up a while holds
    them: a fresh emulator encodes them at its first listing (about 30 ms for 1,000 clients), in
    whichever run lists first, and a one-run figure would time the emulator's warm-up."""
    if not isinstance(app, EmulatorApp):
        raise TypeError(f"expected the emulator's app, got {type(app).__name__}")
    with app.emulator.store.read() as state:
        for client in state.clients.values():
            encoded_client_view(client)


def served_config(app: ASGIApp, certificate: Path, key: Path) -> uvicorn.Config:
    """uvicorn for a benchmark's emulator: TLS, quiet, on uvicorn's C event loop and HTTP parser
    (uvloop, httptools: uvicorn[standard]'s), so the server's own work per request stays out
    of mpctl's figures. On h11 and asyncio's loop the server took about 1.3 ms per request
    beyond its 50 ms on this 2-core machine, CPU the client's process competes for; the mpctl
    plan process for 1,000 clients measured 4.06-4.33 s against 3.87-3.95 s on them."""
    return uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        server_header=False,
        access_log=False,
        ssl_certfile=str(certificate),
        ssl_keyfile=str(key),
        loop="uvloop",
        http="httptools",
    )


def serve_child(serve: ServeArguments) -> None:
    """Serve the emulator over TLS on the inherited listening socket until SIGTERM."""
    threading.Thread(target=exit_with_parent, args=(serve.life,), daemon=True).start()
    settings = served_settings(serve.issuer, serve.world, serve.state)
    emulator_app = create_app(settings)
    warm_client_views(emulator_app)
    app = LatencyAndCount(emulator_app, serve.latency_ms / 1000)
    config = served_config(app, serve.tls_cert, serve.tls_key)
    listener = socket.socket(fileno=serve.fd)
    uvicorn.Server(config).run(sockets=[listener])


# --- the generated project --------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    directory: Path
    world: Path
    state: Path
    issuer: str
    tls_ca: Path
    tls_cert: Path
    tls_key: Path


def client_name(index: int) -> str:
    return f"bench-{index:05d}"


def kid_of(name: str, created: datetime) -> str:
    return f"{name}-{ENV.upper()}.{created.date().isoformat()}"


def project_file(port: int, key_size: int = DEFAULT_KEY_SIZE, lock: LockBackend = "local") -> str:
    base = f"https://{HOST}:{port}"
    environment: dict[str, object] = {
        "api_base_url": f"{base}/api/v1",
        "issuer": f"{base}/",
        "token_endpoint": f"{base}/token",
        # The keys are throwaway: the benchmarks run on CI runners too (CI set).
        "sink": {"type": "file", "ephemeral_ok": True},
        "admin": {
            "client_id": "acme-admin",
            "certificate": {"file": "./admin/certificate.pem"},
            "private_key": {"file": "./admin/key.pem"},
            "scopes": list(ADMIN_SCOPES),
        },
    }
    if lock == "s3":  # apply_scale never takes it: it only tells apply whom the lock binds
        environment["lock"] = {"backend": "s3", "bucket": "mpctl-bench", "key": "bench/{env}"}
    config = {
        "organisation": {"orgno": ORGNO, "name": ORG_NAME, "scope_prefixes": ["acme"]},
        "default_env": ENV,
        "resources": ["resources"],
        "environments": {ENV: environment},
        "defaults": {
            "client": {
                "access_token_lifetime": 120,
                "keys": {"algorithm": "RS256", "size": key_size, "rotate_after": "90d"},
            }
        },
    }
    return json.dumps(config, indent=1) + "\n"


CLIENTS_PER_FILE = 250
"""Manifest files stay well inside mpctl's per-file limits (100,000 YAML nodes, 512 KiB)."""


def manifest_files(names: Sequence[str]) -> dict[str, str]:
    """File name → text: the scope and the first clients, then CLIENTS_PER_FILE per file."""
    chunks = [names[i : i + CLIENTS_PER_FILE] for i in range(0, len(names), CLIENTS_PER_FILE)]
    return {
        f"clients-{index:03d}.yaml": manifests(chunk, with_scope=index == 0)
        for index, chunk in enumerate(chunks or [[]])
    }


def manifests(names: Sequence[str], *, with_scope: bool = True) -> str:
    scope = {
        "kind": "Scope",
        "name": OWN_SCOPE,
        "description": "Benchmark API",
        "allowed_integration_types": ["maskinporten"],
        "consumers": [CONSUMER_ORGNO],
    }
    documents = [json.dumps(scope)] if with_scope else []
    documents += [
        json.dumps(
            {
                "kind": "Client",
                "name": name,
                "description": f"Benchmark client {name}",
                "scopes": [OWN_SCOPE, OPEN_SCOPE],
            }
        )
        for name in names
    ]
    return "\n---\n".join(documents) + "\n"


def world_file(
    client_ids: dict[str, str],
    jwk: dict[str, str],
    created: datetime,
    latency_ms: int,
    inject: Inject,
) -> str:
    """The emulator's world (JSON, a subset of YAML): the org, its admin client, N clients."""
    clients = [
        {
            "client_id": client_id,
            "client_orgno": ORGNO,
            "client_name": f"{ORG_NAME} - {name} - {ENV}",
            "description": f"Benchmark client {name} [mpctl:{name}]",
            "scopes": [OWN_SCOPE, OPEN_SCOPE],
            "access_token_lifetime": 120,
            "jwks": [{**jwk, "kid": kid_of(name, created)}],
        }
        for name, client_id in client_ids.items()
    ]
    world: dict[str, object] = {
        "organisations": [
            {"orgno": ORGNO, "name": ORG_NAME, "prefixes": ["acme"]},
            {"orgno": BRREG_ORGNO, "name": "Brønnøysundregistrene", "prefixes": ["brreg"]},
            {"orgno": CONSUMER_ORGNO, "name": "Eksempel Kunde AS"},
        ],
        "admin_clients": [
            {"client_id": "acme-admin", "client_orgno": ORGNO, "scopes": list(ADMIN_SCOPES)}
        ],
        "scopes": [
            {
                "name": OWN_SCOPE,
                "owner_orgno": ORGNO,
                "description": "Benchmark API",
                "long_description": f"[mpctl:{OWN_SCOPE}]",
                "allowed_integration_types": ["maskinporten"],
            },
            {
                "name": OPEN_SCOPE,
                "owner_orgno": BRREG_ORGNO,
                "description": "Open data, available to everyone",
                "allowed_integration_types": ["maskinporten"],
                "accessible_for_all": True,
            },
        ],
        "access": [{"scope": OWN_SCOPE, "consumer_orgno": CONSUMER_ORGNO}],
        "clients": clients,
    }
    if inject == "emulator" and latency_ms:
        world["faults"] = [{"kind": "latency", "path": f"{API_PREFIX}*", "latency_ms": latency_ms}]
    return json.dumps(world) + "\n"


def build_project(
    directory: Path,
    port: int,
    size: int,
    latency_ms: int,
    inject: Inject,
    *,
    key_size: int = DEFAULT_KEY_SIZE,
    lock: LockBackend = "local",
) -> Project:
    """Write mpctl.yaml, the manifests, the world, the admin certificate and every sink; new
    keys get `key_size` bits (the N clients' existing key is 3072 bits whatever it is)."""
    created = datetime.now(UTC).replace(microsecond=0)
    names = [client_name(index) for index in range(size)]
    client_ids = {
        name: str(uuid.UUID(int=index + 1, version=4)) for index, name in enumerate(names)
    }
    crypto_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    template = PrivateKey(crypto_key, kid="template", created_at=created)
    jwk = {k: v for k, v in public_jwk(template).items() if k != "kid"}

    (directory / "mpctl.yaml").write_text(project_file(port, key_size, lock))
    (directory / "resources").mkdir()
    for file_name, text in manifest_files(names).items():
        (directory / "resources" / file_name).write_text(text)
    world = directory / "world.yaml"
    world.write_text(world_file(client_ids, jwk, created, latency_ms, inject))
    state = directory / "emulator" / "state.json"
    state.parent.mkdir()
    admin = directory / "admin"
    admin.mkdir()
    issuer = f"https://{HOST}:{port}/"
    settings = EmulatorSettings(issuer=issuer, world=world, state_path=state)
    issue_business_certificate(
        settings, ORGNO, admin / "certificate.pem", admin / "key.pem", org_name=ORG_NAME
    )

    workspace = open_workspace(directory, ENV)
    sinks = {
        name: cast(ThreadedSink, sink).blocking for name, sink in workspace.open_sinks().items()
    }
    for name in names:
        key = template.with_kid(kid_of(name, created))
        sink = sinks[name]
        sink.stage(name, key)
        sink.promote(name, key.kid, created)
        sink.set_client_id(name, client_ids[name])
    tls = ensure_tls_files(directory)  # what `mpctl emulator serve --tls` makes
    return Project(directory, world, state, issuer, tls.ca, tls.certificate, tls.key)


# --- TLS on loopback: mpctl refuses plain http for a non-embedded environment (MPL108) -----


# --- the server process, from the parent ------------------------------------------------------


def listening_socket() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(256)
    listener.set_inheritable(True)
    return listener


@dataclass(frozen=True)
class Server:
    base: str
    ca: Path
    latency_ms: int


def serve_command(
    script: Path, listener: socket.socket, project: Project, latency_ms: int, life: float
) -> list[str]:
    """`script` run again as the emulator's child process on `listener` (see
    `add_serve_arguments`), serving `project` with `latency_ms` added per request."""
    command = [sys.executable, str(script.resolve()), "--serve-fd", str(listener.fileno())]
    command += ["--serve-world", str(project.world), "--serve-state", str(project.state)]
    command += ["--serve-issuer", project.issuer, "--latency-ms", str(latency_ms)]
    command += ["--serve-tls", str(project.tls_cert), str(project.tls_key)]
    return [*command, "--serve-life", str(life)]


@contextmanager
def emulator_process(
    listener: socket.socket, project: Project, latency_ms: int, inject: Inject, life: float
) -> Iterator[Server]:
    """Serve the project's emulator in a child process; always stops it."""
    asgi_latency = latency_ms if inject == "asgi" else 0
    command = serve_command(Path(__file__), listener, project, asgi_latency, life)
    process = subprocess.Popen(command, pass_fds=[listener.fileno()])
    listener.close()
    base = project.issuer.rstrip("/")
    try:
        wait_until_serving(base, process, project.tls_ca)
        yield Server(base, project.tls_ca, latency_ms)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=SERVER_STOP_SECONDS)


def wait_until_serving(base: str, process: subprocess.Popen[bytes], ca: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the emulator exited with status {process.returncode}")
        try:
            server_counts(base, ca)
            # The first read loads the state file; do it before any clock starts.
            httpx.get(base + "/jwk", timeout=120, verify=trust(ca)).raise_for_status()
        except httpx.TransportError:
            time.sleep(0.2)
        else:
            return
    raise SystemExit("the emulator did not start in time")


def trust(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


@dataclass(frozen=True)
class ServerCounts:
    """The emulator process's own counters: API requests served, time in /token, CPU time."""

    api_requests: int = 0
    token_seconds: float = 0.0
    cpu_seconds: float = 0.0

    def __sub__(self, other: ServerCounts) -> ServerCounts:
        return ServerCounts(
            self.api_requests - other.api_requests,
            self.token_seconds - other.token_seconds,
            self.cpu_seconds - other.cpu_seconds,
        )


def server_counts(base: str, ca: Path) -> ServerCounts:
    response = httpx.get(base + COUNTER_PATH, timeout=10, verify=trust(ca))
    counts = response.raise_for_status().json()
    return ServerCounts(
        int(counts["api_requests"]), float(counts["token_seconds"]), float(counts["cpu_seconds"])
    )


# --- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    size: int
    concurrency: int
    wall: float
    fetch: float
    plan: float
    requests: int
    client_cpu: float
    server: ServerCounts
    latency_ms: int

    @property
    def lower_bound(self) -> float:
        return self.server.api_requests / self.concurrency * self.latency_ms / 1000

    @property
    def ratio(self) -> float:
        return self.wall / self.lower_bound if self.lower_bound else float("nan")


@dataclass(frozen=True)
class Timed:
    plan: Plan
    requests: int
    fetch: float
    planning: float
    cpu: float


async def observe_and_plan(workspace: Workspace, concurrency: int, deadline: float) -> Timed:
    """What `mpctl plan` does before rendering, timed from the first request to the plan."""
    sinks = workspace.open_sinks()
    async with (
        asyncio.timeout(deadline),
        open_remote(
            workspace.environment,
            base_dir=workspace.directory,
            environ=os.environ,
            concurrency=concurrency,
        ) as remote,
    ):
        cpu, started = time.process_time(), time.perf_counter()
        orgno = workspace.desired.organisation.orgno
        snapshot = await observe(remote, orgno=orgno, sinks=sinks)
        observed = time.perf_counter()
        result = plan_from(workspace, snapshot, PlanOptions())
        planned = time.perf_counter()
        cpu = time.process_time() - cpu
        return Timed(result, remote.requests_made, observed - started, planned - observed, cpu)


def check_no_changes(result: Plan, size: int) -> None:
    problems = [d for d in result.diagnostics if d.severity is not Severity.NOTE]
    changed = result.has_changes or result.has_drift or not result.applyable
    if changed or problems or result.summary.unchanged < size:
        steps = ", ".join(f"{s.action.value} {s.address}" for s in result.steps[:5])
        found = "; ".join(f"{d.code}: {d.message}" for d in problems[:5])
        raise SystemExit(
            f"N={size}: expected no changes; steps: {steps or '-'}; diagnostics: {found or '-'}"
        )


def measure(server: Server, workspace: Workspace, size: int, concurrency: int) -> Row:
    before = server_counts(server.base, server.ca)
    timed = asyncio.run(
        observe_and_plan(workspace, concurrency, deadline_for(size, concurrency, server.latency_ms))
    )
    check_no_changes(timed.plan, size)
    return Row(
        size=size,
        concurrency=concurrency,
        wall=timed.fetch + timed.planning,
        fetch=timed.fetch,
        plan=timed.planning,
        requests=timed.requests,
        client_cpu=timed.cpu,
        server=server_counts(server.base, server.ca) - before,
        latency_ms=server.latency_ms,
    )


def deadline_for(size: int, concurrency: int, latency_ms: int) -> float:
    """Seconds one run may take: generous, but finite (about 4 × the latency bound)."""
    return 120 + 4 * (size + 5) / concurrency * latency_ms / 1000


HEADER: Final = (
    f"{'N':>5} {'conc':>4} {'wall s':>8} {'requests':>8} {'bound s':>8} {'ratio':>6} "
    f"{'fetch s':>8} {'plan s':>7} {'cpu mpctl s':>11} {'cpu emulator s':>14} {'load':>5}"
)


def show(row: Row) -> None:
    print(
        f"{row.size:>5} {row.concurrency:>4} {row.wall:>8.2f} {row.requests:>8} "
        f"{row.lower_bound:>8.2f} {row.ratio:>6.2f} {row.fetch:>8.2f} {row.plan:>7.2f} "
        f"{row.client_cpu:>11.2f} {row.server.cpu_seconds:>14.2f} {os.getloadavg()[0]:>5.2f}",
        flush=True,
    )
    exchanges = row.requests - row.server.api_requests
    if exchanges != 1:
        print(f"      note: {exchanges} token exchanges (the admin token lives 120 s)", flush=True)
    if row.server.token_seconds > 0.05:
        print(f"      note: the emulator spent {row.server.token_seconds:.2f} s in /token "
              "(each exchange writes its state file)", flush=True)  # fmt: skip


@dataclass(frozen=True)
class Served:
    """A generated project of N existing clients and its emulator, serving."""

    server: Server
    project: Project
    workspace: Workspace
    seeding: float
    loading: float


@contextmanager
def served_project(size: int, latency_ms: int, inject: Inject, life: float) -> Iterator[Served]:
    """Build the project of `size` managed clients in a temporary directory and serve it."""
    with tempfile.TemporaryDirectory(prefix=f"mpctl-plan-{size}-") as folder:
        listener = listening_socket()
        port = int(listener.getsockname()[1])
        seeded = time.perf_counter()
        project = build_project(Path(folder), port, size, latency_ms, inject)
        seeding = time.perf_counter() - seeded
        # mpctl's httpx client trusts the throw-away CA the way it would a corporate one.
        os.environ["SSL_CERT_FILE"] = str(project.tls_ca)
        loaded = time.perf_counter()
        workspace = open_workspace(project.directory, ENV)
        loading = time.perf_counter() - loaded
        with emulator_process(listener, project, latency_ms, inject, life) as server:
            yield Served(server, project, workspace, seeding, loading)


def plan_once(size: int, concurrency: int, latency_ms: int, inject: Inject = "asgi") -> Row:
    """One drift check of `size` clients at `concurrency` on a fresh project and emulator."""
    life = 600 + deadline_for(size, concurrency, latency_ms)
    with served_project(size, latency_ms, inject, life) as served:
        return measure(served.server, served.workspace, size, concurrency)


def run(
    sizes: Sequence[int], concurrencies: Sequence[int], latency_ms: int, inject: Inject
) -> None:
    print(
        f"emulator on {HOST} (uvicorn on uvloop + httptools, child process), "
        f"+{latency_ms} ms per /api/v1 request "
        f"({inject}), /token not delayed; wall = observe + make_plan incl. token exchange; "
        f"requests = HttpRemote.requests_made (API + token exchanges); bound = API requests / conc "
        f"× {latency_ms} ms; {os.cpu_count()} CPUs, load = 1-min load average after the run",
        flush=True,
    )
    print(HEADER, flush=True)
    for size in sizes:
        budget = sum(deadline_for(size, c, latency_ms) for c in concurrencies)
        with served_project(size, latency_ms, inject, 600 + budget) as served:
            for concurrency in concurrencies:
                show(measure(served.server, served.workspace, size, concurrency))
        print(f"      (N={size}: seeding {served.seeding:.1f} s, loading manifests "
              f"{served.loading:.1f} s, not timed)", flush=True)  # fmt: skip


def numbers(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The hidden options a benchmark passes to itself to run the emulator as its child."""
    hidden = argparse.SUPPRESS
    parser.add_argument("--serve-fd", type=int, help=hidden)
    parser.add_argument("--serve-world", type=Path, help=hidden)
    parser.add_argument("--serve-state", type=Path, help=hidden)
    parser.add_argument("--serve-issuer", help=hidden)
    parser.add_argument("--serve-tls", type=Path, nargs=2, help=hidden)
    parser.add_argument("--serve-life", type=float, default=3600.0, help=hidden)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=numbers, default=[100, 1000, 5000], help="e.g. 100,1000")
    parser.add_argument("--concurrency", type=numbers, default=[1, 16], help="e.g. 1,16")
    parser.add_argument("--latency-ms", type=int, default=50, help="added per API request")
    parser.add_argument("--inject", choices=["asgi", "emulator"], default="asgi")
    add_serve_arguments(parser)
    arguments = parser.parse_args(argv)
    if not 0 <= arguments.latency_ms <= 10_000:
        parser.error("--latency-ms must be between 0 and 10000")
    if arguments.serve_fd is not None:
        serve_child(
            ServeArguments(
                fd=arguments.serve_fd,
                world=arguments.serve_world,
                state=arguments.serve_state,
                issuer=arguments.serve_issuer,
                tls_cert=arguments.serve_tls[0],
                tls_key=arguments.serve_tls[1],
                latency_ms=arguments.latency_ms,
                life=arguments.serve_life,
            )
        )
        return
    run(arguments.sizes, arguments.concurrency, arguments.latency_ms, arguments.inject)


if __name__ == "__main__":
    main()
