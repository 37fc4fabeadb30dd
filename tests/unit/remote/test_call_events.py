"""The response seam for audits: every answer seen, with Digdir's correlation id or Maskinporten's
trace id when the emulator's answer carries one, and nothing else of the request or response."""

from __future__ import annotations

import re

import httpx
import pytest

from mpctl.remote import GRANT_TYPE, CallEvent, open_http, watch_calls
from tests.unit.remote.emulator_world import ISSUER, EmulatorWorld

_HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.mark.usefixtures("no_waits")
async def test_a_retried_5xx_reports_its_correlation_id_then_the_success(
    emulator: EmulatorWorld,
) -> None:
    await emulator.set_faults(
        {"kind": "error", "path": "/api/v1/clients", "methods": ["GET"], "max_hits": 1}
    )
    seen: list[CallEvent] = []
    async with emulator.remote() as remote:
        remote.watch(seen.append)
        await remote.list_clients()
    calls = [e for e in seen if e.path == "/api/v1/clients"]
    assert [(e.method, e.status) for e in calls] == [("GET", 503), ("GET", 200)]
    assert calls[0].correlation_id is not None
    assert _HEX32.fullmatch(calls[0].correlation_id)
    assert calls[1].correlation_id is None


async def test_a_token_refusal_reports_maskinporten_trace_id(emulator: EmulatorWorld) -> None:
    seen: list[CallEvent] = []
    async with open_http(transport=emulator.transport) as http:
        watch_calls(http, seen.append)
        response = await http.post(
            f"{ISSUER}token", data={"grant_type": GRANT_TYPE, "assertion": "not-a-jwt"}
        )
    (event,) = seen
    assert (event.method, event.path, event.status) == ("POST", "/token", response.status_code)
    assert event.status == 400
    trace = re.search(r"trace_id: ([0-9a-f]{32})", response.json()["error_description"])
    assert trace is not None
    assert event.correlation_id == trace.group(1)
    assert "not-a-jwt" not in repr(event)


async def test_a_correlation_header_on_a_success_is_kept() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[], headers={"X-Correlation-Id": "abc-123"})

    seen: list[CallEvent] = []
    async with open_http(transport=httpx.MockTransport(answer)) as http:
        watch_calls(http, seen.append)
        await http.get("http://127.0.0.1/api/v1/scopes/access", params={"scope": "acme:a"})
    assert seen == [CallEvent("GET", "/api/v1/scopes/access?scope=acme:a", 200, "abc-123")]
