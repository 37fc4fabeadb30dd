"""Token endpoint refusals that need the emulator's world, clock, certificates or switches."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import Switches, issue_business_certificate
from mpctl.emulator.keys import KeySource
from mpctl.verify.catalogue import explain

from .conftest import JWT_BEARER, EmulatorFactory, Harness
from .worlds import ACME, BRREG, CUSTOMER, DELEGATED, STRANGER, TT02, base_world

AUTH_FAILED = "Invalid assertion. Client authentication failed."


def refusal(response: httpx.Response, code: str | None, status: int = 400) -> str:
    """The error description without its trace id, after checking status and error_uri."""
    assert response.status_code == status, response.text
    body = response.json()
    if code is None:
        assert "error_uri" not in body
    else:
        assert body["error_uri"] == f"http://emulator.mpctl.local/errors/{code}"
    description, _, trace = body["error_description"].rpartition(" (trace_id: ")
    assert trace.endswith(")")
    assert len(trace) == 33
    return str(description)


async def client_with_key(
    emu: Harness, key: rsa.RSAPrivateKey, scopes: list[str] | None = None
) -> str:
    client = await emu.register_client(scopes or ["altinn:instances.read"])
    assert (await emu.register_key(client["client_id"], key)).status_code == 200
    return str(client["client_id"])


def certificate_files(
    emu: Harness, key_source: KeySource, orgno: str = ACME, environment: str = "test"
) -> tuple[list[str], rsa.RSAPrivateKey]:
    """An x5c chain and key from the emulator's CA of `environment` (state file required)."""
    assert emu.settings.state_path is not None
    folder = emu.settings.state_path.parent
    cert, key = folder / f"{orgno}-{environment}.crt", folder / f"{orgno}-{environment}.key"
    issue_business_certificate(
        emu.settings,
        orgno,
        cert,
        key,
        environment=environment,
        clock=emu.clock,
        key_source=key_source,
    )
    der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER)
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return [base64.b64encode(der).decode()], private


@pytest.fixture
async def cert_emu(make_emulator: EmulatorFactory) -> Harness:
    return await make_emulator(state=True)


async def cert_grant(emu: Harness, x5c: object, key: rsa.RSAPrivateKey) -> httpx.Response:
    scope = "idporten:dcr.read"
    return await emu.token(emu.grant("acme-cert-admin", scope, key, kid=None, header={"x5c": x5c}))


async def test_reset_keeps_the_certificate_authority(
    cert_emu: Harness, key_source: KeySource
) -> None:
    x5c, key = certificate_files(cert_emu, key_source)
    assert (await cert_emu.control("POST", "/reset")).status_code == 200
    assert (await cert_grant(cert_emu, x5c, key)).status_code == 200


async def test_business_certificate_authenticates_admin_client(
    cert_emu: Harness, key_source: KeySource
) -> None:
    x5c, key = certificate_files(cert_emu, key_source)
    response = await cert_grant(cert_emu, x5c, key)
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["client_amr"] == "virksomhetssertifikat"
    assert claims["consumer"]["ID"] == f"0192:{ACME}"


async def test_prod_certificate_in_test_is_mp_120(cert_emu: Harness, key_source: KeySource) -> None:
    x5c, key = certificate_files(cert_emu, key_source, environment="prod")
    description = refusal(await cert_grant(cert_emu, x5c, key), "MP-120")
    assert description == f"{AUTH_FAILED} The JWT is signed with an invalid certificate."


async def test_test_certificate_in_prod_is_mp_120(
    make_emulator: EmulatorFactory, key_source: KeySource
) -> None:
    emu = await make_emulator(state=True, environment="prod")
    x5c, key = certificate_files(emu, key_source, environment="test")
    refusal(await cert_grant(emu, x5c, key), "MP-120")
    x5c, key = certificate_files(emu, key_source, environment="prod")
    assert (await cert_grant(emu, x5c, key)).status_code == 200


async def test_expired_certificate_is_mp_120(cert_emu: Harness, key_source: KeySource) -> None:
    x5c, key = certificate_files(cert_emu, key_source)
    cert_emu.clock.advance(4 * 365 * 24 * 3600)
    refusal(await cert_grant(cert_emu, x5c, key), "MP-120")


async def test_certificate_of_another_org_is_mp_122(
    cert_emu: Harness, key_source: KeySource
) -> None:
    x5c, key = certificate_files(cert_emu, key_source, orgno=BRREG)
    description = refusal(await cert_grant(cert_emu, x5c, key), "MP-122")
    assert description == f"Client orgno {ACME} does not match certificate orgno {BRREG}"
    assert [entry.id for entry in explain(description)][:1] == ["MP-122"]


@pytest.mark.parametrize("x5c", ["not-an-array", ["%%%not-base64%%%"], [], [42]])
async def test_malformed_x5c_is_mp_123(
    cert_emu: Harness, key_source: KeySource, x5c: object
) -> None:
    _, key = certificate_files(cert_emu, key_source)
    if x5c == "not-an-array":
        x5c = certificate_files(cert_emu, key_source)[0][0]
    description = refusal(await cert_grant(cert_emu, x5c, key), "MP-123")
    assert description == "Failed to extract certificate from jwt"
    assert [entry.id for entry in explain(description)][:1] == ["MP-123"]


async def test_certificate_signature_must_match_the_key(
    cert_emu: Harness, key_source: KeySource, other_key: rsa.RSAPrivateKey
) -> None:
    x5c, _ = certificate_files(cert_emu, key_source)
    description = refusal(await cert_grant(cert_emu, x5c, other_key), "MP-124")
    assert description == "Could not validate JWT Signature"
    assert [entry.id for entry in explain(description)][:1] == ["MP-124"]


async def test_registered_key_signature_keeps_the_real_body_text(
    emu: Harness, client_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key)
    response = await emu.token(emu.grant(client_id, "altinn:instances.read", other_key, kid="k1"))
    assert refusal(response, "MP-124") == f"{AUTH_FAILED} Invalid JWT signature."


async def test_neither_kid_nor_x5c_is_mp_123(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    response = await emu.token(
        emu.grant("acme-cert-admin", "idporten:dcr.read", client_key, kid=None)
    )
    refusal(response, "MP-123")


async def test_kid_for_a_client_without_keys(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    response = await emu.token(emu.grant("acme-cert-admin", "idporten:dcr.read", client_key))
    assert refusal(response, None) == f"{AUTH_FAILED} Unknown key identifier (kid) for client."


async def test_expired_key_is_mp_121(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    client_id = await client_with_key(emu, client_key)
    emu.clock.advance(365 * 24 * 3600 + 1)
    response = await emu.token(emu.grant(client_id, "altinn:instances.read", client_key, kid="k1"))
    assert refusal(response, "MP-121") == f"{AUTH_FAILED} Expired key."


async def test_key_works_until_its_expiry(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    client_id = await client_with_key(emu, client_key)
    emu.clock.advance(365 * 24 * 3600 - 200)
    response = await emu.token(emu.grant(client_id, "altinn:instances.read", client_key, kid="k1"))
    assert response.status_code == 200


@pytest.mark.parametrize("alg", ["HS256", "none", "PS256"])
async def test_algorithms_outside_rs256_384_512_are_mp_011(
    emu: Harness, client_key: rsa.RSAPrivateKey, alg: str
) -> None:
    client_id = await client_with_key(emu, client_key)
    good = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1")
    header = base64.urlsafe_b64encode(f'{{"alg":"{alg}","kid":"k1"}}'.encode()).rstrip(b"=")
    forged = header.decode() + good[good.index(".") :]
    assert (
        refusal(await emu.token(forged), "MP-011") == "Invalid assertion. Invalid parameter value"
    )


@pytest.mark.parametrize("alg", ["RS384", "RS512"])
async def test_rs384_and_rs512_grants_are_accepted(
    emu: Harness, client_key: rsa.RSAPrivateKey, alg: str
) -> None:
    client_id = await client_with_key(emu, client_key)
    grant = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1", alg=alg)
    assert (await emu.token(grant)).status_code == 200


@pytest.mark.parametrize("assertion", ["garbage", "a.b.c", "e30.e30"])
async def test_malformed_assertion_is_mp_011(emu: Harness, assertion: str) -> None:
    refusal(await emu.token(assertion), "MP-011")


@pytest.mark.parametrize("missing", ["iat", "exp", "scope"])
async def test_missing_required_claims_are_mp_011(
    emu: Harness, client_key: rsa.RSAPrivateKey, missing: str
) -> None:
    client_id = await client_with_key(emu, client_key)
    scope = None if missing == "scope" else "altinn:instances.read"
    claims: dict[str, Any] = {} if missing == "scope" else {missing: None}
    grant = emu.grant(client_id, scope, client_key, kid="k1", **claims)
    refusal(await emu.token(grant), "MP-011")


async def test_grant_without_jti_is_replay_checked_by_hash(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key)
    grant = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1", jti=None)
    assert (await emu.token(grant)).status_code == 200
    assert refusal(await emu.token(grant), "MP-012") == "Grant is used before"


async def test_same_jti_in_a_new_grant_is_a_replay(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key)
    first = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1", jti="same")
    assert (await emu.token(first)).status_code == 200
    emu.clock.advance(1)
    again = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1", jti="same")
    refusal(await emu.token(again), "MP-012")


async def test_iat_within_ten_seconds_is_accepted(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key)
    now = int(emu.clock.now())
    for iat in (now + 10, now - 10):
        grant = emu.grant(
            client_id, "altinn:instances.read", client_key, kid="k1", iat=iat, exp=iat + 120
        )
        assert (await emu.token(grant)).status_code == 200


async def test_iat_eleven_seconds_ahead_is_refused(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key)
    iat = int(emu.clock.now()) + 11
    grant = emu.grant(
        client_id, "altinn:instances.read", client_key, kid="k1", iat=iat, exp=iat + 100
    )
    assert refusal(await emu.token(grant), None) == "Issue time is after now"


async def test_unknown_client_text_is_client_not_found(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    response = await emu.token(emu.grant("nobody", "altinn:instances.read", client_key))
    assert refusal(response, "MP-100") == f"{AUTH_FAILED} Client not found."


async def test_deactivated_client_is_mp_100(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    client_id = await client_with_key(emu, client_key)
    assert (await emu.api("DELETE", f"/clients/{client_id}")).status_code == 200
    grant = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1")
    refusal(await emu.token(grant), "MP-100")


async def test_non_maskinporten_client_is_mp_100(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey, admin_key: rsa.RSAPrivateKey
) -> None:
    world = base_world(admin_key)
    world["clients"] = [{"client_id": "web-client", "client_orgno": ACME, "description": "web",
                         "integration_type": "api_klient", "scopes": ["brreg:open"],
                         "jwks": [{"kid": "k1", **_members(client_key)}]}]  # fmt: skip
    emu = await make_emulator(world)
    refusal(await emu.token(emu.grant("web-client", "brreg:open", client_key, kid="k1")), "MP-100")


async def test_scope_not_allowed_for_maskinporten_is_mp_201(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey, admin_key: rsa.RSAPrivateKey
) -> None:
    world = base_world(admin_key)
    world["clients"] = [{"client_id": "legacy", "client_orgno": BRREG, "description": "old",
                         "scopes": ["brreg:users"],
                         "jwks": [{"kid": "k1", **_members(client_key)}]}]  # fmt: skip
    emu = await make_emulator(world)
    response = await emu.token(emu.grant("legacy", "brreg:users", client_key, kid="k1"))
    description = refusal(response, "MP-201")
    assert description == (
        "Token request contains scopes with integration types only allowed for user login"
    )
    assert [entry.id for entry in explain(description)][:1] == ["MP-201"]


def _members(key: rsa.RSAPrivateKey) -> dict[str, str]:
    from mpctl.emulator.keys import public_members

    members = public_members(key.public_key())
    return {"n": members["n"], "e": members["e"]}


async def test_inactive_scope_is_mp_200(emu: Harness, client_key: rsa.RSAPrivateKey) -> None:
    scope = await _own_scope(emu)
    client_id = await client_with_key(emu, client_key, [scope])
    await emu.api("DELETE", "/scopes", params={"scope": scope})
    response = await emu.token(emu.grant(client_id, scope, client_key, kid="k1"))
    assert (
        refusal(response, "MP-200") == f"Token request contains invalid scopes for client, {scope}"
    )


async def _own_scope(emu: Harness, subscope: str = "api.read") -> str:
    body = {"prefix": "acme", "subscope": subscope, "description": "own"}
    assert (await emu.api("POST", "/scopes", json=body)).status_code == 200
    return f"acme:{subscope}"


async def test_accessible_scope_not_on_the_client_is_mp_200(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key)
    grant = emu.grant(client_id, "brreg:private", client_key, kid="k1")
    assert "brreg:private" in refusal(await emu.token(grant), "MP-200")


async def test_admin_scopes_are_for_admin_clients_only(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key)
    grant = emu.grant(client_id, "idporten:dcr.read", client_key, kid="k1")
    refusal(await emu.token(grant), "MP-200")


async def test_accessible_for_all_scope_needs_no_registration(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key)
    grant = emu.grant(client_id, "brreg:open", client_key, kid="k1")
    response = await emu.token(grant)
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == 60


async def test_revoked_access_is_mp_250(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey, admin_key: rsa.RSAPrivateKey
) -> None:
    world = base_world(admin_key)
    world["access"][2]["state"] = "DENIED"
    world["clients"] = [{"client_id": "granted-once", "client_orgno": ACME, "description": "x",
                         "scopes": ["brreg:private"],
                         "jwks": [{"kid": "k1", **_members(client_key)}]}]  # fmt: skip
    emu = await make_emulator(world)
    response = await emu.token(emu.grant("granted-once", "brreg:private", client_key, kid="k1"))
    text = refusal(response, "MP-250", status=403)
    assert text == "Consumer has not been granted access to the scope brreg:private."
    assert response.json()["error"] == "forbidden"


async def test_delegation_scope_without_consumer_org_is_mp_250(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key, [DELEGATED])
    response = await emu.token(emu.grant(client_id, DELEGATED, client_key, kid="k1"))
    refusal(response, "MP-250", status=403)


async def test_delegated_token_names_consumer_supplier_and_source(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key, [DELEGATED])
    grant = emu.grant(client_id, DELEGATED, client_key, kid="k1", consumer_org=CUSTOMER)
    response = await emu.token(grant)
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["consumer"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{CUSTOMER}"}
    assert claims["supplier"] == {"authority": "iso6523-actorid-upis", "ID": f"0192:{ACME}"}
    assert claims["delegation_source"] == TT02


async def test_missing_altinn_delegation_is_mp_251(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    await emu.api(
        "PUT", f"/scopes/access/{STRANGER}", params={"scope": DELEGATED}, admin="brreg-admin"
    )
    client_id = await client_with_key(emu, client_key, [DELEGATED])
    grant = emu.grant(client_id, DELEGATED, client_key, kid="k1", consumer_org=STRANGER)
    text = refusal(await emu.token(grant), "MP-251", status=403)
    assert text == (
        f"Consumer {STRANGER} has not delegated access to the scope {DELEGATED} to supplier {ACME}."
    )


async def test_delegation_from_another_altinn_does_not_count(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    await emu.api(
        "PUT", f"/scopes/access/{STRANGER}", params={"scope": DELEGATED}, admin="brreg-admin"
    )
    production = {"consumer_orgno": STRANGER, "supplier_orgno": ACME, "scope": DELEGATED,
                  "delegation_source": "https://www.altinn.no/"}  # fmt: skip
    assert (await emu.control("POST", "/delegations", json=production)).status_code == 200
    client_id = await client_with_key(emu, client_key, [DELEGATED])
    grant = emu.grant(client_id, DELEGATED, client_key, kid="k1", consumer_org=STRANGER)
    refusal(await emu.token(grant), "MP-251", status=403)


async def test_delegation_needs_the_consumer_to_have_access(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = await client_with_key(emu, client_key, [DELEGATED])
    grant = emu.grant(client_id, DELEGATED, client_key, kid="k1", consumer_org=STRANGER)
    refusal(await emu.token(grant), "MP-250", status=403)


@pytest.mark.parametrize(
    ("scope", "consumer"), [(DELEGATED, ACME), ("altinn:instances.read", CUSTOMER)]
)
async def test_consumer_org_must_be_another_org_and_a_delegation_scope(
    emu: Harness, client_key: rsa.RSAPrivateKey, scope: str, consumer: str
) -> None:
    client_id = await client_with_key(emu, client_key, [DELEGATED, "altinn:instances.read"])
    grant = emu.grant(client_id, scope, client_key, kid="k1", consumer_org=consumer)
    response = await emu.token(grant)
    assert response.json()["error"] == "invalid_request"
    assert refusal(response, None) == (
        "Validation of JWT claim failed: The combination consumer_org in claim "
        "and delegation scope on client is invalid"
    )


async def test_admin_scopes_cannot_be_delegated(emu: Harness) -> None:
    grant = emu.grant("acme-admin", "idporten:dcr.read", emu.admin_key, consumer_org=CUSTOMER)
    response = await emu.token(grant)
    assert response.json()["error"] == "invalid_request"
    assert refusal(response, None).startswith("Validation of JWT claim failed")


async def test_client_lifetime_below_120_is_used(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client = await emu.register_client(["altinn:instances.read"], access_token_lifetime=45)
    await emu.register_key(client["client_id"], client_key)
    grant = emu.grant(client["client_id"], "altinn:instances.read", client_key, kid="k1")
    body = (await emu.token(grant)).json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert body["expires_in"] == claims["exp"] - claims["iat"] == 45


@pytest.mark.parametrize("consumer_org", ["12345678", "910753615", 910753614])
async def test_malformed_consumer_org_is_mp_011(
    emu: Harness, client_key: rsa.RSAPrivateKey, consumer_org: object
) -> None:
    client_id = await client_with_key(emu, client_key, [DELEGATED])
    grant = emu.grant(client_id, DELEGATED, client_key, kid="k1", consumer_org=consumer_org)
    refusal(await emu.token(grant), "MP-011")


async def test_forbidden_status_switch(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey
) -> None:
    emu = await make_emulator(switches=Switches(forbidden_status=400))
    client_id = await client_with_key(emu, client_key, [DELEGATED])
    response = await emu.token(emu.grant(client_id, DELEGATED, client_key, kid="k1"))
    refusal(response, "MP-250", status=400)


async def test_new_key_waits_for_the_propagation_delay(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey
) -> None:
    emu = await make_emulator(switches=Switches(key_propagation_delay_seconds=90))
    client_id = await client_with_key(emu, client_key)
    grant = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1")
    assert "Unknown key identifier" in refusal(await emu.token(grant), None)
    emu.clock.advance(90)
    grant = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1")
    assert (await emu.token(grant)).status_code == 200


async def test_reposted_key_keeps_its_propagation(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey
) -> None:
    emu = await make_emulator(switches=Switches(key_propagation_delay_seconds=90))
    client_id = await client_with_key(emu, client_key)
    emu.clock.advance(90)
    assert (await emu.register_key(client_id, client_key)).status_code == 200
    grant = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1")
    assert (await emu.token(grant)).status_code == 200


async def test_single_element_aud_array_switch(
    make_emulator: EmulatorFactory, client_key: rsa.RSAPrivateKey
) -> None:
    strict = await make_emulator()
    lenient = await make_emulator(switches=Switches(aud_accepts_single_element_array=True))
    for emu, expected in ((strict, 400), (lenient, 200)):
        client_id = await client_with_key(emu, client_key)
        aud = ["http://emulator.mpctl.local/"]
        grant = emu.grant(client_id, "altinn:instances.read", client_key, kid="k1", aud=aud)
        assert (await emu.token(grant)).status_code == expected


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials", "assertion": "x"}, "unsupported_grant_type"),
        ({"grant_type": JWT_BEARER}, "invalid_request"),
    ],
)
async def test_token_request_form(emu: Harness, form: dict[str, str], error: str) -> None:
    response = await emu.http.post("/token", data=form)
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_token_request_must_be_form_encoded(emu: Harness) -> None:
    response = await emu.http.post("/token", json={"grant_type": JWT_BEARER, "assertion": "x"})
    assert response.json()["error"] == "invalid_request"
