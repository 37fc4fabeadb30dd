"""The composed cassettes load and replay through plain httpx with vcrpy, and the emulator
speaks the same shapes they document (see cassettes/README.md)."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
from ruamel.yaml import YAML

from .digdir_http import DigdirTarget
from .test_contract_clients import assert_v1_error

CASSETTES = Path(__file__).parent / "cassettes"
API = "https://api.test.samarbeid.digdir.no/api/v1"
TOKEN = "https://test.maskinporten.no/token"
FORM = {
    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "assertion": "<composed-grant>",
}
HEADERS = {"Authorization": "Bearer <composed-admin-token>"}

replay = vcr.VCR(cassette_library_dir=str(CASSETTES), record_mode="none")


def test_every_cassette_is_listed_in_the_readme() -> None:
    readme = (CASSETTES / "README.md").read_text()
    assert "not recorded from" in readme
    for cassette in CASSETTES.glob("*.yaml"):
        assert f"`{cassette.name}`" in readme


def test_clients_list_has_both_timestamp_styles() -> None:
    with replay.use_cassette("digdir_clients_list_mixed_timestamps.yaml"):
        clients = httpx.get(f"{API}/clients", headers=HEADERS).json()
    legacy, current = clients
    assert legacy["created"].endswith("+02:00")
    assert current["created"].endswith(".000Z")
    for client in clients:
        assert datetime.fromisoformat(client["created"].replace("Z", "+00:00")).tzinfo is not None


def test_old_key_lacks_use() -> None:
    path = f"{API}/clients/0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10/jwks"
    with replay.use_cassette("digdir_jwks_old_key_without_use.yaml"):
        body = httpx.get(path, headers=HEADERS).json()
    old, new = body["keys"]
    assert "use" not in old
    assert new["use"] == "sig"
    assert all(isinstance(key["exp"], int) for key in body["keys"])


def test_scopes_all_has_microsecond_timestamps() -> None:
    with replay.use_cassette("digdir_scopes_all_microseconds.yaml"):
        scopes = httpx.get(f"{API}/scopes/all").json()
    assert re.search(r"\.\d{6}Z$", scopes[0]["last_updated"])
    assert scopes[0]["description#en"] == "Read instances"
    assert scopes[1]["delegation_source"] == "https://tt02.altinn.no/"


def test_v1_error_body() -> None:
    with replay.use_cassette("digdir_clients_create_v1_error.yaml"):
        response = httpx.post(f"{API}/clients", json={"scopes": []}, headers=HEADERS)
    assert response.status_code == 400
    errors = assert_v1_error(response.json(), 400)
    assert errors[0]["fieldIdentifier"] == "scopes"
    assert response.json()["error"].startswith(", ")


def test_token_success() -> None:
    with replay.use_cassette("maskinporten_token_success.yaml"):
        body = httpx.post(TOKEN, data=FORM).json()
    assert body["token_type"] == "Bearer"
    payload = body["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["consumer"]["ID"] == "0192:987654325"
    assert claims["aud"] == "unspecified"


def test_token_errors_replay_in_order() -> None:
    with replay.use_cassette("maskinporten_token_errors.yaml") as cassette:
        responses = [httpx.post(TOKEN, data=FORM) for _ in range(4)]
        assert cassette.all_played
    assert [r.status_code for r in responses] == [400, 400, 403, 400]
    codes = [r.json().get("error_uri", "").rsplit("/", 1)[-1] for r in responses]
    assert codes == ["MP-121", "MP-200", "MP-250", ""]
    assert responses[2].json()["error"] == "forbidden"
    assert "(correlation id: " in responses[3].json()["error_description"]


def test_unknown_requests_are_not_sent_anywhere() -> None:
    with (
        replay.use_cassette("maskinporten_token_success.yaml"),
        pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException),
    ):
        httpx.get(f"{API}/clients")


def _top_level_keys(cassette: str) -> set[str]:
    interactions = _load(cassette)["interactions"]
    return set(json.loads(interactions[0]["response"]["body"]["string"]))


def _load(cassette: str) -> Any:
    return YAML(typ="safe", pure=True).load((CASSETTES / cassette).read_text())


@pytest.mark.usefixtures("emulator_only")
async def test_emulator_errors_have_the_documented_shapes(target: DigdirTarget) -> None:
    api_error = await target.call("POST", "clients", json={"integration_type": "maskinporten"})
    assert set(api_error.json()) == _top_level_keys("digdir_clients_create_v1_error.yaml")
    token_error = await target.token("a.b.c")
    assert set(token_error.json()) == _top_level_keys("maskinporten_token_errors.yaml")
