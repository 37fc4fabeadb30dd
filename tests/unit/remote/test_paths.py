"""Path parameters cannot escape their segment; JWKS uploads are public keys only."""

from __future__ import annotations

from typing import Any

import pytest

from mpctl.remote._paths import client_id_segment, orgno_segment, public_keys
from mpctl.remote.errors import UnsafeRequestError


def test_nine_ascii_digits_pass() -> None:
    assert orgno_segment("313367002") == "313367002"


@pytest.mark.parametrize(
    "orgno",
    [
        "..",
        "../scopes",
        "31336700",
        "3133670021",
        "313367002\n",
        "31336700 ",
        "３１３３６７００２",  # full-width digits match \d but are not an org number
        "313%36700",
        "",
    ],
)
def test_anything_else_is_refused_before_a_path_exists(orgno: str) -> None:
    with pytest.raises(UnsafeRequestError):
        orgno_segment(orgno)


def test_client_ids_are_one_encoded_segment() -> None:
    assert client_id_segment("0f6c1f4e-3b8a") == "0f6c1f4e-3b8a"
    assert client_id_segment("oidc_difi_jb_test") == "oidc_difi_jb_test"
    assert client_id_segment("a/../b") == "a%2F..%2Fb"
    assert client_id_segment("a?b#c") == "a%3Fb%23c"


@pytest.mark.parametrize("client_id", ["", ".", ".."])
def test_dot_segments_are_refused(client_id: str) -> None:
    with pytest.raises(UnsafeRequestError):
        client_id_segment(client_id)


PUBLIC = {"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "e": "AQAB", "n": "abc"}


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k"])
def test_private_members_are_refused_and_not_echoed(member: str) -> None:
    key: dict[str, Any] = {**PUBLIC, member: "SECRET-MATERIAL"}
    with pytest.raises(UnsafeRequestError) as caught:
        public_keys([key])
    assert "SECRET-MATERIAL" not in str(caught.value)
    assert member in str(caught.value)


def test_empty_set_is_refused_with_the_delete_hint() -> None:
    with pytest.raises(UnsafeRequestError) as caught:
        public_keys([])
    assert caught.value.hint is not None
    assert "DELETE" in caught.value.hint


def test_public_keys_pass_through_as_plain_dicts() -> None:
    assert public_keys([PUBLIC]) == [PUBLIC]


def test_keys_registered_before_v1_get_use_sig() -> None:
    old = {k: v for k, v in PUBLIC.items() if k != "use"}
    assert public_keys([old]) == [{**old, "use": "sig"}]
    assert public_keys([{**PUBLIC, "use": "enc"}])[0]["use"] == "enc"
