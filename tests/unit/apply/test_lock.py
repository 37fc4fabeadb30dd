"""The environment lock: one holder, released only by it, broken only by its exact id."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mpctl.apply.lock import EnvironmentLock
from mpctl.errors import LockedError


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


def test_a_dead_holder_is_reported_as_stale_not_broken(lock: EnvironmentLock) -> None:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(child.stdout)
    held = lock.acquire("apply")
    lock.path.write_text(json.dumps({**json.loads(lock.path.read_text()), "pid": dead_pid}))
    with pytest.raises(LockedError, match="stale"):
        lock.acquire("apply")
    assert lock.holder() is not None  # never broken silently
    lock.force_unlock(held.id)


def test_unreadable_lock_file_still_blocks(lock: EnvironmentLock) -> None:
    lock.path.parent.mkdir(parents=True)
    lock.path.write_text("{not json")
    with pytest.raises(LockedError, match="unreadable"):
        lock.acquire("apply")
