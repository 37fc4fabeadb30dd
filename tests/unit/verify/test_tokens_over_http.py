"""Token exchange against the emulator behind uvicorn on loopback: real sockets, real timeouts.

In-process (ASGITransport) there are no socket timeouts and no real waits; these tests cover
the `timeout` outcome, a Retry-After that is really waited for, and a dropped TCP connection.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from mpctl.emulator import EmulatorSettings, build_server
from mpctl.remote import GrantFactory, GrantRequest, RetryPolicy, fresh_grants
from mpctl.secrets import PrivateKey
from mpctl.verify import RecordingObserver, request_token, signing_key
from tests.unit.verify.emulator_world import CLIENT_ID, ISSUER, OWN_SCOPE, write_world

OWN = GrantRequest(client_id=CLIENT_ID, issuer=ISSUER, scopes=(OWN_SCOPE,))
FAST = RetryPolicy(timeout=60.0, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0)
REQUEST_TIMEOUT = 0.3


def grants(key: PrivateKey) -> GrantFactory:
    return fresh_grants(signing_key(key), OWN)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, key: PrivateKey) -> Iterator[str]:
    world = write_world(tmp_path_factory.mktemp("world"), key)
    port = free_port()
    server = build_server(
        EmulatorSettings(world=world, control_enabled=True), port=port, log_level="warning"
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "the emulator did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        yield client
        await client.delete("/_emulator/faults")


async def set_faults(http: httpx.AsyncClient, *rules: dict[str, object]) -> None:
    faults = [{"path": "/token", "methods": ["POST"], **rule} for rule in rules]
    assert (await http.put("/_emulator/faults", json={"faults": faults})).status_code == 200


async def test_success_over_tcp(http: httpx.AsyncClient, base_url: str, key: PrivateKey) -> None:
    result = await request_token(
        http, f"{base_url}/token", grants(key), policy=FAST, request_timeout=REQUEST_TIMEOUT
    )
    assert (result.outcome, result.attempts) == ("success", 1)


async def test_slow_endpoint_times_out(
    http: httpx.AsyncClient, base_url: str, key: PrivateKey
) -> None:
    await set_faults(http, {"kind": "latency", "latency_ms": 1500})
    observer = RecordingObserver()
    result = await request_token(
        http,
        f"{base_url}/token",
        grants(key),
        policy=FAST,
        request_timeout=REQUEST_TIMEOUT,
        observer=observer,
    )
    assert (result.outcome, result.attempts, result.reason_code) == ("timeout", 4, "timeout")
    assert observer.events[-1].outcome == "timeout"
    assert [e.reason_code for e in observer.events if e.event == "token_request_retry"] == [
        "timeout"
    ] * 3


async def test_retry_after_is_really_waited_for(
    http: httpx.AsyncClient, base_url: str, key: PrivateKey
) -> None:
    await set_faults(http, {"kind": "rate_limit", "retry_after": 1, "max_hits": 1})
    started = time.monotonic()
    result = await request_token(
        http, f"{base_url}/token", grants(key), policy=FAST, request_timeout=REQUEST_TIMEOUT
    )
    assert (result.outcome, result.attempts) == ("success", 2)
    assert time.monotonic() - started >= 1.0


async def test_dropped_tcp_connection_is_retried(
    http: httpx.AsyncClient, base_url: str, key: PrivateKey
) -> None:
    await set_faults(http, {"kind": "drop", "max_hits": 1})
    observer = RecordingObserver()
    result = await request_token(
        http,
        f"{base_url}/token",
        grants(key),
        policy=FAST,
        request_timeout=REQUEST_TIMEOUT,
        observer=observer,
    )
    assert (result.outcome, result.attempts) == ("success", 2)
    assert observer.events[1].reason_code == "network_error"
