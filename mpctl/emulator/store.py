"""Where the state lives between requests: in memory, or in a JSON file shared by processes.

Owns transactions over `EmulatorState`. The file store takes an fcntl lock on a sibling
`.lock` file (shared for reads, exclusive for writes), re-reads the state file whenever another
process changed it (a generation counter in the lock file plus the file's inode and mtime), and
writes atomically with mode 0600 because the state holds CA private keys. A failed request
leaves no half-applied change: the memory store's writers change the live state under an undo
journal (`journal`), so a write costs O(size of the change); the file store's writers work on a
private copy (a full serialisation, fine at its scale). It must not know HTTP or rules.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from mpctl.emulator.journal import Journal
from mpctl.emulator.state import EmulatorState
from mpctl.errors import UserError
from mpctl.files import PRIVATE_MODE, write_atomically

Seeder = Callable[[], EmulatorState]
_Signature = tuple[int, int, int, int]


class StateStore(Protocol):
    """Read and write transactions over the emulator state."""

    def read(self) -> AbstractContextManager[EmulatorState]:
        """A consistent view of the state; callers must not change it."""
        ...

    def write(self) -> AbstractContextManager[EmulatorState]:
        """The state to change; changes stay only when the block ends without error."""
        ...


class MemoryStateStore:
    """State kept in this process only; a failed write is undone by its journal."""

    def __init__(self, seeder: Seeder) -> None:
        self._state = seeder()
        self._lock = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[EmulatorState]:
        with self._lock:
            yield self._state

    @contextmanager
    def write(self) -> Iterator[EmulatorState]:
        with self._lock:
            journal = Journal()
            for items in self._state.top_level_lists():
                journal.remember_list(items)
            try:
                with journal.recording():
                    yield self._state
            except BaseException:
                journal.rollback()
                raise


class UnreadableStateError(UserError):
    """The state file exists but is not a valid emulator state."""

    code = "EMULATOR_STATE"


class FileStateStore:
    """State in a JSON file (0600) that several processes may use in turn or at once."""

    def __init__(
        self, path: Path, seeder: Seeder, *, on_load: Callable[[EmulatorState], None] | None = None
    ) -> None:
        self._path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._seeder = seeder
        self._on_load = on_load
        self._cached: EmulatorState | None = None
        self._signature: _Signature | None = None
        self._thread_lock = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[EmulatorState]:
        with self._thread_lock:
            self._create_if_missing()
            with self._file_lock(fcntl.LOCK_SH) as lock_fd:
                yield self._current(lock_fd)

    @contextmanager
    def write(self) -> Iterator[EmulatorState]:
        with self._thread_lock, self._file_lock(fcntl.LOCK_EX) as lock_fd:
            current = self._current(lock_fd) if self._path.exists() else self._seeder()
            working = current.working_copy()
            yield working
            self._commit(working, lock_fd)

    def load_once(self) -> EmulatorState:
        """The state the file holds now (written from the seeder first when missing), for a
        caller that keeps it from here on: later writes through this store would not see
        changes made to it."""
        with self.read() as state:
            return state

    def replace(self, state: EmulatorState) -> None:
        """Make `state` the whole state file (atomically), whatever it held before."""
        with self._thread_lock, self._file_lock(fcntl.LOCK_EX) as lock_fd:
            self._commit(state, lock_fd)

    def _create_if_missing(self) -> None:
        if self._path.exists():
            return
        with self._file_lock(fcntl.LOCK_EX) as lock_fd:
            if not self._path.exists():
                self._commit(self._seeder(), lock_fd)

    @contextmanager
    def _file_lock(self, operation: int) -> Iterator[int]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
        try:
            fcntl.flock(lock_fd, operation)
            yield lock_fd
        finally:
            os.close(lock_fd)

    def _current(self, lock_fd: int) -> EmulatorState:
        signature = self._stat(lock_fd)
        if self._cached is None or signature != self._signature:
            self._cached = self._load()
            self._signature = signature
        return self._cached

    def _load(self) -> EmulatorState:
        try:
            raw = json.loads(self._path.read_bytes())
            state = EmulatorState.model_validate(raw)
        except (ValueError, OSError) as error:
            raise UnreadableStateError(
                f"emulator state file {self._path} is unreadable: {type(error).__name__}",
                hint="run `mpctl emulator reset` to start from the world file again",
            ) from None
        if self._on_load is not None:
            self._on_load(state)
        return state

    def _commit(self, state: EmulatorState, lock_fd: int) -> None:
        body = json.dumps(state.persistable(), sort_keys=True, indent=2).encode() + b"\n"
        write_atomically(self._path, body, mode=PRIVATE_MODE)
        generation = _read_generation(lock_fd) + 1
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, str(generation).encode(), 0)
        self._cached = state
        self._signature = self._stat(lock_fd)

    def _stat(self, lock_fd: int) -> _Signature:
        return (_read_generation(lock_fd), *self._file_signature())

    def _file_signature(self) -> tuple[int, int, int]:
        status = self._path.stat()
        return (status.st_ino, status.st_mtime_ns, status.st_size)


def _read_generation(lock_fd: int) -> int:
    text = os.pread(lock_fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isascii() and text.isdigit() else 0  # "²".isdigit() is True
