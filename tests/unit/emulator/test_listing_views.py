"""The client listing joins each record's kept, encoded view: what it shows is always now.

A record keeps its encoded view until one of its fields is assigned or rolled back. Each test
primes the kept views with a listing, changes clients through the API (an update, a
deactivation, a write that fails halfway and is rolled back, a key upload) and compares the
next listing, byte for byte, with views built afresh from a copy of the state that keeps
nothing.
"""

from __future__ import annotations

from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator.core import Emulator
from mpctl.emulator.journal import Journal
from mpctl.emulator.representations import client_view, encoded_client_view
from mpctl.emulator.state import EmulatorState
from mpctl.emulator.wire import encode_json

from .conftest import Harness
from .test_transactions import fails_without_trace
from .worlds import client_body

SCOPES = ["altinn:instances.read"]


def fresh_listing(emu: Harness, *, inactive: bool = False) -> bytes:
    """The acme admin's listing built from a copy of the state that keeps no view."""
    emulator = cast(Emulator, cast(Any, emu.app).emulator)
    with emulator.store.read() as state:
        copy = EmulatorState.model_validate(state.persistable())
    shown = sorted(copy.clients.values(), key=lambda c: (c.created, c.client_id))
    return encode_json(
        [
            client_view(c)
            for c in shown
            if c.client_orgno == "313367002" and not c.admin and (c.active or inactive)
        ]
    )


async def listing(emu: Harness, *, inactive: bool = False) -> bytes:
    response = await emu.api("GET", "/clients", params={"inactive": "true"} if inactive else {})
    assert response.status_code == 200, response.text
    return response.content


async def test_an_updated_or_deactivated_client_is_listed_as_it_is_now(emu: Harness) -> None:
    first = str((await emu.register_client(SCOPES))["client_id"])
    second = str((await emu.register_client(SCOPES))["client_id"])
    assert await listing(emu) == fresh_listing(emu)
    changed = client_body(SCOPES, description="changed after the first listing")
    assert (await emu.api("PUT", f"/clients/{first}", json=changed)).status_code == 200
    assert (await emu.api("DELETE", f"/clients/{second}")).status_code == 200
    now = await listing(emu)
    assert b"changed after the first listing" in now
    assert second.encode() not in now
    assert now == fresh_listing(emu)
    assert await listing(emu, inactive=True) == fresh_listing(emu, inactive=True)


async def test_a_write_rolled_back_leaves_the_listing_as_before(emu: Harness) -> None:
    client_id = str((await emu.register_client(SCOPES))["client_id"])
    before = await listing(emu)
    changed = client_body(SCOPES, description="never kept")
    await fails_without_trace(emu, "PUT", f"/clients/{client_id}", json=changed)
    assert await listing(emu) == before == fresh_listing(emu)


async def test_a_key_upload_changes_the_listing_only_as_the_record_does(
    emu: Harness, client_key: rsa.RSAPrivateKey
) -> None:
    client_id = str((await emu.register_client(SCOPES))["client_id"])
    await listing(emu)
    assert (await emu.register_key(client_id, client_key)).status_code == 200
    assert await listing(emu) == fresh_listing(emu)


async def test_a_kept_view_is_dropped_by_an_assignment_and_by_its_rollback(emu: Harness) -> None:
    client_id = str((await emu.register_client(SCOPES))["client_id"])
    emulator = cast(Emulator, cast(Any, emu.app).emulator)
    with emulator.store.read() as state:
        record = state.clients[client_id]
    original = encoded_client_view(record)
    journal = Journal()
    with journal.recording():
        record.description = "assigned"
    assert b'"description":"assigned"' in encoded_client_view(record)
    journal.rollback()
    assert encoded_client_view(record) == original
