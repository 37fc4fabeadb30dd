"""Small building blocks: organisation numbers, wire formats, clocks, settings, JWS parsing."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import EmulatorSettings, FrozenClock, SystemClock
from mpctl.emulator.jws import MalformedJwsError, parse_compact, sign, signature_is_valid
from mpctl.emulator.keys import b64url_decode, thumbprint
from mpctl.emulator.orgno import check_digit, is_valid_orgno
from mpctl.emulator.wire import (
    JSON_CONTENT_TYPE,
    encode_json,
    error_timestamp,
    json_response,
    parse_timestamp,
    v1_timestamp,
)


@pytest.mark.parametrize("orgno", ["313367002", "991825827", "974760673", "960885406", "910753614"])
def test_real_orgnos_are_valid(orgno: str) -> None:
    assert is_valid_orgno(orgno)


@pytest.mark.parametrize(
    "value", ["313367003", "31336700", "3133670021", "31336700a", " 313367002", 313367002, None]
)
def test_invalid_orgnos(value: object) -> None:
    assert not is_valid_orgno(value)


def test_remainder_one_has_no_check_digit() -> None:
    assert check_digit("00000006") is None
    assert not is_valid_orgno("000000060")


def test_v1_timestamps() -> None:
    assert v1_timestamp(1_748_772_000.1234) == "2025-06-01T10:00:00.123Z"
    assert error_timestamp(1_751_445_000.5) == "2025-07-02T08:30:00.500000000Z"
    assert parse_timestamp("2021-09-15T10:20:43.354+02:00") == pytest.approx(1_631_694_043.354)
    assert parse_timestamp("2025-06-01T10:00:00.000Z") == 1_748_772_000.0


def test_json_is_sorted_and_typed() -> None:
    assert encode_json({"b": 1, "a": {"d": 2, "c": "ø"}}) == '{"a":{"c":"ø","d":2},"b":1}'.encode()
    response = json_response({"x": 1}, status_code=201)
    assert response.headers["content-type"] == JSON_CONTENT_TYPE
    assert json.loads(bytes(response.body)) == {"x": 1}


def test_clocks() -> None:
    clock = FrozenClock(100.0)
    clock.advance(5)
    assert clock.now() == 105.0
    clock.set(7.0)
    assert clock.now() == 7.0
    assert SystemClock().now() > 1_700_000_000


@pytest.mark.parametrize("issuer", ["http://x.local", "ftp://x.local/", "x.local/"])
def test_issuer_must_be_an_http_url_with_slash(issuer: str) -> None:
    with pytest.raises(ValueError, match="issuer"):
        EmulatorSettings(issuer=issuer)


def test_settings_reject_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        EmulatorSettings.model_validate({"issuer": "http://x/", "colour": "blue"})


def test_jws_round_trip_and_tampering(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    key = rsa_keys[0]
    token = sign({"a": 1}, key, {"alg": "RS384", "kid": "k"})
    parsed = parse_compact(token)
    assert parsed.claims == {"a": 1}
    assert signature_is_valid(parsed, key.public_key())
    assert not signature_is_valid(parsed, rsa_keys[1].public_key())
    tampered = parse_compact(token[: token.index(".")] + ".eyJhIjoyfQ." + token.rsplit(".", 1)[1])
    assert not signature_is_valid(tampered, key.public_key())


@pytest.mark.parametrize("token", ["a.b", "a.b.c.d", "e30.W10.", "bm90anNvbg.e30."])
def test_malformed_jws(token: str) -> None:
    with pytest.raises(MalformedJwsError):
        parse_compact(token)


def test_b64url_is_strict() -> None:
    assert b64url_decode("AQAB") == b"\x01\x00\x01"
    for bad in ("AQ+B", "AQ/B", "AQAB=", "A"):
        with pytest.raises(ValueError, match=r"base64|Incorrect|Invalid|character|length"):
            b64url_decode(bad)


def test_thumbprint_matches_rfc7638_example() -> None:
    n = int.from_bytes(
        b64url_decode(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
            "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
            "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
            "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "big",
    )
    public = rsa.RSAPublicNumbers(65537, n).public_key()
    assert thumbprint(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
