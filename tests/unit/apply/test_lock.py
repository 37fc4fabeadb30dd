"""The environment lock: released by its holder, broken by its exact id, taken from the dead."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mpctl.apply.lock import EnvironmentLock, LockInfo, boot_id, process_start
from mpctl.errors import LockedError

needs_proc = pytest.mark.skipif(
    boot_id() is None or process_start(os.getpid()) is None,
    reason="proving a holder gone needs Linux's boot id and /proc",
)


@pytest.fixture
def lock(tmp_path: Path) -> EnvironmentLock:
    return EnvironmentLock(tmp_path / ".mpctl" / "test" / "apply.lock")


def test_second_holder_is_refused_with_the_holders_id(lock: EnvironmentLock) -> None:
    held = lock.acquire("mpctl apply -e test")
    with pytest.raises(LockedError) as refused:
        lock.acquire("mpctl apply -e test")
    assert held.id in refused.value.message
    assert f"--force-unlock {held.id}" in (refused.value.hint or "")
    assert "held" in refused.value.message


def test_lock_file_is_private_and_records_the_holder(lock: EnvironmentLock) -> None:
    held = lock.acquire("mpctl apply")
    assert stat.S_IMODE(lock.path.stat().st_mode) == 0o600
    recorded = json.loads(lock.path.read_text())
    assert (recorded["id"], recorded["pid"]) == (held.id, os.getpid())


def test_release_only_removes_our_own_lock(lock: EnvironmentLock) -> None:
    first = lock.acquire("first")
    lock.force_unlock(first.id)
    second = lock.acquire("second")
    lock.release(first)  # a stale holder must not free the new holder's lock
    assert lock.holder() == second
    lock.release(second)
    assert lock.holder() is None


def test_held_context_releases_on_error(lock: EnvironmentLock) -> None:
    with pytest.raises(RuntimeError), lock.held("apply"):
        raise RuntimeError("boom")
    assert lock.holder() is None


def test_force_unlock_needs_the_exact_id(lock: EnvironmentLock) -> None:
    held = lock.acquire("apply")
    with pytest.raises(LockedError, match="does not match"):
        lock.force_unlock("not-the-id")
    assert lock.holder() == held
    lock.force_unlock(held.id)
    assert lock.holder() is None


def test_force_unlock_of_an_unlocked_environment_says_so(lock: EnvironmentLock) -> None:
    with pytest.raises(LockedError, match="not locked"):
        lock.force_unlock("anything")


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def _rewrite(lock: EnvironmentLock, **fields: object) -> None:
    lock.path.write_text(json.dumps({**json.loads(lock.path.read_text()), **fields}))


@needs_proc
def test_a_provably_dead_holder_is_taken_over_and_named(tmp_path: Path) -> None:
    taken: list[LockInfo] = []
    lock = EnvironmentLock(tmp_path / "apply.lock", on_takeover=taken.append)
    dead = lock.acquire("mpctl apply -e test")
    _rewrite(lock, pid=_dead_pid())  # same host, same boot, its process is gone
    mine = lock.acquire("mpctl apply -e test")
    assert lock.holder() == mine
    assert [t.id for t in taken] == [dead.id]
    assert f"lock id {dead.id}" in taken[0].describe()


@needs_proc
def test_a_reused_pid_is_a_dead_holder(tmp_path: Path) -> None:
    """The pid is alive, but it is another process: its start time differs from the lock's."""
    taken: list[LockInfo] = []
    lock = EnvironmentLock(tmp_path / "apply.lock", on_takeover=taken.append)
    held = lock.acquire("apply")
    assert held.started == process_start(os.getpid())
    _rewrite(lock, started=(held.started or 0) + 1)
    lock.acquire("apply")
    assert [t.id for t in taken] == [held.id]


@needs_proc
def test_a_live_holder_is_never_taken_over(lock: EnvironmentLock) -> None:
    held = lock.acquire("apply")
    with pytest.raises(LockedError, match="is held"):
        lock.acquire("apply")
    assert lock.holder() == held


@pytest.mark.parametrize(
    "fields",
    [
        {"boot": "another-boot"},  # pids of another boot say nothing about this one
        {"boot": None, "started": None},  # a lock file from before these facts were recorded
        {"host": "another-host"},  # a shared checkout seen from another machine
    ],
    ids=["other-boot", "old-lock-file", "other-host"],
)
def test_a_dead_holder_that_cannot_be_proven_gone_keeps_the_rule(
    lock: EnvironmentLock, fields: dict[str, object]
) -> None:
    held = lock.acquire("apply")
    _rewrite(lock, pid=_dead_pid(), **fields)
    with pytest.raises(LockedError) as refused:
        lock.acquire("apply")
    assert f"--force-unlock {held.id}" in (refused.value.hint or "")
    holder = lock.holder()
    assert holder is not None
    assert holder.id == held.id  # never broken silently
    lock.force_unlock(held.id)


def test_unreadable_lock_file_still_blocks(lock: EnvironmentLock) -> None:
    lock.path.parent.mkdir(parents=True)
    lock.path.write_text("{not json")
    with pytest.raises(LockedError, match="unreadable"):
        lock.acquire("apply")
