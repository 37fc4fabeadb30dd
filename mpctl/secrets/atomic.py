"""Writes of secret-bearing files: the secrets' directory rules and errors around `mpctl.files`.

Owns `write_private_file`: the directory is made or checked by `mpctl.secrets.directories`
(0700 whatever the umask, `.mpctl/.gitignore` first), the bytes go through the one atomic-write
recipe in `mpctl.files` (0600 from creation, fsync, rename, directory fsync), and a failure
becomes a `SecretSinkError` that names the file and says the previous version is unchanged.
Must not interpret the bytes it writes, nor put them in exceptions.
"""

from __future__ import annotations

from pathlib import Path

from mpctl.errors import SecretSinkError
from mpctl.files import PRIVATE_MODE, write_atomically
from mpctl.secrets.directories import ensure_private_directory

__all__ = ["write_private_file"]


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, mode 0600, durable once this returns."""
    ensure_private_directory(path.parent)
    try:
        write_atomically(path, data, mode=PRIVATE_MODE)
    except OSError as exc:
        raise SecretSinkError(
            f"could not write secret file {path}: {exc.strerror or type(exc).__name__}; "
            "the previous version is unchanged",
            hint="check free space and permissions, then run the command again",
        ) from None
