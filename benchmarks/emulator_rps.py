"""Requests per second of `mpctl emulator serve` on loopback: GET /clients and POST /token.

Starts the emulator (uvicorn, one process) on 127.0.0.1 with a free port, registers a few
clients, then sends a bounded number of requests with a small pool of concurrent keep-alive
connections and prints the rates. Grants are signed before the clock starts, so the figures
measure the server, not the client's RSA signing. Stops the server by itself.

    .venv/bin/python benchmarks/emulator_rps.py [--requests 2000] [--concurrency 8] [--state]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator.keys import public_members

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ADMIN_SCOPES = "idporten:dcr.read idporten:dcr.write idporten:scopes.write"
SERVE = "from mpctl.cli.commands.emulator import app; app()"
ORG = "313367002"
CHUNK = 250


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def world(admin_key: rsa.RSAPrivateKey) -> dict[str, object]:
    jwk = {**public_members(admin_key.public_key()), "kid": "bench-admin", "use": "sig"}
    return {
        "organisations": [{"orgno": ORG, "name": "ACME AS", "prefixes": ["acme"]}],
        "admin_clients": [
            {"client_id": "bench-admin", "client_orgno": ORG, "scopes": ADMIN_SCOPES.split(),
             "jwks": [jwk]},
        ],
        "scopes": [{"name": "acme:bench", "owner_orgno": ORG, "description": "benchmark"}],
    }  # fmt: skip


def grant(issuer: str, client_id: str, scope: str, key: rsa.RSAPrivateKey, kid: str) -> str:
    now = int(time.time())
    claims = {"aud": issuer, "iss": client_id, "scope": scope, "iat": now, "exp": now + 120}
    claims["jti"] = str(uuid.uuid4())
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def start(directory: Path, port: int, with_state: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", SERVE, "serve", "--port", str(port)]
    command += ["--world", str(directory / "world.json")]
    if with_state:
        command += ["--state", str(directory / "state.json")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/jwk", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return process
    process.kill()
    raise SystemExit("the emulator did not start")


async def timed(
    count: int, concurrency: int, send: Callable[[int], Awaitable[httpx.Response]]
) -> float:
    """Seconds spent sending `count` requests, at most `concurrency` at a time."""
    queue = iter(range(count))

    async def worker() -> None:
        for index in queue:
            response = await send(index)
            if response.status_code != 200:
                raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def token_rate(
    http: httpx.AsyncClient, requests: int, concurrency: int, sign: Callable[[], str]
) -> float:
    """POST /token rate; grants are signed in batches outside the timed part (iat must be fresh)."""
    elapsed, done = 0.0, 0
    while done < requests:
        grants = [sign() for _ in range(min(CHUNK, requests - done))]
        forms = [{"grant_type": JWT_BEARER, "assertion": assertion} for assertion in grants]

        async def send(index: int, batch: list[dict[str, str]] = forms) -> httpx.Response:
            return await http.post("/token", data=batch[index])

        elapsed += await timed(len(grants), concurrency, send)
        done += len(grants)
    return requests / elapsed


async def measure(base: str, requests: int, concurrency: int, admin_key: rsa.RSAPrivateKey) -> None:
    issuer = f"{base}/"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        assertion = grant(issuer, "bench-admin", ADMIN_SCOPES, admin_key, "bench-admin")
        admin = await http.post("/token", data={"grant_type": JWT_BEARER, "assertion": assertion})
        headers = {"Authorization": f"Bearer {admin.json()['access_token']}"}
        client_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        client_id = await setup_clients(http, headers, client_key)
        seconds = await timed(
            requests, concurrency, lambda _: http.get("/api/v1/clients", headers=headers)
        )
        tokens = await token_rate(
            http,
            requests,
            concurrency,
            lambda: grant(issuer, client_id, "acme:bench", client_key, "bench"),
        )
    print(f"GET  /api/v1/clients (20 clients): {requests / seconds:8.0f} requests/s")
    print(f"POST /token (new grant each time): {tokens:8.0f} requests/s")


async def setup_clients(
    http: httpx.AsyncClient, headers: dict[str, str], key: rsa.RSAPrivateKey
) -> str:
    body = {
        "integration_type": "maskinporten",
        "description": "benchmark client",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": [JWT_BEARER],
        "scopes": ["acme:bench"],
    }
    ids = [
        (await http.post("/api/v1/clients", json=body, headers=headers)).json()["client_id"]
        for _ in range(20)
    ]
    jwk = {**public_members(key.public_key()), "kid": "bench", "use": "sig", "alg": "RS256"}
    await http.post(f"/api/v1/clients/{ids[0]}/jwks", json={"keys": [jwk]}, headers=headers)
    return str(ids[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=8, help="connections in parallel")
    parser.add_argument("--state", action="store_true", help="persist state to a file (0600)")
    arguments = parser.parse_args()
    admin_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        (directory / "world.json").write_text(json.dumps(world(admin_key)))
        port = free_port()
        process = start(directory, port, arguments.state)
        try:
            mode = "state file" if arguments.state else "in-memory state"
            print(f"emulator on 127.0.0.1:{port}, {mode}, {arguments.requests} requests "
                  f"per endpoint, {arguments.concurrency} connections")  # fmt: skip
            asyncio.run(
                measure(
                    f"http://127.0.0.1:{port}", arguments.requests, arguments.concurrency, admin_key
                )
            )
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
