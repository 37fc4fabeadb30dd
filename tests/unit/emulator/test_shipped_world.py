"""The shipped world (`manifests/emulator-world.yaml`) supports the example project's scenario."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import EmulatorSettings, FrozenClock, create_app, issue_business_certificate
from mpctl.emulator.keys import KeySource

from .conftest import JWT_BEARER, START
from .test_world import SHIPPED
from .worlds import ADMIN_SCOPES, client_body, jwk

ISSUER = "http://emulator.mpctl.local/"


class Local:
    """The `local` environment: shipped world, state file, ACME's business certificate."""

    def __init__(self, tmp_path: Path, key_source: KeySource) -> None:
        self.clock = FrozenClock(START)
        settings = EmulatorSettings(world=SHIPPED, state_path=tmp_path / "state.json")
        cert, key = tmp_path / "admin.crt", tmp_path / "admin.key"
        issue_business_certificate(
            settings, "313367002", cert, key, clock=self.clock, key_source=key_source
        )
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        der = certificate.public_bytes(serialization.Encoding.DER)
        self.x5c = [base64.b64encode(der).decode()]
        loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        self.admin_key = loaded
        app = create_app(settings, clock=self.clock, key_source=key_source)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER)
        self.headers: dict[str, str] = {}

    def grant(
        self, iss: str, scope: str, key: rsa.RSAPrivateKey, header: dict[str, Any], **extra: Any
    ) -> str:
        now = int(self.clock.now())
        claims = {"aud": ISSUER, "iss": iss, "scope": scope, "iat": now, "exp": now + 120}
        return jwt.encode(
            {**claims, "jti": str(uuid.uuid4()), **extra}, key, "RS256", headers=header
        )

    async def token(self, assertion: str) -> httpx.Response:
        return await self.http.post(
            "token", data={"grant_type": JWT_BEARER, "assertion": assertion}
        )

    async def login(self) -> None:
        assertion = self.grant(
            "acme-admin", " ".join(ADMIN_SCOPES), self.admin_key, {"x5c": self.x5c}
        )
        response = await self.token(assertion)
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"api/v1/{path}", headers=self.headers, **kwargs)

    async def client_with_key(self, scopes: list[str], key: rsa.RSAPrivateKey) -> str:
        body = client_body(scopes)
        created = await self.api("POST", "clients", json=body)
        assert created.status_code == 200, created.text
        client_id = str(created.json()["client_id"])
        keys = {"keys": [jwk(key, "demo")]}
        assert (await self.api("POST", f"clients/{client_id}/jwks", json=keys)).status_code == 200
        return client_id


@pytest.fixture
async def local(tmp_path: Path, key_source: KeySource) -> Any:
    environment = Local(tmp_path, key_source)
    await environment.login()
    yield environment
    await environment.http.aclose()


async def test_hand_made_client_is_there_with_an_old_key(local: Local) -> None:
    clients = (await local.api("GET", "clients")).json()
    assert [c["client_name"] for c in clients] == ["ACME - manuell testklient"]
    assert clients[0]["created"] == "2024-03-14T08:12:43.354Z"
    keys = (await local.api("GET", f"clients/{clients[0]['client_id']}/jwks")).json()["keys"]
    assert "use" not in keys[0]


async def test_acme_provides_its_apis_to_its_consumers(local: Local) -> None:
    for subscope in ("invoices.read", "invoices.write", "reports/monthly"):
        body = {"prefix": "acme", "subscope": subscope, "description": "ACME API",
                "delegation_source": "https://tt02.altinn.no/"}  # fmt: skip
        assert (await local.api("POST", "scopes", json=body)).status_code == 200
    for consumer in ("910753614", "923456783", "934567897", "812345672"):
        response = await local.api(
            "PUT", f"scopes/access/{consumer}", params={"scope": "acme:invoices.read"}
        )
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("scopes", "expires_in"),
    [
        (
            ["altinn:instances.read", "altinn:instances.write", "altinn:authorization/authorize"],
            120,
        ),
        (["brreg:reelle/offentlig"], 120),
        (["lanekassen:lan/v1/saldoopplysninger"], 120),
        (["brreg:enhetsregisteret.read"], 120),
    ],
)
async def test_acme_consumes_other_apis(
    local: Local, client_key: rsa.RSAPrivateKey, scopes: list[str], expires_in: int
) -> None:
    client_id = await local.client_with_key(scopes, client_key)
    response = await local.token(
        local.grant(client_id, " ".join(scopes), client_key, {"kid": "demo"})
    )
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == expires_in


async def test_acme_acts_for_its_customer_through_altinn(
    local: Local, client_key: rsa.RSAPrivateKey
) -> None:
    scope = "brreg:reelle/rapporteringspliktig"
    client_id = await local.client_with_key([scope], client_key)
    grant = local.grant(client_id, scope, client_key, {"kid": "demo"}, consumer_org="910753614")
    response = await local.token(grant)
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["consumer"]["ID"] == "0192:910753614"
    assert claims["supplier"]["ID"] == "0192:313367002"
    assert claims["delegation_source"] == "https://tt02.altinn.no/"
