"""Contract-test targets: the emulator in-process (always), or a real Digdir test environment.

The real target needs MPCTL_CONTRACT_BASE_URL (API base, ending in /api/v1),
MPCTL_CONTRACT_ISSUER, MPCTL_CONTRACT_ADMIN_CLIENT_ID, MPCTL_CONTRACT_ADMIN_CERT and
MPCTL_CONTRACT_ADMIN_KEY (PEM files), MPCTL_CONTRACT_ORGNO and MPCTL_CONTRACT_SCOPE_PREFIX;
MPCTL_CONTRACT_CONSUMER_ORGNO is optional. Without them that target is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import EmulatorSettings, create_app, issue_business_certificate

from .digdir_http import AdminCredential, DigdirTarget, x5c_of

ISSUER = "http://emulator.mpctl.local/"
ACME = "313367002"
DIGDIR = "991825827"
REAL_TARGET_VARIABLES = (
    "MPCTL_CONTRACT_BASE_URL",
    "MPCTL_CONTRACT_ISSUER",
    "MPCTL_CONTRACT_ADMIN_CLIENT_ID",
    "MPCTL_CONTRACT_ADMIN_CERT",
    "MPCTL_CONTRACT_ADMIN_KEY",
    "MPCTL_CONTRACT_ORGNO",
    "MPCTL_CONTRACT_SCOPE_PREFIX",
)

CONTRACT_WORLD: dict[str, Any] = {
    "organisations": [
        {"orgno": ACME, "name": "ACME AS", "prefixes": ["acme"]},
        {"orgno": DIGDIR, "name": "Digitaliseringsdirektoratet", "prefixes": ["altinn"]},
        {"orgno": "974760673", "name": "Brønnøysundregistrene", "prefixes": ["brreg"]},
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
        {"name": "brreg:closed", "owner_orgno": "974760673", "description": "Not granted"},
        {"name": "brreg:open", "owner_orgno": "974760673", "description": "Open",
         "accessible_for_all": True},
        {"name": "altinn:granted", "owner_orgno": DIGDIR, "description": "Granted to ACME"},
        {"name": "brreg:delegable", "owner_orgno": "974760673", "description": "Delegable",
         "delegation_source": "https://tt02.altinn.no/"},
    ],
    "access": [{"scope": "altinn:granted", "consumer_orgno": ACME}],
}  # fmt: skip


@pytest.fixture(scope="session")
def client_keys() -> list[rsa.RSAPrivateKey]:
    """Keys for clients registered by the tests (made once: RSA generation is slow)."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


@pytest.fixture(scope="session")
def emulator_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state file with the contract world, CA, signing key and admin certificate made once."""
    directory = tmp_path_factory.mktemp("contract-emulator")
    (directory / "world.json").write_text(json.dumps(CONTRACT_WORLD))
    settings = EmulatorSettings(world=directory / "world.json", state_path=directory / "state.json")
    issue_business_certificate(
        settings, ACME, directory / "admin.crt", directory / "admin.key", org_name="ACME AS"
    )
    asyncio.run(_create_signing_key(settings))
    return directory


async def _create_signing_key(settings: EmulatorSettings) -> None:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        assert (await http.get("jwk")).status_code == 200


async def _emulator_target(template: Path, workdir: Path) -> DigdirTarget:
    for name in ("world.json", "state.json", "admin.crt", "admin.key"):
        shutil.copy(template / name, workdir / name)
    settings = EmulatorSettings(
        world=workdir / "world.json", state_path=workdir / "state.json", control_enabled=True
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    return DigdirTarget(
        name="emulator",
        api=httpx.AsyncClient(transport=transport, base_url="http://emulator.test/api/v1/"),
        maskinporten=httpx.AsyncClient(transport=transport, base_url=ISSUER),
        issuer=ISSUER,
        orgno=ACME,
        scope_prefix="acme",
        consumer_orgno=DIGDIR,
        admin=_credential("acme-admin", workdir / "admin.crt", workdir / "admin.key"),
    )


def _credential(client_id: str, cert: Path, key: Path) -> AdminCredential:
    private_key = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return AdminCredential(client_id, private_key, x5c_of(cert.read_bytes()))


def _real_target() -> DigdirTarget:
    missing = [name for name in REAL_TARGET_VARIABLES if not os.environ.get(name)]
    if missing:
        pytest.skip(f"real Digdir target not configured (missing {', '.join(missing)})")
    issuer = os.environ["MPCTL_CONTRACT_ISSUER"]
    return DigdirTarget(
        name="digdir",
        api=httpx.AsyncClient(base_url=os.environ["MPCTL_CONTRACT_BASE_URL"].rstrip("/") + "/"),
        maskinporten=httpx.AsyncClient(base_url=issuer),
        issuer=issuer,
        orgno=os.environ["MPCTL_CONTRACT_ORGNO"],
        scope_prefix=os.environ["MPCTL_CONTRACT_SCOPE_PREFIX"],
        consumer_orgno=os.environ.get("MPCTL_CONTRACT_CONSUMER_ORGNO", DIGDIR),
        admin=_credential(
            os.environ["MPCTL_CONTRACT_ADMIN_CLIENT_ID"],
            Path(os.environ["MPCTL_CONTRACT_ADMIN_CERT"]),
            Path(os.environ["MPCTL_CONTRACT_ADMIN_KEY"]),
        ),
        propagation_timeout=180.0,
    )


@pytest.fixture(params=["emulator", pytest.param("digdir", marks=pytest.mark.real_digdir)])
async def target(
    request: pytest.FixtureRequest, emulator_template: Path, tmp_path: Path
) -> AsyncIterator[DigdirTarget]:
    """Each contract test runs against every configured target."""
    if request.param == "emulator":
        chosen = await _emulator_target(emulator_template, tmp_path)
    else:
        chosen = _real_target()
    yield chosen
    await chosen.api.aclose()
    await chosen.maskinporten.aclose()


@pytest.fixture
def emulator_only(target: DigdirTarget) -> None:
    """For behaviours that need a world the real environment does not have."""
    if target.name != "emulator":
        pytest.skip("needs emulator world fixtures (other organisations' scopes and grants)")


@pytest.fixture
async def own_scope(target: DigdirTarget) -> AsyncIterator[str]:
    """A fresh scope of the target organisation, deactivated afterwards."""
    subscope = f"contract.t{uuid.uuid4().hex[:10]}"
    body = {
        "prefix": target.scope_prefix,
        "subscope": subscope,
        "description": "mpctl contract test scope",
        "allowed_integration_types": ["maskinporten"],
    }
    response = await target.call("POST", "scopes", json=body)
    assert response.status_code in (200, 201), response.text
    name = f"{target.scope_prefix}:{subscope}"
    yield name
    await target.call("DELETE", "scopes", params={"scope": name})
