"""Emulator test fixtures: RSA keys made once per session and an in-process emulator harness."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import EmulatorSettings, FrozenClock, Switches, create_app
from mpctl.emulator.keys import KeySource
from mpctl.emulator.vocabulary import Environment

from .worlds import ADMIN_SCOPES, base_world, client_body, jwk

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ISSUER = "http://emulator.mpctl.local/"
START = 1_780_000_000.0


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(6)]


@pytest.fixture(scope="session")
def key_source(rsa_keys: list[rsa.RSAPrivateKey]) -> KeySource:
    """Hands out the session keys in turn, so emulators never generate RSA keys in tests."""
    pool = itertools.cycle(rsa_keys[3:])
    return lambda: next(pool)


@pytest.fixture(scope="session")
def admin_key(rsa_keys: list[rsa.RSAPrivateKey]) -> rsa.RSAPrivateKey:
    return rsa_keys[0]


@pytest.fixture(scope="session")
def client_key(rsa_keys: list[rsa.RSAPrivateKey]) -> rsa.RSAPrivateKey:
    return rsa_keys[1]


@pytest.fixture(scope="session")
def other_key(rsa_keys: list[rsa.RSAPrivateKey]) -> rsa.RSAPrivateKey:
    return rsa_keys[2]


class Harness:
    """One in-process emulator with a frozen clock, and the calls tests make against it."""

    def __init__(
        self,
        settings: EmulatorSettings,
        clock: FrozenClock,
        admin_key: rsa.RSAPrivateKey,
        key_source: KeySource,
    ) -> None:
        self.settings = settings
        self.app = create_app(settings, clock=clock, key_source=key_source)
        self.clock = clock
        self.admin_key = admin_key
        transport = httpx.ASGITransport(app=self.app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://emulator.test")

    def grant(
        self,
        client_id: str,
        scope: str | None,
        key: rsa.RSAPrivateKey,
        *,
        kid: str | None = "admin-key",
        header: dict[str, Any] | None = None,
        alg: str = "RS256",
        **claims: Any,
    ) -> str:
        now = int(self.clock.now())
        body = {"iss": client_id, "aud": ISSUER, "scope": scope, "iat": now, "exp": now + 120}
        body["jti"] = str(uuid.uuid4())
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        headers = {"kid": kid} if kid is not None else {}
        headers.update(header or {})
        return jwt.encode(body, key, algorithm=alg, headers=headers)

    async def token(self, assertion: str) -> httpx.Response:
        form = {"grant_type": JWT_BEARER, "assertion": assertion}
        return await self.http.post("/token", data=form)

    async def access_token(
        self, client_id: str, scope: str, key: rsa.RSAPrivateKey, **kw: Any
    ) -> str:
        response = await self.token(self.grant(client_id, scope, key, **kw))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def admin_headers(
        self, scopes: list[str] | None = None, client_id: str = "acme-admin"
    ) -> dict[str, str]:
        scope = " ".join(scopes or ADMIN_SCOPES)
        token = await self.access_token(client_id, scope, self.admin_key)
        return {"Authorization": f"Bearer {token}"}

    async def api(
        self,
        method: str,
        path: str,
        *,
        scopes: list[str] | None = None,
        admin: str = "acme-admin",
        **kwargs: Any,
    ) -> httpx.Response:
        headers = await self.admin_headers(scopes, admin)
        return await self.http.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    async def register_client(self, scopes: list[str], **fields: Any) -> dict[str, Any]:
        response = await self.api("POST", "/clients", json=client_body(scopes, **fields))
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def register_key(
        self, client_id: str, key: rsa.RSAPrivateKey, kid: str = "k1"
    ) -> httpx.Response:
        body = {"keys": [jwk(key, kid)]}
        return await self.api("POST", f"/clients/{client_id}/jwks", json=body)

    async def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"/_emulator{path}", **kwargs)


EmulatorFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_emulator(
    tmp_path: Path, key_source: KeySource, admin_key: rsa.RSAPrivateKey
) -> AsyncIterator[EmulatorFactory]:
    """Build emulators: `await make_emulator(world=..., switches=Switches(...), state=True)`."""
    harnesses: list[Harness] = []
    counter = itertools.count()

    async def make(
        world: dict[str, Any] | None = None,
        *,
        switches: Switches | None = None,
        state: Path | bool = False,
        control: bool = True,
        environment: Environment = "test",
        seed: int = 0,
        clock: FrozenClock | None = None,
        state_file_writes: Literal["every_write", "never"] = "every_write",
    ) -> Harness:
        world_path = tmp_path / f"world-{next(counter)}.json"
        world_path.write_text(json.dumps(base_world(admin_key) if world is None else world))
        state_path = tmp_path / "state.json" if state is True else state or None
        settings = EmulatorSettings(
            world=world_path,
            state_path=state_path,
            state_file_writes=state_file_writes,
            switches=switches,
            control_enabled=control,
            environment=environment,
            seed=seed,
        )
        frozen = clock or FrozenClock(START)
        harness = Harness(settings, frozen, admin_key, key_source)
        harnesses.append(harness)
        return harness

    yield make
    for harness in harnesses:
        await harness.http.aclose()


@pytest.fixture
async def emu(make_emulator: EmulatorFactory) -> Harness:
    """The default emulator: base world, in-memory state, control surface on."""
    return await make_emulator()
