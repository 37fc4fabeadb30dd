"""State persistence: atomic 0600 writes, reload across processes, failed writes leave no trace."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from mpctl.emulator.state import EmulatorState, Organisation, SigningKey
from mpctl.emulator.store import FileStateStore, MemoryStateStore
from mpctl.errors import UserError
from mpctl.files import temporary_path, write_atomically

from .conftest import EmulatorFactory


def fresh() -> EmulatorState:
    return EmulatorState()


def add_org(state: EmulatorState, orgno: str) -> None:
    state.organisations[orgno] = Organisation(orgno=orgno, name=f"Org {orgno}")


def test_file_is_created_0600_without_leftovers(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path / "state.json", fresh)
    with store.write() as state:
        add_org(state, "313367002")
    assert stat.S_IMODE((tmp_path / "state.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state.json.lock").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


class _CoarseStatStore(FileStateStore):
    """A file system whose stat cannot tell versions apart (inode reuse, coarse mtime): only
    the generation counter in the lock file shows that another process wrote."""

    def _file_signature(self) -> tuple[int, int, int]:
        return (0, 0, 0)


@pytest.mark.parametrize("store_type", [FileStateStore, _CoarseStatStore])
def test_second_store_sees_the_first_ones_writes(
    tmp_path: Path, store_type: type[FileStateStore]
) -> None:
    first = store_type(tmp_path / "state.json", fresh)
    second = store_type(tmp_path / "state.json", fresh)
    with first.write() as state:
        add_org(state, "313367002")
    with second.read() as state:
        assert set(state.organisations) == {"313367002"}
    with second.write() as state:
        add_org(state, "910753614")
    with first.read() as state:
        assert set(state.organisations) == {"313367002", "910753614"}


def test_failed_write_is_not_committed(tmp_path: Path) -> None:
    def fail_halfway(store: FileStateStore | MemoryStateStore) -> None:
        with store.write() as state:
            add_org(state, "313367002")
            raise RuntimeError("handler failed halfway")

    for store in (FileStateStore(tmp_path / "state.json", fresh), MemoryStateStore(fresh)):
        with pytest.raises(RuntimeError, match="halfway"):
            fail_halfway(store)
        with store.read() as state:
            assert state.organisations == {}


def test_seeder_runs_only_when_there_is_no_file(tmp_path: Path) -> None:
    calls = []

    def seeder() -> EmulatorState:
        calls.append(1)
        state = EmulatorState()
        add_org(state, "313367002")
        return state

    with FileStateStore(tmp_path / "state.json", seeder).read() as state:
        assert "313367002" in state.organisations
    with FileStateStore(tmp_path / "state.json", seeder).read():
        pass
    assert calls == [1]


def test_unreadable_state_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{ truncated")
    with (
        pytest.raises(UserError, match="unreadable"),
        FileStateStore(tmp_path / "state.json", fresh).read(),
    ):
        pass


def _add_many(path: str, first: int, count: int) -> None:
    store = FileStateStore(Path(path), fresh)
    for number in range(first, first + count):
        with store.write() as state:
            state.id_counter += 1
            add_org(state, f"{number:09d}")


def test_concurrent_processes_lose_no_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_add_many, args=(str(path), n * 100, 10)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    with FileStateStore(path, fresh).read() as state:
        assert state.id_counter == 40
        assert len(state.organisations) == 40


def test_write_atomically_replaces_with_the_given_mode(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "key.pem"
    write_atomically(target, b"first")
    os.chmod(target, 0o644)
    write_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_atomically(tmp_path / "cert.pem", b"public", mode=0o644)
    assert stat.S_IMODE((tmp_path / "cert.pem").stat().st_mode) == 0o644
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_state_repr_and_dumps_hide_private_keys() -> None:
    state = EmulatorState(signing_key=SigningKey(kid="k", private_key_pem=SecretStr("SECRET-PEM")))
    assert "SECRET-PEM" not in repr(state)
    assert "SECRET-PEM" not in state.model_dump_json()
    assert "SECRET-PEM" not in str(state.without_secrets())
    assert state.persistable()["signing_key"]["private_key_pem"] == "SECRET-PEM"


async def test_the_app_persists_to_the_state_file(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    first = await make_emulator(state=True)
    created = await first.register_client(["altinn:instances.read"])
    second = await make_emulator(state=True)
    listed = await second.api("GET", "/clients")
    assert [c["client_id"] for c in listed.json()] == [created["client_id"]]
    text = (tmp_path / "state.json").read_text()
    assert "BEGIN PRIVATE KEY" in text
    assert stat.S_IMODE((tmp_path / "state.json").stat().st_mode) == 0o600


async def test_an_emulator_that_never_writes_its_state_file_reads_it_once_and_keeps_changes(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    sharing = await make_emulator(state=True)
    earlier = await sharing.register_client(["altinn:instances.read"])
    before = (tmp_path / "state.json").read_bytes()
    owner = await make_emulator(state=True, state_file_writes="never")
    later = await owner.register_client(["altinn:instances.read"])
    listed = await owner.api("GET", "/clients")
    assert {c["client_id"] for c in listed.json()} == {earlier["client_id"], later["client_id"]}
    assert (tmp_path / "state.json").read_bytes() == before


def test_a_stale_temporary_file_cannot_widen_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    stale = temporary_path(target)
    stale.write_bytes(b"left behind by a crash")
    stale.chmod(0o644)
    write_atomically(target, b"secret")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not stale.exists()
