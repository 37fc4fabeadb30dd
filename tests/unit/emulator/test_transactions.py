"""Write transactions of the in-memory store: a failed request leaves no half-applied change.

Every mutating API family runs through the real ASGI app with a store that fails each write
after the handler's last change (so everything the handler changed must be undone), plus a
natural failure (a token refused after its grant was recorded), concurrent requests, and the
journal's own undo of every dict and attribute change.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator.core import Emulator
from mpctl.emulator.fault_rules import FaultRule
from mpctl.emulator.journal import Journal, JournaledDict
from mpctl.emulator.state import EmulatorState, Organisation
from mpctl.emulator.store import MemoryStateStore, StateStore

from .conftest import Harness
from .worlds import ACME, ADMIN_SCOPES, BRREG, CUSTOMER, DELEGATED, STRANGER, client_body, jwk


class HalfwayFailureError(Exception):
    """Raised by `FailingWrites` after the handler made its changes."""


def dumped(state: EmulatorState) -> str:
    """The whole state as JSON, in its dicts' own order (a rollback must keep that too)."""
    return json.dumps(state.persistable())


class FailingWrites:
    """The emulator's real store, except that an armed write fails when its block ends.

    It records the state before and at the end of the handler's block, so a test can check
    that the handler did change something (else the test could not fail) and that all of it
    was undone.
    """

    def __init__(self, inner: StateStore) -> None:
        self.inner = inner
        self.armed = False
        self.seen: list[tuple[str, str]] = []

    def read(self) -> AbstractContextManager[EmulatorState]:
        return self.inner.read()

    @contextmanager
    def write(self) -> Iterator[EmulatorState]:
        with self.inner.write() as state:
            armed, self.armed = self.armed, False
            before = dumped(state) if armed else ""
            yield state
            if armed:
                self.seen.append((before, dumped(state)))
                raise HalfwayFailureError


def emulator_of(emu: Harness) -> Emulator:
    return cast(Emulator, cast(Any, emu.app).emulator)


def failing_store(emu: Harness) -> FailingWrites:
    emulator = emulator_of(emu)
    store = FailingWrites(emulator.store)
    emulator.store = store
    return store


def current(emu: Harness) -> str:
    with emulator_of(emu).store.read() as state:
        return dumped(state)


async def fails_without_trace(
    emu: Harness, method: str, path: str, admin: str = "acme-admin", **kwargs: Any
) -> None:
    """The request's write fails at its end: the state is as before, though it had changed."""
    store = failing_store(emu)
    headers = await emu.admin_headers(ADMIN_SCOPES, admin)
    before = current(emu)
    store.armed = True
    with pytest.raises(HalfwayFailureError):
        await emu.http.request(method, path, headers=headers, **kwargs)
    [(at_start, at_end)] = store.seen
    assert at_start == before
    assert at_end != before, "the handler changed nothing, so this test proves nothing"
    assert current(emu) == before
    emulator_of(emu).store = store.inner


async def new_client(emu: Harness, **fields: Any) -> str:
    return str((await emu.register_client(["altinn:instances.read"], **fields))["client_id"])


async def test_client_create_replace_delete_leave_no_trace(emu: Harness) -> None:
    await fails_without_trace(
        emu, "POST", "/api/v1/clients", json=client_body(["altinn:instances.read"])
    )
    client_id = await new_client(emu)
    path = f"/api/v1/clients/{client_id}"
    changed = client_body(["altinn:instances.read"], description="changed")
    await fails_without_trace(emu, "PUT", path, json=changed)
    await fails_without_trace(emu, "DELETE", path)


async def test_secret_rotation_leaves_no_trace(emu: Harness) -> None:
    body = {
        "integration_type": "api_klient",
        "description": "secret based",
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"],
        "scopes": ["brreg:open"],
    }
    created = (await emu.api("POST", "/clients", json=body)).json()
    emu.clock.advance(5)
    await fails_without_trace(emu, "POST", f"/api/v1/clients/{created['client_id']}/secret")


async def test_key_uploads_and_deletes_leave_no_trace(
    emu: Harness, client_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    client_id = await new_client(emu)
    path = f"/api/v1/clients/{client_id}/jwks"
    await fails_without_trace(emu, "POST", path, json={"keys": [jwk(client_key, "k1")]})
    assert (await emu.register_key(client_id, client_key, "k1")).status_code == 200
    both = {"keys": [jwk(client_key, "k1"), jwk(other_key, "k2")]}
    await fails_without_trace(emu, "PUT", path, json=both)
    await fails_without_trace(emu, "DELETE", path)


async def test_scope_writes_leave_no_trace(emu: Harness) -> None:
    body = {"prefix": "acme", "subscope": "x", "description": "ACME API"}
    await fails_without_trace(emu, "POST", "/api/v1/scopes", json=body)
    assert (await emu.api("POST", "/scopes", json=body)).status_code == 200
    named = {"scope": "acme:x"}
    changed = {**body, "description": "new"}
    await fails_without_trace(emu, "PUT", "/api/v1/scopes", json=changed, params=named)
    await fails_without_trace(emu, "DELETE", "/api/v1/scopes", params=named)


async def test_access_grants_and_revocations_leave_no_trace(emu: Harness) -> None:
    path = f"/api/v1/scopes/access/{STRANGER}"
    named = {"scope": "brreg:closed"}
    await fails_without_trace(emu, "PUT", path, admin="brreg-admin", params=named)
    granted = await emu.api("PUT", f"/scopes/access/{STRANGER}", admin="brreg-admin", params=named)
    assert granted.status_code == 200
    await fails_without_trace(emu, "DELETE", path, admin="brreg-admin", params=named)


async def test_token_requests_leave_no_trace(emu: Harness, admin_key: rsa.RSAPrivateKey) -> None:
    """A token request records its grant (replay cache) and may create the signing key."""
    store = failing_store(emu)
    before = current(emu)
    store.armed = True
    with pytest.raises(HalfwayFailureError):
        await emu.token(emu.grant("acme-admin", "idporten:dcr.read", admin_key))
    assert store.seen[0][1] != before
    assert current(emu) == before


async def test_refused_token_does_not_consume_its_grant(
    emu: Harness, admin_key: rsa.RSAPrivateKey
) -> None:
    """The grant is recorded as used before the scope check refuses it: that must be undone."""
    await emu.admin_headers()
    before = current(emu)
    refused = await emu.token(emu.grant("acme-admin", "brreg:closed", admin_key))
    assert refused.status_code == 400
    assert current(emu) == before


async def test_control_writes_leave_no_trace(emu: Harness) -> None:
    faults = {"faults": [{"kind": "error", "path": "/nothing"}]}
    delegation = {"consumer_orgno": CUSTOMER, "supplier_orgno": BRREG, "scope": DELEGATED}
    organisation = {"orgno": "974761076", "name": "Ny AS", "prefixes": ["ny"]}
    await fails_without_trace(emu, "PUT", "/_emulator/faults", json=faults)
    await fails_without_trace(emu, "POST", "/_emulator/clock", json={"advance": 60})
    await fails_without_trace(emu, "POST", "/_emulator/delegations", json=delegation)
    await fails_without_trace(emu, "POST", "/_emulator/organisations", json=organisation)
    await new_client(emu)
    await fails_without_trace(emu, "POST", "/_emulator/reset")


async def test_fault_counters_are_undone_with_a_failed_write(emu: Harness) -> None:
    faults = {"faults": [{"kind": "latency", "path": "/api/v1/clients", "latency_ms": 0}]}
    assert (await emu.control("PUT", "/faults", json=faults)).status_code == 200
    store = failing_store(emu)
    store.armed = True  # the fault injector's write (it counts the request) fails
    with pytest.raises(HalfwayFailureError):
        await emu.http.get("/api/v1/clients")
    emulator_of(emu).store = store.inner
    rules = (await emu.control("GET", "/faults")).json()["faults"]
    assert (rules[0]["seen"], rules[0]["hits"]) == (0, 0)


async def test_concurrent_requests_through_the_app_stay_consistent(emu: Harness) -> None:
    """Creates, rejected creates and key uploads interleave; only the accepted ones count."""
    headers = await emu.admin_headers()

    async def create(valid: bool) -> int:
        body = client_body(["altinn:instances.read" if valid else "brreg:closed"])
        response = await emu.http.post("/api/v1/clients", json=body, headers=headers)
        return response.status_code

    statuses = await asyncio.gather(*(create(valid=i % 3 != 0) for i in range(30)))
    assert sorted(statuses) == [200] * 20 + [400] * 10
    listed = (await emu.http.get("/api/v1/clients", headers=headers)).json()
    with emulator_of(emu).store.read() as state:
        stored = [c for c in state.clients.values() if not c.admin]
        counter = state.id_counter
    assert len(listed) == len(stored) == counter == 20
    assert len({c["client_id"] for c in listed}) == 20


def test_threads_writing_at_once_keep_only_the_successful_writes() -> None:
    """Each thread's failures are undone by its own journal, never another thread's."""
    store = MemoryStateStore(EmulatorState)

    def write(orgno: str, *, fail: bool) -> None:
        with store.write() as state:
            state.organisations[orgno] = Organisation(orgno=orgno, name="x")
            state.id_counter += 1
            if fail:
                raise HalfwayFailureError

    def work(thread: int) -> None:
        for turn in range(40):
            with suppress(HalfwayFailureError):
                write(f"{thread}-{turn}", fail=turn % 2 == 1)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.read() as state:
        assert state.id_counter == 80
        expected = {f"{n}-{turn}" for n in range(4) for turn in range(0, 40, 2)}
        assert set(state.organisations) == expected


def test_journal_undoes_every_kind_of_dict_change() -> None:
    table: JournaledDict[str, int] = JournaledDict({"a": 1, "b": 2, "c": 3})
    journal = Journal()
    with journal.recording():
        table["a"] = 10
        table["new"] = 4
        del table["b"]
        table.pop("c")
        table.pop("missing", None)
        table.setdefault("d", 5)
        table.update({"a": 11}, e=6)
        table |= {"f": 7}
        table.popitem()
        table.clear()
        table["g"] = 8
    assert table == {"g": 8}
    journal.rollback()
    assert list(table.items()) == [("a", 1), ("b", 2), ("c", 3)]


def test_journal_undoes_attribute_and_list_changes_and_only_while_recording() -> None:
    state = EmulatorState(organisations={ACME: Organisation(orgno=ACME, name="ACME AS")})
    journal = Journal()
    for items in state.top_level_lists():
        journal.remember_list(items)
    with journal.recording():
        state.id_counter = 7
        state.organisations[ACME].name = "Renamed"
        state.used_grants = {"grant": 1.0}
        state.used_grants["other"] = 2.0
        state.faults.append(FaultRule(kind="error"))
    state.clock_offset = 3.0  # not recording: stays
    journal.rollback()
    assert (state.id_counter, state.organisations[ACME].name) == (0, "ACME AS")
    assert (state.used_grants, state.faults, state.clock_offset) == ({}, [], 3.0)
    assert isinstance(state.used_grants, JournaledDict)


def test_assigned_dicts_become_journaled() -> None:
    state = EmulatorState()
    state.used_grants = {"a": 1.0}
    assert isinstance(state.used_grants, JournaledDict)
    assert isinstance(state.model_copy(deep=True).clients, JournaledDict)
    assert isinstance(EmulatorState.model_validate_json(state.model_dump_json()).access,
                      JournaledDict)  # fmt: skip
