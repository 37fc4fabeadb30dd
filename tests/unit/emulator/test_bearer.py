"""Bearer tokens of the self-service API: only this emulator's own, unexpired tokens count."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import EmulatorSettings, create_app
from mpctl.emulator.keys import KeySource

from .conftest import EmulatorFactory, Harness


async def test_missing_token_is_401_with_a_challenge(emu: Harness) -> None:
    response = await emu.http.get("/api/v1/clients")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    errors = response.json()["errors"]
    assert errors[0]["errorMessage"] == "Full authentication is required to access this resource"


async def test_only_the_bearer_scheme_counts(emu: Harness) -> None:
    token = (await emu.admin_headers())["Authorization"].split()[1]
    for scheme in ("Basic", "Token", ""):
        headers = {"Authorization": f"{scheme} {token}".strip()}
        assert (await emu.http.get("/api/v1/clients", headers=headers)).status_code == 401
    headers = {"Authorization": f"bearer {token}"}
    assert (await emu.http.get("/api/v1/clients", headers=headers)).status_code == 200


async def test_expired_token_is_401(emu: Harness) -> None:
    headers = await emu.admin_headers()
    assert (await emu.http.get("/api/v1/clients", headers=headers)).status_code == 200
    emu.clock.advance(121)
    assert (await emu.http.get("/api/v1/clients", headers=headers)).status_code == 401


async def test_forged_token_is_401(emu: Harness, other_key: rsa.RSAPrivateKey) -> None:
    real = (await emu.admin_headers())["Authorization"].split()[1]
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": header["kid"]})
    response = await emu.http.get("/api/v1/clients", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_token_of_another_emulator_is_401(make_emulator: EmulatorFactory) -> None:
    first, second = await make_emulator(), await make_emulator()
    headers = await first.admin_headers()
    await second.admin_headers()
    assert (await second.http.get("/api/v1/clients", headers=headers)).status_code == 401


async def test_access_token_of_a_normal_client_lacks_admin_scopes(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client = await emu.register_client(["altinn:instances.read"])
    await emu.register_key(client["client_id"], client_key)
    token = await emu.access_token(
        client["client_id"], "altinn:instances.read", client_key, kid="k1"
    )
    response = await emu.http.get("/api/v1/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


async def test_token_for_another_issuer_is_401_even_with_the_same_key(
    make_emulator: EmulatorFactory, tmp_path: Path, key_source: KeySource
) -> None:
    local = await make_emulator(state=True)
    headers = await local.admin_headers()
    other_issuer = EmulatorSettings(
        issuer="http://127.0.0.1:8089/",
        world=local.settings.world,
        state_path=tmp_path / "state.json",
    )
    app = create_app(other_issuer, clock=local.clock, key_source=key_source)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as http:
        assert (await http.get("/jwk")).json() == (await local.http.get("/jwk")).json()
        assert (await http.get("/api/v1/clients", headers=headers)).status_code == 401
