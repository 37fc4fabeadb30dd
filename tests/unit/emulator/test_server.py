"""`mpctl emulator serve` on loopback: a standard JWT-bearer client (PyJWT + httpx, and curl)
registers a client and a key through the API, then gets a token signed with that key."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import JWT_BEARER
from .worlds import ADMIN_SCOPES, base_world, client_body, jwk

SERVE = "from mpctl.cli.commands.emulator import app; app()"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the emulator exited early"
        try:
            httpx.get(f"{base}/.well-known/oauth-authorization-server", timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    pytest.fail("the emulator did not start within 30 s")


@pytest.fixture
def served(tmp_path: Path, admin_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """The emulator as a real server on 127.0.0.1, started through the CLI in a subprocess."""
    (tmp_path / "world.json").write_text(json.dumps(base_world(admin_key)))
    port = free_port()
    command = [sys.executable, "-c", SERVE, "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--world", str(tmp_path / "world.json"), "--control"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def grant(issuer: str, client_id: str, scope: str, key: rsa.RSAPrivateKey, kid: str) -> str:
    now = int(time.time())
    claims = {"aud": issuer, "iss": client_id, "scope": scope, "iat": now, "exp": now + 120}
    return jwt.encode(
        {**claims, "jti": str(uuid.uuid4())}, key, algorithm="RS256", headers={"kid": kid}
    )


def token(base: str, assertion: str) -> httpx.Response:
    return httpx.post(f"{base}/token", data={"grant_type": JWT_BEARER, "assertion": assertion})


def register_client_with_key(
    base: str, issuer: str, admin_key: rsa.RSAPrivateKey, client_key: rsa.RSAPrivateKey
) -> str:
    """Through the self-service API, as the admin client: a client with one key ("served-key")."""
    admin_grant = grant(issuer, "acme-admin", " ".join(ADMIN_SCOPES), admin_key, "admin-key")
    headers = {"Authorization": f"Bearer {token(base, admin_grant).json()['access_token']}"}
    body = client_body(["altinn:instances.read"])
    created = httpx.post(f"{base}/api/v1/clients", json=body, headers=headers)
    client_id = str(created.json()["client_id"])
    keys = {"keys": [jwk(client_key, "served-key")]}
    uploaded = httpx.post(f"{base}/api/v1/clients/{client_id}/jwks", json=keys, headers=headers)
    assert uploaded.status_code == 200, uploaded.text
    return client_id


def curl_token(base: str, assertion: str) -> dict[str, object]:
    output = subprocess.run(
        ["curl", "-s", "-X", "POST", f"{base}/token",
         "--data-urlencode", f"grant_type={JWT_BEARER}",
         "--data-urlencode", f"assertion={assertion}"],
        capture_output=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return dict(json.loads(output))


@pytest.mark.slow
def test_standard_client_gets_a_token_over_http(
    served: str, admin_key: rsa.RSAPrivateKey, client_key: rsa.RSAPrivateKey
) -> None:
    metadata = httpx.get(f"{served}/.well-known/oauth-authorization-server").json()
    issuer = metadata["issuer"]
    assert issuer == f"{served}/"
    client_id = register_client_with_key(served, issuer, admin_key, client_key)

    response = token(
        served, grant(issuer, client_id, "altinn:instances.read", client_key, "served-key")
    )
    assert response.status_code == 200, response.text
    access_token = response.json()["access_token"]
    signing_key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(access_token)
    claims = jwt.decode(access_token, signing_key.key, algorithms=["RS256"], audience="unspecified")
    assert claims["client_id"] == client_id
    assert claims["consumer"]["ID"] == "0192:313367002"

    if shutil.which("curl"):
        assertion = grant(issuer, client_id, "altinn:instances.read", client_key, "served-key")
        assert curl_token(served, assertion)["token_type"] == "Bearer"


@pytest.mark.slow
def test_dropped_connection_over_a_real_socket(served: str) -> None:
    fault = {"faults": [{"kind": "drop", "path": "/jwk"}]}
    assert httpx.put(f"{served}/_emulator/faults", json=fault).status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{served}/jwk")
    assert httpx.get(f"{served}/.well-known/oauth-authorization-server").status_code == 200
