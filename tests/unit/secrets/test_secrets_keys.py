"""Key material: generation rules, JWK shape, RFC 7638 thumbprints, kids, PEM and base64 JWK."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from typing import cast

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mpctl.model import KeyPolicy, ObservedJwk
from mpctl.model.keys import jwk_thumbprint
from mpctl.secrets import (
    KeyMaterialError,
    PrivateKey,
    choose_kid,
    dated_kid,
    from_pem,
    from_private_jwk_base64,
    generate_key,
    generate_unnamed,
    jwks_document,
    name_for_policy,
    private_jwk,
    public_jwk,
    to_pem,
    to_private_jwk_base64,
)
from mpctl.secrets.keys import key_for_record

NOW = datetime(2026, 11, 21, tzinfo=UTC)

# The sample key published in Altinn's client-setup guide (seed 001): what
# `altinn-jwks export key testklient --base64` printed. Public documentation, not a secret.
ALTINN_SAMPLE_BASE64 = (
    "eyJhbGciOiJSUzI1NiIsImQiOiJ2VC1fdldGb1N1c0tQM2p6WmhWRlc0WWthbDV2VTl1VkdGTVBKMkpIdC1EM2F6aE"
    "s5dGh5YXhUVEw0TDFkMmxzcHpxcVhqSnhxTnRXVThYd0g4RjVSM191bl9WSmF2dW5WSmZIOVFIcXZ0UDVIZWRFX0Fv"
    "dVZXTVZNWkdCaktWb2lxOURyb1VQSFZnbUJOSlhGRzhqd2lNeGlvdERzdHBxQVZkM2Q2bmFWa1pwODltSkU1MHZGTk"
    "xRM0xDeG81UHVLMFFWVktqSTR4QkxsUjhrOHI0U2JRTFRBc3BLekRHV2JMeS1VaFpXREs4S0V6UUd0ODE4NnkzSHg4"
    "RjRyaURxSDRndVNVUnlReVBnZEpYa29JSFNLUVVZTjJQRUpBd0NYeTl5aWwwcm1zdFZyb3JEQ2RZeVRKYm1pdVE0dT"
    "hmWEJsOW5JWVY0SXJqR1JBV21iOEhQMFEiLCJkcCI6Ik1iNFZHeUFMcWFLbFdFa2NtcTVRZklJRTBIR2FNQ1U2UmlM"
    "QlBkV19kVm5mXzczNDR0c1RObEpwaURmYkl1V2NOVVE4UmV5ejVLNmVaUEtuOVBhZjF2Q0k0R1dIZHJ0QVI1UDA4aH"
    "U4ZmdGbUo4ajhIM0lvWjJLR2NrM3d0UUtVZHk0U0wxVUJTYy0weU5YZjBSRjNMQUxfdkNzUWFkWDM2SjdwNHEyamVI"
    "YyIsImRxIjoiVDhzOC16cl8wUnFFMmlMdU9Hd1NaVHdqMW9CMTdQWExGbHJubzRXWXJzNFVlWFR2bzdGbU1iSWpybm"
    "tEY3NYaFpaYVN2Y19xRThoYUpob3B4akN3TGROSWUteGMyUGVDWVA2bFdJNDRhZDJFRjdiUEFJRmR6S1psY3R5ZERZ"
    "RUR6MlZkTGxGNjk4VHNESXNzb2sxOHk2SWdQV3o2UGItc21fNlpYYVgwMlpVIiwiZSI6IkFRQUIiLCJrZXlfb3BzIj"
    "pbXSwia2lkIjoidGVzdGtsaWVudC1URVNULjIwMjQtMDctMTAiLCJrdHkiOiJSU0EiLCJuIjoidmE0bHF1Znp4VUZl"
    "OVdrVG5tQTdFdkowRzZMVDFNSHBEcVNlcGlsX0Y2SlpKN3F1Rzh0NjVwU01KVnUtQkRsVk5lcDlLVGlrbW5aTGtzMG"
    "lmYUk2MHZzdlYwSmJ2VTZEdEdObUE4UU5HRkRHcExlZENoa0ExQXdCaFlmbHJ2QVhfZmFnOHRVZzJXVHh1TGNseUo0"
    "enB5T1VQM0Y3MmJmN09QNXI1WUlCS000UWtCWXdRbTJGbUs3MFJpcmhVNHZDX3d6dk9UdDV3ZUR1dV9Edng3NEZYYU"
    "IzWXRFUE0xYzV1blMtQUFrS0xiUnlyRXNENzhGaDhFTXAwWnRXU3NjZXFoT09JZURMMmlZMV9LR2s4eVQ1ODV4dk8x"
    "aWQ4aU5jUVVvQWdnSjJzNnFDQ1BBcWcxM3k1WDFfQ3R2UHZFRzE3OWgyQUpUMTAwRDg1QXREdllyMkxRIiwib3RoIj"
    "pbXSwicCI6Inl2XzNPRDQzRm5kUjExTkdjT0RpcWxMeWdWSmcydFRxNWsyZnNVeE1vWW1rWFNETkZMMG8yUVNLZWJl"
    "bUFnVV9ENzIxaG5LbGRjUVVBLWdKOFBYME1sRUNwU2hRS0JadDhaX3lVczgtMGZuWmFNU1Y2d2FjLTFnU2taejlRZC"
    "1wc0wteTdqNllXT2R4cjNtNHVkVE5tZnFibXRtTENhYUlxRklLcEdqOXdRTSIsInEiOiI3elB1THVMSTJSU2IxNGRB"
    "cDI0czd5VG1Bd0JQT01vUXJUQW1rNzdaVnNGWUUyaHc0OWFkdm5uTVYtenBmY0ZzdXl0YWhYbmwzREpILVU0LVdPSU"
    "c5aTVONG1oUjdfd3l4NWdYVVF6ZVpOSVkxdGEtTk1yTFRsZEpQM2ZLV05UYVhwVU1ucFVDd1RYdTY3dWc0d0lHNWdQ"
    "VzNyQW9tRUFDa29FQzRpM0tqUTgiLCJxaSI6IlAteDlDMEs0LWV1SDlNTnNtWFBpTXR5TUc2b2ZId0ptQ1hqRmdxT1"
    "BoZGE1c25UTHBVZGgwUnFVaE10dS11ZE1uUGowdkxNYURadW5oeEl1d0tjTUgyMGJsMXZpbUdRU0R6UUtsbkRkYk5X"
    "X2phVWl5LUJOU1lFZ1BMVnB1dDFpSzFnWWQyaENyX1BrV2hLWmV1TFh0SExJaUFPRGpuV2RzYW5STTN6VE9udyIsIn"
    "VzZSI6InNpZyIsIng1YyI6W119"
)
ALTINN_SAMPLE_N = (
    "va4lqufzxUFe9WkTnmA7EvJ0G6LT1MHpDqSepil_F6JZJ7quG8t65pSMJVu-BDlVNep9KTikmnZLks0ifaI60vsvV0"
    "JbvU6DtGNmA8QNGFDGpLedChkA1AwBhYflrvAX_fag8tUg2WTxuLclyJ4zpyOUP3F72bf7OP5r5YIBKM4QkBYwQm2F"
    "mK70RirhU4vC_wzvOTt5weDuu_Dvx74FXaB3YtEPM1c5unS-AAkKLbRyrEsD78Fh8EMp0ZtWSsceqhOOIeDL2iY1_K"
    "Gk8yT585xvO1id8iNcQUoAggJ2s6qCCPAqg13y5X1_CtvPvEG179h2AJT100D85AtDvYr2LQ"
)

# RFC 7638 §3.1 example key and its thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
    "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
    "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


def test_rfc7638_example_thumbprint() -> None:
    jwk = {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert jwk_thumbprint(jwk) == RFC7638_THUMBPRINT
    assert jwk_thumbprint(ObservedJwk.model_validate(jwk)) == RFC7638_THUMBPRINT


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-256", "x": "x", "y": "y"},
        {"kty": "RSA", "e": "AQAB"},
        {"kty": "RSA", "e": 65537, "n": RFC7638_N},
        {"kty": "oct", "e": "AQAB", "n": RFC7638_N},
    ],
)
def test_thumbprint_is_none_without_rsa_members(jwk: dict[str, object]) -> None:
    assert jwk_thumbprint(jwk) is None


def test_a_key_and_its_registered_jwk_have_one_thumbprint(keys: tuple[PrivateKey, ...]) -> None:
    """The sink records `PrivateKey.thumbprint`; the planner and apply compare it with the JWK
    Digdir returns: one function, so the two sides cannot drift apart."""
    registered = ObservedJwk.model_validate(public_jwk(keys[0]))
    assert keys[0].thumbprint == jwk_thumbprint(registered) == jwk_thumbprint(keys[0].public_jwk)
    assert keys[0].thumbprint != jwk_thumbprint(public_jwk(keys[1]))


def test_public_jwk_has_public_members_only(keys: tuple[PrivateKey, ...]) -> None:
    jwk = public_jwk(keys[0])
    assert set(jwk) == {"kty", "kid", "alg", "use", "e", "n"}
    assert jwk["use"] == "sig"
    assert jwk["e"] == "AQAB"
    assert jwk["kid"] == keys[0].kid
    assert jwks_document(keys)["keys"][1] == public_jwk(keys[1])
    assert not PRIVATE_MEMBERS & set(jwks_document(keys)["keys"][0])


def test_private_jwk_adds_the_private_members(keys: tuple[PrivateKey, ...]) -> None:
    assert set(private_jwk(keys[0])) - set(public_jwk(keys[0])) == PRIVATE_MEMBERS - {"k", "oth"}


@pytest.mark.parametrize("size", [512, 1024, 2047])
def test_generate_refuses_small_keys(size: int) -> None:
    with pytest.raises(KeyMaterialError, match="2048"):
        generate_key(kid="k", created_at=NOW, size=size)


def test_wrapper_refuses_small_existing_keys() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(KeyMaterialError, match="1024 bits"):
        PrivateKey(small, kid="k", created_at=NOW)


def test_wrapper_refuses_unknown_algorithm(keys: tuple[PrivateKey, ...]) -> None:
    with pytest.raises(KeyMaterialError, match="HS256"):
        PrivateKey(keys[0].crypto_key, kid="k", algorithm="HS256", created_at=NOW)


def test_generated_key_has_requested_size_and_algorithm() -> None:
    key = generate_key(kid="k", created_at=NOW, algorithm="RS512", size=2048)
    assert (key.size, key.algorithm, key.created_at) == (2048, "RS512", NOW)
    assert public_jwk(key)["alg"] == "RS512"


def test_repr_and_str_show_no_key_material(keys: tuple[PrivateKey, ...]) -> None:
    key = keys[0]
    shown = repr(key) + str(key) + f"{key}" + repr([key])
    assert "kid='billing-TEST.2026-11-21'" in shown
    jwk = private_jwk(key)
    for secret in (*(jwk[m] for m in ("d", "p", "q", "dp", "dq", "qi")), to_pem(key).split()[4]):
        assert secret not in shown


def test_slot_is_the_public_view(keys: tuple[PrivateKey, ...]) -> None:
    slot = keys[0].slot(promoted_at=NOW)
    assert (slot.kid, slot.thumbprint, slot.promoted_at) == (keys[0].kid, keys[0].thumbprint, NOW)


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ((), "testklient-TEST.2024-07-10"),
        (("testklient-TEST.2024-07-10",), "testklient-TEST.2024-07-10.2"),
        (
            ("testklient-TEST.2024-07-10", "testklient-TEST.2024-07-10.2"),
            "testklient-TEST.2024-07-10.3",
        ),
        (("testklient-TEST.2024-07-09",), "testklient-TEST.2024-07-10"),
    ],
)
def test_dated_kid_follows_altinn_jwks(existing: tuple[str, ...], expected: str) -> None:
    assert dated_kid("testklient", "test", date(2024, 7, 10), existing) == expected


def test_choose_kid(keys: tuple[PrivateKey, ...]) -> None:
    by_thumbprint = choose_kid(
        keys[0], kid_format="thumbprint", name="billing", environment="prod", day=date(2026, 1, 2)
    )
    assert by_thumbprint.kid == keys[0].thumbprint
    dated = choose_kid(
        keys[0],
        kid_format="name-env-date",
        name="billing",
        environment="prod",
        day=date(2026, 1, 2),
    )
    assert dated.kid == "billing-PROD.2026-01-02"
    assert dated.thumbprint == keys[0].thumbprint


def test_a_second_key_of_the_day_never_gets_a_kid_used_before(
    keys: tuple[PrivateKey, ...],
) -> None:
    """Found by review: K1 got the day's kid, K2 `.2`; with K1 revoked (compromised), K3 got
    K1's kid again. A later key of the day is named by its own thumbprint instead."""
    day = date(2026, 1, 2)

    def named(key: PrivateKey, existing: tuple[str, ...]) -> str:
        chosen = choose_kid(
            key,
            kid_format="name-env-date",
            name="billing",
            environment="prod",
            day=day,
            existing=existing,
        )
        return chosen.kid

    first = named(keys[0], ())
    second = named(keys[1], (first,))  # K1 still registered while K2 is staged
    third = named(keys[2], (second,))  # K1 revoked since: only K2 is held
    assert first == "billing-PROD.2026-01-02"
    assert second == f"{first}.{keys[1].thumbprint[:8]}"
    assert third == f"{first}.{keys[2].thumbprint[:8]}"
    assert len({first, second, third}) == 3
    assert named(keys[2], ("billing-PROD.2026-01-01",)) == first  # another day's kid: the base


def test_pem_round_trip(keys: tuple[PrivateKey, ...]) -> None:
    pem = to_pem(keys[0])
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    again = from_pem(pem, kid="x", created_at=NOW, algorithm="RS384")
    assert (again.thumbprint, again.kid, again.algorithm) == (keys[0].thumbprint, "x", "RS384")


def test_pkcs1_pem_is_accepted(keys: tuple[PrivateKey, ...]) -> None:
    pkcs1 = (
        keys[0]
        .crypto_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert from_pem(pkcs1, kid="x", created_at=NOW).thumbprint == keys[0].thumbprint


def test_bad_pem_error_does_not_quote_the_input(keys: tuple[PrivateKey, ...]) -> None:
    damaged = to_pem(keys[0])[:-200]
    with pytest.raises(KeyMaterialError) as caught:
        from_pem(damaged, kid="x", created_at=NOW)
    body = damaged.splitlines()[5]
    assert body not in str(caught.value)
    assert body not in repr(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_non_rsa_pem_is_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(KeyMaterialError, match="not an RSA key"):
        from_pem(pem, kid="x", created_at=NOW)


MEMBERS = ("p", "q", "d", "dmp1", "dmq1", "iqmp", "e", "n")


class _Numbers:
    """RSA numbers as plain attributes, any of them out of place."""

    def __init__(self, values: dict[str, int], public: dict[str, int]) -> None:
        self.p, self.q, self.d = values["p"], values["q"], values["d"]
        self.dmp1, self.dmq1, self.iqmp = values["dmp1"], values["dmq1"], values["iqmp"]
        self.public_numbers = rsa.RSAPublicNumbers(public["e"], public["n"])


def _with_member_changed(key: PrivateKey, member: str) -> rsa.RSAPrivateNumbers:
    """The key's numbers with one member moved by 2 (an odd member stays odd)."""
    numbers = key.crypto_key.private_numbers()
    values = {name: getattr(numbers, name) for name in MEMBERS[:6]}
    public = {"e": numbers.public_numbers.e, "n": numbers.public_numbers.n}
    if member in values:
        values[member] += 2
    else:
        public[member] += 2
    return cast(rsa.RSAPrivateNumbers, _Numbers(values, public))


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return b"\x02" + _der_length(len(body)) + body


def _der_length(length: int) -> bytes:
    if length < 0x80:  # DER's short form
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _pkcs1_pem(numbers: rsa.RSAPrivateNumbers) -> str:
    """PKCS#1 PEM of any numbers, written by hand: cryptography refuses to build a key whose
    p·q is not n, and such a file must still be refused on reading."""
    public = numbers.public_numbers
    members = [0, public.n, public.e, numbers.d, numbers.p, numbers.q]
    members += [numbers.dmp1, numbers.dmq1, numbers.iqmp]
    body = b"".join(_der_integer(value) for value in members)
    der = b"\x30" + _der_length(len(body)) + body
    text = base64.encodebytes(der).decode().replace("\n", "")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *lines, "-----END RSA PRIVATE KEY-----"])


def test_the_hand_written_pkcs1_pem_of_a_sound_key_is_read(keys: tuple[PrivateKey, ...]) -> None:
    pem = _pkcs1_pem(keys[0].crypto_key.private_numbers())
    assert from_pem(pem, kid="x", created_at=NOW).thumbprint == keys[0].thumbprint


@pytest.mark.parametrize("member", MEMBERS)
def test_a_key_whose_members_do_not_fit_together_is_refused_as_pem(
    keys: tuple[PrivateKey, ...], member: str
) -> None:
    """OpenSSL's full check (which also proves p and q prime, ~0.1 s a key) is not run on
    reading; mpctl's own arithmetic check refuses every member out of place."""
    pem = _pkcs1_pem(_with_member_changed(keys[0], member))
    with pytest.raises(KeyMaterialError, match="not a consistent RSA key") as caught:
        from_pem(pem, kid="x", created_at=NOW)
    assert pem.splitlines()[5] not in str(caught.value)


@pytest.mark.parametrize("member", MEMBERS)
def test_a_key_whose_members_do_not_fit_together_is_refused_as_base64_jwk(
    keys: tuple[PrivateKey, ...], member: str
) -> None:
    document = private_jwk(keys[1])
    jwk_names = {"dmp1": "dp", "dmq1": "dq", "iqmp": "qi"}
    numbers = _with_member_changed(keys[1], member)
    value = getattr(numbers, member, None)
    if value is None:
        value = getattr(numbers.public_numbers, member)
    width = (value.bit_length() + 7) // 8
    raw = value.to_bytes(width, "big")
    document[jwk_names.get(member, member)] = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    with pytest.raises(KeyMaterialError):
        from_private_jwk_base64(encoded, created_at=NOW)


def test_base64_private_jwk_round_trip(keys: tuple[PrivateKey, ...]) -> None:
    encoded = to_private_jwk_base64(keys[1])
    document = json.loads(base64.b64decode(encoded))
    assert document["kid"] == keys[1].kid
    again = from_private_jwk_base64(encoded, created_at=NOW)
    assert (again.kid, again.thumbprint) == (keys[1].kid, keys[1].thumbprint)


def test_reads_altinn_jwks_base64_export() -> None:
    key = from_private_jwk_base64(ALTINN_SAMPLE_BASE64, created_at=NOW)
    assert key.kid == "testklient-TEST.2024-07-10"
    assert public_jwk(key)["n"] == ALTINN_SAMPLE_N


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"{}").decode(), ""])
def test_bad_base64_jwk_is_refused(value: str) -> None:
    with pytest.raises(KeyMaterialError) as caught:
        from_private_jwk_base64(value, created_at=NOW)
    assert caught.value.__context__ is None


async def _new_billing_key(
    policy: KeyPolicy, now: datetime, existing_kids: tuple[str, ...] = ()
) -> PrivateKey:
    """What the stage phase does: the key made in the key pool, then named beside the kids."""
    made = await generate_unnamed(policy, now=now)
    return name_for_policy(
        made, policy, client="billing", environment="test", existing_kids=existing_kids
    )


async def test_a_new_key_follows_its_policy() -> None:
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    policy = KeyPolicy(size=2048, algorithm="RS384")
    key = await _new_billing_key(policy, now, ("billing-TEST.2026-11-21",))
    assert (key.kid, key.size, key.algorithm, key.created_at) == (
        f"billing-TEST.2026-11-21.{key.thumbprint[:8]}",
        2048,
        "RS384",
        now,
    )
    by_thumbprint = await _new_billing_key(KeyPolicy(size=2048, kid_format="thumbprint"), now)
    assert by_thumbprint.kid == by_thumbprint.thumbprint


def test_a_stored_key_is_the_one_its_record_names(keys: tuple[PrivateKey, ...]) -> None:
    """The one rule four sinks used to write each: parse, name and date the key as recorded,
    and refuse a value swapped for another key."""
    record = keys[0].slot()
    loaded = key_for_record(to_pem(keys[0]), record)
    assert (loaded.kid, loaded.thumbprint) == (record.kid, record.thumbprint)
    with pytest.raises(KeyMaterialError, match="does not match its recorded thumbprint"):
        key_for_record(to_pem(keys[1]), record)
