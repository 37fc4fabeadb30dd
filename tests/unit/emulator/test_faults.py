"""Fault injection: latency, 5xx, 429 + Retry-After, dropped connections, lost writes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from mpctl.emulator import DroppedConnection
from mpctl.emulator.fault_rules import FaultRule, decide, seeded_draw

from .conftest import EmulatorFactory, Harness
from .worlds import base_world, client_body


async def set_faults(emu: Harness, *faults: dict[str, Any]) -> None:
    response = await emu.control("PUT", "/faults", json={"faults": list(faults)})
    assert response.status_code == 200, response.text


async def test_error_fault_answers_5xx_without_running_the_handler(emu: Harness) -> None:
    headers = await emu.admin_headers()
    await set_faults(emu, {"kind": "error", "path": "/api/v1/clients", "status": 502})
    body = client_body(["brreg:open"])
    response = await emu.http.post("/api/v1/clients", json=body, headers=headers)
    assert response.status_code == 502
    assert response.json()["status"] == 502
    await emu.control("DELETE", "/faults")
    assert (await emu.http.get("/api/v1/clients", headers=headers)).json() == []


async def test_rate_limit_fault_sends_retry_after(emu: Harness) -> None:
    await set_faults(emu, {"kind": "rate_limit", "path": "/token", "retry_after": 7})
    response = await emu.http.post("/token", data={})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


async def test_dropped_connection_raises_a_transport_error(emu: Harness) -> None:
    await set_faults(emu, {"kind": "drop", "path": "/api/v1/scopes/all"})
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        await emu.http.get("/api/v1/scopes/all")
    assert isinstance(caught.value, DroppedConnection)


async def test_lost_write_applies_the_write_but_answers_500(emu: Harness) -> None:
    headers = await emu.admin_headers()
    await set_faults(emu, {"kind": "lost_write", "path": "/api/v1/scopes", "methods": ["post"]})
    body = {"prefix": "acme", "subscope": "lost", "description": "lost write"}
    response = await emu.http.post("/api/v1/scopes", json=body, headers=headers)
    assert response.status_code == 500
    listed = await emu.http.get("/api/v1/scopes", headers=headers)
    assert [s["name"] for s in listed.json()] == ["acme:lost"]


async def test_latency_fault_delays_the_answer(emu: Harness) -> None:
    await set_faults(emu, {"kind": "latency", "path": "/jwk", "latency_ms": 150})
    started = time.monotonic()
    assert (await emu.http.get("/jwk")).status_code == 200
    assert time.monotonic() - started >= 0.15


async def test_max_hits_makes_a_fault_transient(emu: Harness) -> None:
    await set_faults(emu, {"kind": "error", "path": "/jwk", "max_hits": 2})
    statuses = [(await emu.http.get("/jwk")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    counters = (await emu.control("GET", "/faults")).json()["faults"][0]
    assert (counters["seen"], counters["hits"]) == (3, 2)


async def test_methods_and_paths_select_requests(emu: Harness) -> None:
    await set_faults(emu, {"kind": "error", "path": "/api/v1/*", "methods": ["DELETE"]})
    assert (await emu.http.get("/api/v1/scopes/all")).status_code == 200
    response = await emu.http.delete("/api/v1/scopes", params={"scope": "x"})
    assert response.status_code == 503


async def test_control_surface_is_never_faulted(emu: Harness) -> None:
    await set_faults(emu, {"kind": "error", "path": "*"})
    assert (await emu.control("GET", "/faults")).status_code == 200
    assert (await emu.http.get("/jwk")).status_code == 503


async def test_probability_is_deterministic_per_seed(make_emulator: EmulatorFactory) -> None:
    outcomes = []
    for seed in (1, 1, 2):
        emu = await make_emulator(seed=seed)
        await set_faults(emu, {"kind": "error", "path": "/jwk", "probability": 0.5})
        outcomes.append([(await emu.http.get("/jwk")).status_code for _ in range(24)])
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] != outcomes[2]
    assert 0 < outcomes[0].count(503) < 24


async def test_world_file_faults_are_active_from_the_start(
    make_emulator: EmulatorFactory, admin_key: Any
) -> None:
    world = base_world(admin_key)
    world["faults"] = [{"kind": "error", "path": "/jwk", "status": 500, "max_hits": 1}]
    emu = await make_emulator(world)
    assert (await emu.http.get("/jwk")).status_code == 500
    assert (await emu.http.get("/jwk")).status_code == 200


def test_seeded_draw_is_stable_and_uniform_enough() -> None:
    draws = [seeded_draw(0, 0, n) for n in range(1000)]
    assert draws == [seeded_draw(0, 0, n) for n in range(1000)]
    assert all(0 <= d < 1 for d in draws)
    assert 400 < sum(d < 0.5 for d in draws) < 600


def test_latency_adds_up_and_only_the_first_outcome_fires() -> None:
    rules = [
        FaultRule(kind="latency", latency_ms=10),
        FaultRule(kind="latency", latency_ms=5),
        FaultRule(kind="rate_limit"),
        FaultRule(kind="error"),
    ]
    decision = decide(rules, 0, "GET", "/x")
    assert decision.latency_ms == 15
    assert decision.outcome is rules[2]
    assert [rule.hits for rule in rules] == [1, 1, 1, 0]
    assert [rule.seen for rule in rules] == [1, 1, 1, 1]


def test_fault_rules_validate_their_fields() -> None:
    with pytest.raises(ValueError, match="probability"):
        FaultRule(kind="error", probability=1.5)
    with pytest.raises(ValueError, match="status"):
        FaultRule(kind="error", status=404)
    with pytest.raises(ValueError, match="kind"):
        FaultRule.model_validate({"kind": "explode"})
