"""Crash-safe file writes: the one atomic-write recipe every part of mpctl uses.

Owns `write_atomically`: a temporary sibling created with its final mode (0600 unless the
caller asks otherwise, fixed at `os.open` time and again with `fchmod`, whatever the umask),
written in full and fsynced, then renamed over the target (or linked, when an existing file
must never be replaced) and the directory fsynced. A crash at any point leaves the old file or
the new one, never a mix, and a key is never readable by others, not even for a moment. The
temporary sibling has one name per target (`temporary_path`): a temporary left by a crash is
removed by the next write, never written through or trusted; callers serialise writers of one
path (the emulator's state lock, apply's environment lock).

A bottom-layer module like `mpctl.errors`: it imports nothing from mpctl, so the emulator may
use it too. Must not interpret the bytes it writes, put them in exceptions, or decide where
files go.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
PRIVATE_DIRECTORY_MODE = 0o700


def temporary_path(path: Path) -> Path:
    """The temporary sibling a write of `path` goes through (a dot file ending in `.tmp`)."""
    return path.with_name(f".{path.name}.tmp")


def write_atomically(
    path: Path, data: bytes, *, mode: int = PRIVATE_MODE, overwrite: bool = True
) -> None:
    """Make `path` hold `data` so readers see the old file or the new one, durable on return.

    A missing parent directory is created 0700 for an owner-only `mode` (callers with stricter
    rules for directories, such as `mpctl.secrets.directories`, make it first). With
    `overwrite=False` an existing `path` is left alone and `FileExistsError` raised. A failure
    leaves no temporary behind.
    """
    directory_mode = PRIVATE_DIRECTORY_MODE if mode & 0o077 == 0 else 0o777
    path.parent.mkdir(mode=directory_mode, parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        _write_new_file(temporary, data, mode)
        _publish(temporary, path, overwrite=overwrite)
        _fsync_directory(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create `path` afresh with `mode` (never through a leftover file or link) and fsync it."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(descriptor, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _publish(temporary: Path, path: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(temporary, path)
        return
    os.link(temporary, path)  # FileExistsError when `path` appeared meanwhile
    temporary.unlink()


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
