"""The plan at scale without a network: make_plan's time, the plan file's size, peak memory.

Issue 13's planner figures. For each case a child process (so peak RSS is the case's own)
builds a desired state in memory and runs the pure planner on it, as `mpctl plan` does once it
has observed:

* `new:N`: N declared clients with keys (the default key policy and sink) and one scope,
  nothing at Digdir yet: N client creates, N `create_key` steps and one scope create.
* `converged:N`: the same N clients already at Digdir with the ownership marker, each with
  one registered key that its sink holds as current (10 days old): a plan with no steps.

Printed per case: make_plan wall and CPU seconds (median of `--runs`, the first run
included), the saved plan's size (`Plan.to_json`, as `plan --out` writes it), the time to
load it back (`Plan.from_json`, as `show` and `apply --plan` do), and the process's peak RSS
(`resource.getrusage`) after planning, saving and loading.

`--gc` says how the cyclic garbage collector runs, as the CLI would run it: `default`
(Python's thresholds) or `tuned` (`gc.freeze()` once the modules are imported, then
`gc.set_threshold(TUNED_THRESHOLD, 50, 100)`, the setting recommended for the CLI's entry
point). Both by default.

    .venv/bin/python benchmarks/plan_size.py [--cases new:1000,new:5000,new:10000,converged:5000]
        [--gc default,tuned] [--runs 5]
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from mpctl.model import (
    Client,
    DesiredState,
    Environment,
    KeyPolicy,
    KeySlot,
    ObservedClient,
    ObservedJwk,
    ObservedJwks,
    ObservedScope,
    ObservedState,
    Organisation,
    Scope,
    SinkState,
    jwk_thumbprint,
)
from mpctl.plan import Plan, PlanOptions, make_plan
from mpctl.plan.normalize import client_body, scope_body
from mpctl.plan.ownership import Owner

TUNED_THRESHOLD: Final = 50_000
NOW: Final = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ORGNO: Final = "910753614"
SCOPE: Final = "acme:invoices.read"
ENVIRONMENT: Final = Environment(
    api_base_url="https://api.test.samarbeid.digdir.no/api/v1",
    issuer="https://test.maskinporten.no/",
    token_endpoint="https://test.maskinporten.no/token",
)
DEFAULT_CASES: Final = "new:1000,new:5000,new:10000,converged:5000"


def tune_gc() -> None:
    """What the CLI's entry point is recommended to do before it runs a command."""
    gc.freeze()
    gc.set_threshold(TUNED_THRESHOLD, 50, 100)


def desired_state(size: int) -> DesiredState:
    clients = [
        Client(
            name=f"c{i:05d}", description=f"c{i:05d} integration", scopes=(SCOPE,), keys=KeyPolicy()
        )
        for i in range(size)
    ]
    return DesiredState(
        env_name="test",
        environment=ENVIRONMENT,
        organisation=Organisation(orgno=ORGNO, name="ACME", scope_prefixes=("acme",)),
        clients={c.name: c for c in clients},
        scopes={SCOPE: Scope(name=SCOPE, description=f"API {SCOPE}")},
    )


def _modulus(kid: str) -> str:
    digest = hashlib.sha512(kid.encode()).digest() * 4
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def converged(desired: DesiredState) -> tuple[ObservedState, dict[str, SinkState]]:
    """Digdir and the sinks once `desired` is applied, one current key per client."""
    owner = Owner.of(desired)
    clients: dict[str, ObservedClient] = {}
    jwks: dict[str, ObservedJwks] = {}
    sinks: dict[str, SinkState] = {}
    expiry = int((NOW + timedelta(days=300)).timestamp())
    for name, client in desired.clients.items():
        client_id = f"id-{name}"
        body = client_body(client, desired).wire()
        body.update(client_id=client_id, client_orgno=ORGNO)
        clients[client_id] = ObservedClient.model_validate(body)
        kid = f"{name}-test-20261111"
        jwk = ObservedJwk(kty="RSA", kid=kid, alg="RS256", use="sig", e="AQAB", n=_modulus(kid))
        jwks[client_id] = ObservedJwks(keys=(jwk.model_copy(update={"exp": expiry}),))
        thumbprint = jwk_thumbprint(jwk)
        assert thumbprint is not None
        created = NOW - timedelta(days=10)
        current = KeySlot(kid=kid, thumbprint=thumbprint, created_at=created, promoted_at=created)
        sinks[name] = SinkState(client_id=client_id, current=current)
    scope = desired.scopes[SCOPE]
    wire = scope_body(scope, desired.environment, None, owner).wire()
    wire.update(name=SCOPE, owner_orgno=ORGNO, active=True)
    scopes = {SCOPE: ObservedScope.model_validate(wire)}
    return ObservedState(clients=clients, scopes=scopes, jwks=jwks), sinks


def run_case(case: str, runs: int) -> dict[str, Any]:
    """One case in this process: the figures as a JSON-able dict."""
    kind, _, count = case.partition(":")
    desired = desired_state(int(count))
    observed, sinks = converged(desired) if kind == "converged" else (ObservedState(), {})
    walls: list[float] = []
    cpus: list[float] = []
    plan: Plan | None = None
    for _ in range(runs):
        plan = None  # as the CLI: one plan in memory at a time
        wall, cpu = time.perf_counter(), time.process_time()
        plan = make_plan(
            desired, observed, sinks, options=PlanOptions(), now=NOW, manifests_fingerprint="x"
        )
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    assert plan is not None
    if kind == "converged" and plan.steps:
        raise SystemExit(f"{case}: a converged plan has {len(plan.steps)} steps")
    text = plan.to_json()
    started = time.perf_counter()
    loaded = Plan.from_json(text)
    load_seconds = time.perf_counter() - started
    if loaded != plan:
        raise SystemExit(f"{case}: the saved plan does not load back equal")
    return {
        "case": case,
        "steps": len(plan.steps),
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
        "bytes": len(text.encode("utf-8")),
        "load": load_seconds,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(case: str, mode: str, runs: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", case, "--gc", mode, "--runs", str(runs)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{case} ({mode}) failed:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=DEFAULT_CASES)
    parser.add_argument("--gc", default="default,tuned")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        if arguments.gc == "tuned":
            tune_gc()
        print(json.dumps(run_case(arguments.child, arguments.runs)))
        return
    print(
        f"{'case':>16} {'gc':>7} {'steps':>6} {'wall s':>7} {'cpu s':>6} {'file MB':>8} "
        f"{'load s':>7} {'peak RSS MB':>12}"
    )
    for case in arguments.cases.split(","):
        for mode in arguments.gc.split(","):
            f = _child(case, mode, arguments.runs)
            print(
                f"{case:>16} {mode:>7} {f['steps']:>6} {f['wall']:>7.2f} {f['cpu']:>6.2f} "
                f"{f['bytes'] / 1e6:>8.2f} {f['load']:>7.2f} {f['rss_mb']:>12.0f}"
            )


if __name__ == "__main__":
    main()
