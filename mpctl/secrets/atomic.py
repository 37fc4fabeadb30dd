"""Crash-safe writes of secret-bearing files: owner-only (0600) and all-or-nothing.

Owns the one write recipe for files that hold keys: a temporary file in the same directory,
created 0600 with `os.open`, written and fsynced, then `os.replace`d over the target and the
directory fsynced. A crash at any point leaves either the old file or the new one, never a mix.
Directories come from `mpctl.secrets.directories` (0700 whatever the umask, `.mpctl/.gitignore`).
Must not interpret the bytes it writes, nor put them in exceptions.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from mpctl.errors import SecretSinkError
from mpctl.secrets.directories import DIRECTORY_MODE, ensure_private_directory

FILE_MODE = 0o600
__all__ = [
    "DIRECTORY_MODE",
    "FILE_MODE",
    "ensure_private_directory",
    "temp_path_for",
    "write_private_file",
]


def temp_path_for(path: Path) -> Path:
    """The temporary sibling a write of `path` goes through (one per target, so easy to clean)."""
    return path.with_name(f".{path.name}.tmp")


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, mode 0600, durable once this returns."""
    ensure_private_directory(path.parent)
    temp = temp_path_for(path)
    try:
        _write_temp(temp, data)
        os.replace(temp, path)
        _fsync_directory(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise SecretSinkError(
            f"could not write secret file {path}: {exc.strerror or type(exc).__name__}; "
            "the previous version is unchanged",
            hint="check free space and permissions, then run the command again",
        ) from None


def _write_temp(temp: Path, data: bytes) -> None:
    # A temp file left by a crashed run is replaced, never appended to or trusted.
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
