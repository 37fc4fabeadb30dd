"""One apply per environment at a time: a lock file with an id, a holder and a start time.

Owns `EnvironmentLock`: created atomically (O_EXCL), released only by its holder, broken only
by `force_unlock(lock_id)` naming the exact id (Terraform's rule). A lock whose holder process
is gone is reported as stale with the command that frees it; it is never broken silently. In CI
the workflow's concurrency group serialises runs on different machines; this file serialises
runs sharing a checkout (a merge apply and a scheduled run on one runner).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from mpctl.errors import LockedError
from mpctl.secrets.directories import ensure_private_directory


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock."""

    id: str
    pid: int
    host: str
    created: str
    command: str


class EnvironmentLock:
    """The lock file for one environment."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def held(self, command: str) -> Iterator[LockInfo]:
        info = self.acquire(command)
        try:
            yield info
        finally:
            self.release(info)

    def acquire(self, command: str) -> LockInfo:
        info = LockInfo(
            id=str(uuid.uuid4()),
            pid=os.getpid(),
            host=socket.gethostname(),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            command=command,
        )
        ensure_private_directory(self.path.parent)
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise self._locked_error() from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(info), handle, sort_keys=True)
        return info

    def release(self, info: LockInfo) -> None:
        holder = self.holder()
        if holder is not None and holder.id == info.id:
            self.path.unlink(missing_ok=True)

    def force_unlock(self, lock_id: str) -> None:
        holder = self.holder()
        if holder is None:
            raise LockedError(f"{self.path} is not locked")
        if holder.id != lock_id:
            raise LockedError(
                f"lock id {lock_id!r} does not match the lock held ({holder.id})",
                hint="force-unlock needs the exact id of the lock it breaks",
            )
        self.path.unlink(missing_ok=True)

    def holder(self) -> LockInfo | None:
        try:
            return LockInfo(**json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            return LockInfo(id="unreadable", pid=0, host="?", created="?", command="?")

    def _locked_error(self) -> LockedError:
        holder = self.holder()
        if holder is None:
            return LockedError(f"{self.path} was locked a moment ago; try again")
        stale = holder.host == socket.gethostname() and not _alive(holder.pid)
        state = "stale (its process is gone)" if stale else "held"
        return LockedError(
            f"the environment lock is {state}: {holder.command!r} by pid {holder.pid} on "
            f"{holder.host} since {holder.created} (lock id {holder.id})",
            hint=f"wait for it, or if it is dead: mpctl apply --force-unlock {holder.id}",
        )


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
