"""Paths with a trailing slash answer as Digdir does (the `trailing_slash` switch), never with
a framework redirect."""

from __future__ import annotations

import pytest

from mpctl.emulator import Switches

from .conftest import EmulatorFactory, Harness


@pytest.mark.parametrize(
    "path", ["/api/v1/clients/", "/api/v1/scopes/", "/jwk/", "/token/", "/api/v1/nothing/"]
)
async def test_a_trailing_slash_is_not_found_by_default(emu: Harness, path: str) -> None:
    headers = await emu.admin_headers()
    response = await emu.http.get(path, headers=headers)
    assert response.status_code == 404, response.text
    assert "location" not in response.headers
    assert response.json()["errors"][0]["errorMessage"] == "Not Found"


async def test_the_legacy_root_clients_path_keeps_its_slash(emu: Harness) -> None:
    response = await emu.http.get("/clients/", headers=await emu.admin_headers())
    assert response.status_code == 200, response.text


async def test_same_as_without_answers_the_slashless_route(
    make_emulator: EmulatorFactory,
) -> None:
    emu = await make_emulator(switches=Switches(trailing_slash="same_as_without"))
    headers = await emu.admin_headers()
    with_slash = await emu.http.get("/api/v1/clients/", headers=headers)
    without = await emu.http.get("/api/v1/clients", headers=headers)
    assert with_slash.status_code == 200, with_slash.text
    assert with_slash.json() == without.json()
    assert (await emu.http.get("/jwk/")).status_code == 200
    assert (await emu.http.get("/api/v1/nothing/", headers=headers)).status_code == 404


async def test_no_slash_redirects_without_credentials(emu: Harness) -> None:
    response = await emu.http.post("/api/v1/clients/", json={})
    assert response.status_code == 404
    assert "location" not in response.headers
