"""One writer per environment at a time: a lock file with an id, a holder and a start time.

Owns `EnvironmentLock`: created atomically (O_EXCL), released only by its holder, broken only
by `force_unlock(lock_id)` naming the exact id (Terraform's rule), with one exception
(reliability.md L8): a lock whose holder is *provably* gone is taken over. Provably gone means
the lock was written on this host during this boot (the kernel's boot id) and its pid is not
alive, or is alive with another start time (the pid was reused). Anything less certain (another
host, another boot, an old lock file without these facts, an unreadable file) keeps the rule:
it is reported with the command that frees it. Takeovers are serialised by an advisory
`flock` on a guard file, so two runs never both break the same dead holder's lock. In CI the
workflow's concurrency group serialises runs on different machines; this file serialises runs
sharing a checkout (a merge apply and a scheduled run on one runner). Must not print: the
caller is told about a takeover through `on_takeover`.

Also owns what every backend shares: the `Lock` base (`mpctl.apply.lock_s3` is the other
backend), the `LockInfo` a holder records, and the `LockedError` messages naming the holder, its
id, its start and the exact `mpctl apply --force-unlock ID` command.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from mpctl.errors import LockedError
from mpctl.secrets import ensure_private_directory

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock. `boot` and `started` are None where the platform cannot tell."""

    id: str
    pid: int
    host: str
    created: str
    command: str
    boot: str | None = None
    """The kernel's boot id when the lock was taken (Linux); pids are only unique per boot."""
    started: int | None = None
    """The holder process's start time (clock ticks after boot), which tells a reused pid."""
    who: str | None = None
    """user@host of the holder (Terraform's `Who`), None where the user has no name."""

    def describe(self) -> str:
        by = f"{self.who}, pid {self.pid}" if self.who else f"pid {self.pid} on {self.host}"
        return f"{self.command!r} by {by} since {self.created} (lock id {self.id})"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> LockInfo:
        """The recorded holder; an unreadable record still blocks, as holder 'unreadable'."""
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return UNREADABLE


UNREADABLE = LockInfo(id="unreadable", pid=0, host="?", created="?", command="?")


class Lock(ABC):
    """One environment's lock, whatever holds it (a local file, an S3 object): a backend says
    how to take, give back and break it; holding it for a block is the same for all."""

    @abstractmethod
    def acquire(self, command: str) -> LockInfo:
        """Take the lock for `command`; `LockedError` when another run holds it."""

    @abstractmethod
    def release(self, info: LockInfo) -> None:
        """Give back the lock `info` took, never one someone else holds now."""

    @abstractmethod
    def force_unlock(self, lock_id: str) -> None:
        """Break the lock, only when `lock_id` is the id of the lock held."""

    @contextmanager
    def held(self, command: str) -> Iterator[LockInfo]:
        """Hold the lock while the block runs; `LockedError` when another run holds it."""
        info = self.acquire(command)
        try:
            yield info
        finally:
            self.release(info)


def new_lock_info(command: str) -> LockInfo:
    """This process as a lock holder: a fresh id, who and where, since now."""
    host = socket.gethostname()
    user = _user_name()
    return LockInfo(
        id=str(uuid.uuid4()),
        pid=os.getpid(),
        host=host,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        command=command,
        boot=boot_id(),
        started=process_start(os.getpid()),
        who=f"{user}@{host}" if user else None,
    )


def held_error(holder: LockInfo, *, stale: bool) -> LockedError:
    """The refusal every backend gives: who holds the lock, since when, and how to break it."""
    state = "stale (its process is gone)" if stale else "held"
    return LockedError(
        f"the environment lock is {state}: {holder.describe()}",
        hint=f"wait for it, or if it is dead: mpctl apply --force-unlock {holder.id}",
    )


def vanished_error(where: str) -> LockedError:
    """The lock was taken when we tried, and gone when we looked at its holder."""
    return LockedError(f"{where} was locked a moment ago; try again")


def not_locked_error(where: str) -> LockedError:
    return LockedError(f"{where} is not locked")


def wrong_id_error(lock_id: str, holder: LockInfo) -> LockedError:
    return LockedError(
        f"lock id {lock_id!r} does not match the lock held ({holder.id})",
        hint="force-unlock needs the exact id of the lock it breaks",
    )


class EnvironmentLock(Lock):
    """The lock file for one environment."""

    def __init__(self, path: Path, *, on_takeover: Callable[[LockInfo], None] | None = None):
        self.path = path
        self.on_takeover = on_takeover

    def acquire(self, command: str) -> LockInfo:
        """Take the lock, or take it over from a provably dead holder; else `LockedError`."""
        info = new_lock_info(command)
        ensure_private_directory(self.path.parent)
        if self._create(info):
            return info
        with self._takeover_guard():
            holder = self.holder()
            if holder is not None and holder_is_gone(holder):
                self.path.unlink(missing_ok=True)
                if self._create(info):
                    if self.on_takeover is not None:
                        self.on_takeover(holder)
                    return info
        raise self._locked_error()

    def release(self, info: LockInfo) -> None:
        holder = self.holder()
        if holder is not None and holder.id == info.id:
            self.path.unlink(missing_ok=True)

    def force_unlock(self, lock_id: str) -> None:
        holder = self.holder()
        if holder is None:
            raise not_locked_error(str(self.path))
        if holder.id != lock_id:
            raise wrong_id_error(lock_id, holder)
        self.path.unlink(missing_ok=True)

    def holder(self) -> LockInfo | None:
        try:
            return LockInfo.from_json(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def _create(self, info: LockInfo) -> bool:
        """Write the lock file if there is none (atomic); False when one exists."""
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(info.to_json())
        return True

    @contextmanager
    def _takeover_guard(self) -> Iterator[None]:
        """An exclusive flock on a guard file; the kernel drops it when its process dies."""
        guard = self.path.with_name(self.path.name + ".guard")
        descriptor = os.open(guard, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def _locked_error(self) -> LockedError:
        holder = self.holder()
        if holder is None:
            return vanished_error(str(self.path))
        return held_error(holder, stale=seems_gone(holder))


def seems_gone(holder: LockInfo) -> bool:
    """The holder wrote the lock on this host and its pid is not alive (another boot's pid
    may be, so this only words the refusal: takeovers need `holder_is_gone`)."""
    return holder.host == socket.gethostname() and not _alive(holder.pid)


def holder_is_gone(holder: LockInfo) -> bool:
    """True only when the holder provably died: same host and boot, its process is gone."""
    here = boot_id()
    if here is None or holder.boot != here or holder.host != socket.gethostname():
        return False
    if not _alive(holder.pid):
        return True
    state, started = _process_stat(holder.pid)
    if state in ("Z", "X"):  # dead, waiting for its parent to collect it
        return True
    return holder.started is not None and started is not None and started != holder.started


def boot_id() -> str | None:
    """This boot's id (Linux), or None where there is no such thing."""
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def process_start(pid: int) -> int | None:
    """The start time of `pid` in clock ticks after boot (/proc/PID/stat field 22), or None."""
    return _process_stat(pid)[1]


def _process_stat(pid: int) -> tuple[str | None, int | None]:
    """(state, start time) of `pid` from /proc/PID/stat, each None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None, None
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces and ')'
    state = fields[0] if fields else None
    try:
        return state, int(fields[19])
    except (IndexError, ValueError):
        return state, None


def _user_name() -> str | None:
    """The login name, or None in a container whose uid has no name."""
    try:
        return getpass.getuser() or None
    except (KeyError, OSError):
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
