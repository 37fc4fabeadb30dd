"""The emulator as the remote for these tests: a small world, in-process via httpx.ASGITransport.

The world has ACME AS (313367002) with its own scopes (one deactivated), other organisations'
scopes (granted, denied, open to all, private, closed), two ACME clients (one registered before
the v1 API: its key has no `use`, its timestamps are `+01:00`; one deactivated) and another
organisation's client that ACME must never see.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mpctl.emulator import EmulatorSettings, create_app, issue_business_certificate
from mpctl.model.config import Environment
from mpctl.remote import HttpRemote, RetryPolicy, open_remote

ISSUER = "http://emulator.mpctl.local/"
API = "http://emulator.mpctl.local/api/v1"
ACME = "313367002"
DIGDIR = "991825827"
BRREG = "974760673"
CUSTOMER = "910753614"
NORDLYS = "923456783"
LEGACY_CLIENT = "5f3c9e2a-7b1d-4e8f-a6c4-0d2b9f1e7a35"
RETIRED_CLIENT = "acme-retired-client"
FOREIGN_CLIENT = "brreg-own-client"
LEGACY_N = (
    "tPwh-C2iaiC1apkLgeosSKlr908--gGaowvqAVyA5pA7UpbeJa9zUFBLf5O-NtAVn7zxyTBUuQ5FtCfvH9eaAEETrpjeDt"
    "RuVj_9VC6Q8RKLeQTDvR9OE_xI2NS30DFEcIlTwdYAnHQ19FlwR2mL8LD276W4CEoOXU3gycokxvMoTPdjgSNcbbFtkVzT"
    "XMS098ng8e-uYQpvbPcMTb0V6cUK2cwyQyrdGzZj5x-coyNGnArbClrqXBRRGWncG1VVQiDcmqV4jNimYV9BRKmU5knvMc"
    "njQHVmEGmUqHNvh5IE7ERo2fYrVPg0rNA7si-pYloQUwm89CeeIaM3IcmS5Q"
)


def _scope(name: str, owner: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "owner_orgno": owner,
        "description": f"{name} (remote tests)",
        "allowed_integration_types": ["maskinporten"],
        **extra,
    }


def _key(kid: str, **extra: Any) -> dict[str, Any]:
    return {"kid": kid, "alg": "RS256", "e": "AQAB", "n": LEGACY_N, **extra}


WORLD: dict[str, Any] = {
    "organisations": [
        {"orgno": ACME, "name": "ACME AS", "prefixes": ["acme"]},
        {"orgno": DIGDIR, "name": "Digitaliseringsdirektoratet", "prefixes": ["altinn"]},
        {"orgno": BRREG, "name": "Brønnøysundregistrene", "prefixes": ["brreg"]},
        {"orgno": CUSTOMER, "name": "Eksempel Kunde AS"},
        {"orgno": NORDLYS, "name": "Nordlys Regnskap AS"},
    ],
    "admin_clients": [
        {
            "client_id": "acme-admin",
            "client_orgno": ACME,
            "scopes": [
                "idporten:dcr.read",
                "idporten:dcr.write",
                "idporten:dcr.modify",
                "idporten:scopes.read",
                "idporten:scopes.write",
            ],
        }
    ],
    "scopes": [
        _scope("acme:invoices.read", ACME, created="2021-09-15T10:20:43.354+02:00"),
        _scope("acme:old", ACME, active=False),
        _scope("altinn:granted", DIGDIR),
        _scope("altinn:denied", DIGDIR),
        _scope("brreg:open", BRREG, accessible_for_all=True),
        _scope("brreg:private", BRREG, visibility="PRIVATE"),
        _scope("brreg:closed", BRREG),
        _scope("brreg:delegable", BRREG, delegation_source="https://tt02.altinn.no/"),
    ],
    "access": [
        {"scope": "acme:invoices.read", "consumer_orgno": NORDLYS},
        {"scope": "acme:invoices.read", "consumer_orgno": CUSTOMER, "state": "DENIED"},
        {"scope": "altinn:granted", "consumer_orgno": ACME},
        {"scope": "altinn:denied", "consumer_orgno": ACME, "state": "DENIED"},
        {"scope": "brreg:private", "consumer_orgno": ACME},
    ],
    "clients": [
        {
            "client_id": LEGACY_CLIENT,
            "client_orgno": ACME,
            "description": "made by hand before the v1 API",
            "scopes": ["altinn:granted"],
            "created": "2024-03-14T09:12:43.354+01:00",
            "jwks": [_key("acme-manual-2024-03", use=None)],
        },
        {
            "client_id": RETIRED_CLIENT,
            "client_orgno": ACME,
            "description": "deactivated",
            "scopes": ["altinn:granted"],
            "active": False,
            "jwks": [_key("acme-retired")],
        },
        {
            "client_id": FOREIGN_CLIENT,
            "client_orgno": BRREG,
            "description": "not ACME's",
            "scopes": ["brreg:open"],
            "jwks": [_key("brreg-key")],
        },
    ],
}


NEW_CLIENT: dict[str, Any] = {
    "integration_type": "maskinporten",
    "application_type": "web",
    "client_name": "ACME - billing - local",
    "description": "billing sync",
    "token_endpoint_auth_method": "private_key_jwt",
    "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
    "scopes": ["altinn:granted"],
}


def public_jwk(kid: str) -> dict[str, str]:
    """A public JWK (a fixed 2048-bit modulus: these tests never sign with it)."""
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "e": "AQAB", "n": LEGACY_N}


def make_template(
    directory: Path, world: dict[str, Any] | None = None, world_file: Path | None = None
) -> Path:
    """World, state (CA and signing key made) and admin certificate, written once per session.

    `world_file` (YAML, e.g. the shipped example world) is used instead of `world` when given.
    """
    if world_file is not None:
        (directory / "world.json").write_text(world_file.read_text(encoding="utf-8"))
    else:
        (directory / "world.json").write_text(json.dumps(world or WORLD), encoding="utf-8")
    settings = EmulatorSettings(world=directory / "world.json", state_path=directory / "state.json")
    issue_business_certificate(
        settings, ACME, directory / "admin.crt", directory / "admin.key", org_name="ACME AS"
    )
    with ThreadPoolExecutor(max_workers=1) as thread:  # callable from inside a running loop
        thread.submit(asyncio.run, _touch_signing_key(settings)).result()
    return directory


async def _touch_signing_key(settings: EmulatorSettings) -> None:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        assert (await http.get("jwk")).status_code == 200


ENVIRONMENT = Environment.model_validate(
    {
        "api_base_url": API,
        "issuer": ISSUER,
        "token_endpoint": f"{ISSUER}token",
        "admin": {
            "client_id": "acme-admin",
            "certificate": {"file": "admin.crt"},
            "private_key": {"file": "admin.key"},
        },
    }
)


@dataclass
class EmulatorWorld:
    """One emulator (its own copy of the state file) and ways to reach it."""

    workdir: Path
    transport: httpx.AsyncBaseTransport
    environment: Environment = ENVIRONMENT

    @classmethod
    def copy_of(cls, template: Path, workdir: Path) -> EmulatorWorld:
        for name in ("world.json", "state.json", "admin.crt", "admin.key"):
            shutil.copy(template / name, workdir / name)
        settings = EmulatorSettings(
            world=workdir / "world.json", state_path=workdir / "state.json", control_enabled=True
        )
        return cls(workdir, httpx.ASGITransport(app=create_app(settings)))

    def remote(
        self,
        *,
        concurrency: int = 16,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AbstractAsyncContextManager[HttpRemote]:
        return open_remote(
            self.environment,
            base_dir=self.workdir,
            environ={},
            access="write",
            transport=transport or self.transport,
            concurrency=concurrency,
            retry=retry,
        )

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(transport=self.transport, base_url=ISSUER) as http:
            response = await http.request(method, f"_emulator/{path}", json=body)
            assert response.is_success, response.text
            return response.json()

    async def set_faults(self, *rules: dict[str, Any]) -> None:
        await self.control("PUT", "faults", {"faults": list(rules)})

    async def fault_counts(self) -> list[tuple[int, int]]:
        """(seen, hits) per rule, in order."""
        faults = (await self.control("GET", "faults"))["faults"]
        return [(rule["seen"], rule["hits"]) for rule in faults]


class InFlightCounter(httpx.AsyncBaseTransport):
    """Wraps a transport and records the most requests it ever had in flight at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.in_flight = 0
        self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1


class LoopbackRouter(httpx.AsyncBaseTransport):
    """Sends requests for 127.0.0.1 over real sockets and everything else to `emulator`."""

    def __init__(self, emulator: httpx.AsyncBaseTransport) -> None:
        self.emulator = emulator
        self.loopback = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "127.0.0.1":
            return await self.loopback.handle_async_request(request)
        return await self.emulator.handle_async_request(request)

    async def aclose(self) -> None:
        await self.loopback.aclose()
