"""The audit trail of a concurrent apply: every call is credited to the step that made it.

A converged world gains `BULK` clients (a create and a first-key step each) and applies them at
parallelism 16 while the emulator delays every self-service request and answers a share of them
with 503 (each failed attempt carries Digdir's correlation id; the remote retries). The wire
itself records, for every correlation id, the asyncio task that sent the request (the engine
names each step's task after the step) and what the request was about (the client id in its
path, the marker in a create's body): that is the truth the audit log is held against, learned
without the `STEP_IN_FLIGHT` context variable the log reads. Every id the steps' calls got is in
exactly one step record, the record of the step whose task sent it, and the request concerned
that step's client; no id is in a neighbour's record or left out; every kid a step record names
is one of that step's client. Through the CLI too: `mpctl apply --parallelism 16` on a fresh
example, each key step's record names only its own client's kids.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest

from mpctl.apply import StepOutcome, apply_plan
from mpctl.apply.audit import AppendOnlyFile, AuditLog, StepRecord, identify_run, parse_record
from mpctl.emulator import FaultRule
from mpctl.plan import Step
from mpctl.plan.ownership import parse_marker
from mpctl.remote.client import HttpRemote
from tests.e2e.conftest import Templates
from tests.e2e.harness import World, checks_one_at_a_time
from tests.e2e.test_executors_clients import edited_world

pytestmark = pytest.mark.usefixtures("fast_crypto")

BULK = 24
PARALLELISM = 16
FAULTS = [
    FaultRule(kind="latency", path="/api/v1/*", latency_ms=4),
    FaultRule(kind="error", path="/api/v1/*", status=503, probability=0.3),
]
TASK_PREFIX = "apply "
MPCTL = (sys.executable, "-m", "mpctl")


@dataclass(frozen=True)
class WireCall:
    """A failed attempt as the wire saw it: who sent it and which client it was about."""

    task: str
    method: str
    path: str
    about: str | None
    """The client id in the path, or the manifest name in a create's marker; None: a listing."""


def add_bulk_clients(project: Path) -> None:
    documents = [
        json.dumps(
            {
                "kind": "Client",
                "name": f"bulk-{index:02d}",
                "description": f"Bulk client {index}",
                "scopes": ["altinn:instances.read"],
            }
        )
        for index in range(1, BULK + 1)
    ]
    (project / "resources" / "clients" / "bulk.yaml").write_text("\n---\n".join(documents) + "\n")


def record_failed_attempts(world: World) -> dict[str, WireCall]:
    """correlation id → the wire call that got it, filled in as the calls happen."""
    seen: dict[str, WireCall] = {}

    def listener(request: httpx.Request, response: httpx.Response) -> None:
        if response.is_success or not request.url.path.startswith("/api/v1/"):
            return
        correlation_id = response.json()["correlation_id"]
        task = asyncio.current_task()
        assert correlation_id not in seen
        seen[correlation_id] = WireCall(
            task=task.get_name() if task is not None else "",
            method=request.method,
            path=request.url.path,
            about=_about(request),
        )

    world.wire_listeners.append(listener)
    return seen


def _about(request: httpx.Request) -> str | None:
    parts = request.url.path.split("/")
    if len(parts) > 4 and parts[3] == "clients":
        return parts[4]
    if request.method == "POST" and request.url.path == "/api/v1/clients":
        marker = parse_marker(json.loads(request.content).get("description"))
        return marker.name if marker else None
    return None


class CountingLog(AuditLog):
    """The real audit log, also counting the steps in flight (to prove they overlapped)."""

    in_flight: int = 0
    most_in_flight: int = 0

    def step_started(self, step: Step) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        super().step_started(step)

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        self.in_flight -= 1
        super().step_finished(step, outcome)


async def test_at_parallelism_16_each_audit_record_holds_exactly_its_own_steps_calls(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(worlds.converged, tmp_path / "world", add_bulk_clients)
    checks_one_at_a_time(world)
    with world.emulator.store.write() as state:
        state.faults = [rule.model_copy() for rule in FAULTS]
    wire = record_failed_attempts(world)
    identity = identify_run(env="local", project="acme", directory=tmp_path, environ={})
    log = CountingLog(AppendOnlyFile(tmp_path / "audit.jsonl"), identity, now=world.clock.now)
    async with world.session() as (api, opened, tester):
        cast(HttpRemote, api).watch(log.call_seen)  # forwarded to the real remote
        sinks = log.watch_sinks(opened)
        plan = world.make_plan(await world.observe(api, sinks))
        context = world.context(api, sinks, tester)
        context.parallelism = PARALLELISM
        report = await apply_plan(plan, context, observer=log)
    log.close()
    assert len(plan.steps) == 2 * BULK
    assert log.most_in_flight == PARALLELISM

    records = [parse_record(line) for line in log.path.read_text().splitlines()]
    steps = [r for r in records if isinstance(r, StepRecord)]
    assert [r.address for r in steps] != [str(s.address) for s in plan.steps]  # finish order
    assert sorted(r.address for r in steps) == sorted(str(s.address) for s in plan.steps)
    assert [o.address for o in report.outcomes] == [str(s.address) for s in plan.steps]

    credited = Counter(c.correlation_id for r in steps for c in r.correlation_ids)
    assert max(credited.values()) == 1  # no id in two records
    by_step = {c.correlation_id: r.address for r in steps for c in r.correlation_ids}
    made_by_steps = {cid: call for cid, call in wire.items() if call.task.startswith(TASK_PREFIX)}
    assert set(by_step) == set(made_by_steps)  # none left out, none made up
    assert len(by_step) >= 20
    assert len({by_step[cid] for cid in by_step}) >= 10  # spread over many steps

    names = {c.client_id: c.name for c in world.remote_state()}
    sink_states = world.sink_states()
    for record in steps:
        client = record.address.split("/")[1]
        for seen in record.correlation_ids:
            call = wire[seen.correlation_id]
            assert call.task == TASK_PREFIX + record.address, (seen, call)
            assert (seen.method, seen.path) == (call.method, call.path)
            if call.about is None:  # a listing: only a create looks for its marker
                assert (call.method, call.path, record.address) == (
                    "GET",
                    "/api/v1/clients",
                    f"client/{client}",
                )
            else:
                assert names.get(call.about, call.about) == client, (record.address, call)
        if record.keys:
            assert {k.kid for k in record.keys} <= sink_states[client].kids, record


def test_mpctl_apply_at_parallelism_16_credits_each_key_to_its_own_step(project: Path) -> None:
    """Through the CLI (a fresh example, every client's first key at once): the audit log's
    key steps each name only their own client's kids (the kids are named after the client)."""
    done = subprocess.run(
        [*MPCTL, "apply", "--auto-approve", "--parallelism", "16", "--manifests", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "CI": "true", "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (project / ".mpctl" / "local" / "audit.jsonl").read_text().splitlines()
    key_steps = [
        record
        for record in map(parse_record, lines)
        if isinstance(record, StepRecord) and record.address.endswith("/key")
    ]
    assert len(key_steps) >= 5
    for record in key_steps:
        client = record.address.split("/")[1]
        kids = {key.kid for key in record.keys}
        assert kids, record
        assert all(kid.startswith(f"{client}-") for kid in kids), (record.address, kids)
