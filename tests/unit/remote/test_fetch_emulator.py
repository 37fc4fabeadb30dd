"""`fetch` against the emulator: one complete snapshot, read concurrently, or an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpctl.model import ObservedState
from mpctl.remote import ServerError, UnsafeRequestError, fetch
from tests.conftest import EXAMPLE_MANIFESTS
from tests.unit.remote.emulator_world import (
    ACME,
    CUSTOMER,
    FOREIGN_CLIENT,
    LEGACY_CLIENT,
    NORDLYS,
    RETIRED_CLIENT,
    EmulatorWorld,
    InFlightCounter,
    make_template,
)


async def _fetch(emulator: EmulatorWorld) -> ObservedState:
    async with emulator.remote() as remote:
        return await fetch(remote, orgno=ACME)


async def test_snapshot_of_the_world(emulator: EmulatorWorld) -> None:
    state = await _fetch(emulator)
    assert set(state.clients) == {LEGACY_CLIENT}  # deactivated and foreign clients are not listed
    assert RETIRED_CLIENT not in state.clients
    assert FOREIGN_CLIENT not in state.clients
    assert set(state.jwks) == {LEGACY_CLIENT}
    legacy_key = state.jwks[LEGACY_CLIENT].keys[0]
    assert legacy_key.use is None
    assert legacy_key.exp is not None
    assert set(state.scopes) == {"acme:invoices.read", "acme:old"}
    assert state.scopes["acme:old"].active is False
    invoices = state.scopes["acme:invoices.read"]
    assert invoices.created is not None
    assert invoices.created.utcoffset() is not None
    assert [(a.consumer_orgno, a.state) for a in state.access["acme:invoices.read"]] == [
        (CUSTOMER, "DENIED"),
        (NORDLYS, "APPROVED"),
    ]
    assert state.access["acme:old"] == ()


async def test_consumable_and_public_scopes(emulator: EmulatorWorld) -> None:
    state = await _fetch(emulator)
    assert state.consumable_scopes == {
        "acme:invoices.read",  # own and active
        "altinn:granted",  # APPROVED for ACME
        "brreg:private",  # APPROVED for ACME, though not public
        "brreg:open",  # accessible_for_all
    }
    assert "brreg:private" not in state.public_scopes
    assert state.public_scopes["brreg:delegable"].delegation_source == "https://tt02.altinn.no/"


async def test_same_remote_same_snapshot(emulator: EmulatorWorld) -> None:
    first, second = await _fetch(emulator), await _fetch(emulator)
    assert first == second
    assert list(first.clients) == sorted(first.clients)
    assert list(first.public_scopes) == sorted(first.public_scopes)


async def test_reads_after_the_client_list_run_concurrently(emulator: EmulatorWorld) -> None:
    await emulator.set_faults({"kind": "latency", "path": "/api/v1/*", "latency_ms": 30})
    counter = InFlightCounter(emulator.transport)
    async with emulator.remote(transport=counter) as remote:
        await fetch(remote, orgno=ACME)
        requests = remote.requests_made
    assert counter.most >= 4  # jwks, scopes, access/all and scopes/all at once
    assert requests == 1 + 1 + 1 + 1 + 1 + 1 + 2  # token, clients, jwks, 3 lists, 2 access lists


@pytest.mark.usefixtures("no_waits")
async def test_one_failing_read_fails_the_whole_fetch(emulator: EmulatorWorld) -> None:
    await emulator.set_faults(
        {"kind": "error", "path": "/api/v1/scopes/access", "methods": ["GET"], "status": 500}
    )
    with pytest.raises(ServerError) as caught:
        await _fetch(emulator)
    assert caught.value.path.startswith("/api/v1/scopes/access?scope=acme:")


async def test_orgno_is_checked_first(emulator: EmulatorWorld) -> None:
    async with emulator.remote() as remote:
        with pytest.raises(UnsafeRequestError):
            await fetch(remote, orgno="31336700")
        assert remote.requests_made == 0


async def test_the_shipped_example_world(tmp_path: Path) -> None:
    """The `local` environment's world: its hand-made client has a key without `use`."""
    template = tmp_path / "template"
    template.mkdir()
    make_template(template, world_file=EXAMPLE_MANIFESTS / "emulator-world.yaml")
    workdir = tmp_path / "run"
    workdir.mkdir()
    emulator = EmulatorWorld.copy_of(template, workdir)
    state = await _fetch(emulator)
    manual = state.jwks["5f3c9e2a-7b1d-4e8f-a6c4-0d2b9f1e7a35"].keys[0]
    assert manual.use is None
    assert "brreg:enhetsregisteret.read" in state.consumable_scopes
    assert "brreg:reelle/rapporteringspliktig" not in state.consumable_scopes
