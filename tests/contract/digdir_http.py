"""A deliberately small, plain httpx client for Digdir's API, used only by the contract tests.

It shares nothing with `mpctl.remote` (the product's client) so the contract suite can judge
both the emulator and mpctl's client independently. It builds JWT grants with PyJWT, gets
admin tokens with the business certificate (`x5c`), and calls the API.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ADMIN_SCOPES = (
    "idporten:dcr.read",
    "idporten:dcr.write",
    "idporten:dcr.modify",
    "idporten:scopes.read",
    "idporten:scopes.write",
)


def public_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid}
    return {**jwk, "n": b64(numbers.n), "e": b64(numbers.e), **extra}


def client_body(scopes: list[str], **fields: Any) -> dict[str, Any]:
    """A Maskinporten client registration as the reference's minimal example (§3.2)."""
    return {
        "integration_type": "maskinporten",
        "application_type": "web",
        "client_name": "mpctl contract test",
        "description": "mpctl contract test client (safe to delete)",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": [JWT_BEARER],
        "scopes": scopes,
        **fields,
    }


def x5c_of(certificate_pem: bytes) -> list[str]:
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    der = certificate.public_bytes(serialization.Encoding.DER)
    return [base64.b64encode(der).decode()]


@dataclass(frozen=True)
class AdminCredential:
    """The admin client and its business certificate (x5c) and private key."""

    client_id: str
    private_key: rsa.RSAPrivateKey
    x5c: list[str]

    def __repr__(self) -> str:
        return f"AdminCredential(client_id={self.client_id!r})"


@dataclass
class DigdirTarget:
    """Where the contract suite sends requests, and what that place can do."""

    name: str
    api: httpx.AsyncClient
    maskinporten: httpx.AsyncClient
    issuer: str
    orgno: str
    scope_prefix: str
    consumer_orgno: str
    admin: AdminCredential
    propagation_timeout: float = 0.0
    clock: Callable[[], float] = time.time
    _tokens: dict[str, str] = field(default_factory=dict)

    def grant(
        self,
        client_id: str,
        scope: str,
        key: rsa.RSAPrivateKey,
        *,
        headers: dict[str, Any],
        alg: str = "RS256",
        **claims: Any,
    ) -> str:
        """A JWT grant; claims set to None are left out."""
        now = int(self.clock())
        body: dict[str, Any] = {
            "aud": self.issuer,
            "iss": client_id,
            "scope": scope,
            "iat": now,
            "exp": now + 120,
            "jti": str(uuid.uuid4()),
        }
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key, algorithm=alg, headers=headers)

    async def token(self, assertion: str) -> httpx.Response:
        return await self.maskinporten.post(
            "token", data={"grant_type": JWT_BEARER, "assertion": assertion}
        )

    async def token_after_propagation(self, make_assertion: Callable[[], str]) -> httpx.Response:
        """Ask for a token, retrying while a new client or key has not propagated yet."""
        deadline = time.monotonic() + self.propagation_timeout
        while True:
            response = await self.token(make_assertion())
            pending = (
                "Unknown key identifier" in response.text or "Client not found" in response.text
            )
            if response.status_code == 200 or not pending or time.monotonic() > deadline:
                return response
            await asyncio.sleep(5)

    async def admin_token(self, scopes: tuple[str, ...] = ADMIN_SCOPES) -> str:
        scope = " ".join(scopes)
        if scope not in self._tokens:
            assertion = self.grant(
                self.admin.client_id, scope, self.admin.private_key, headers={"x5c": self.admin.x5c}
            )
            response = await self.token(assertion)
            assert response.status_code == 200, response.text
            self._tokens[scope] = response.json()["access_token"]
        return self._tokens[scope]

    async def call(
        self,
        method: str,
        path: str,
        *,
        scopes: tuple[str, ...] | None = ADMIN_SCOPES,
        **kwargs: Any,
    ) -> httpx.Response:
        """Call the self-service API; `scopes=None` sends no token at all."""
        headers = dict(kwargs.pop("headers", {}))
        if scopes is not None:
            headers["Authorization"] = f"Bearer {await self.admin_token(scopes)}"
        return await self.api.request(method, path.lstrip("/"), headers=headers, **kwargs)

    async def create_client(self, scopes: list[str], **fields: Any) -> dict[str, Any]:
        response = await self.call("POST", "clients", json=client_body(scopes, **fields))
        assert response.status_code in (200, 201), response.text
        return dict(response.json())
