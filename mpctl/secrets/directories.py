"""Owner-only places for secrets: directories mpctl creates, and the checks before it trusts one.

Owns three rules. Every directory mpctl creates for keys, sinks or its own state is 0700
whatever the umask, intermediate parents included (each missing component is made and then
`chmod`ed, because `mkdir(parents=True)` gives parents the umask's mode). The first time mpctl
makes a private directory in `.mpctl/` it writes `.mpctl/.gitignore` ignoring everything, so
`git add -A` never stages a private key; an existing `.gitignore` is never touched. And a
secret file or directory that another user owns, or that group/others can write to, is refused
with the path and the `chmod` that fixes it, before anything in it is read. Must not read or
write the secrets themselves.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from mpctl.errors import SecretSinkError

DIRECTORY_MODE = 0o700
STATE_DIRECTORY = ".mpctl"
GITIGNORE_TEXT = (
    "# Written by mpctl: this directory holds private keys and admin credentials.\n"
    "# Never commit anything in it (mpctl never overwrites this file).\n"
    "*\n"
)


def ensure_private_directory(directory: Path) -> None:
    """Create `directory` and every missing parent 0700; refuse an existing leaf that is unsafe.

    A `.mpctl` directory created here gets its `.gitignore` at once, before anything else is
    written inside it; one that already existed without it gets it before the first secret.
    """
    missing = _missing_components(directory)
    for component in missing:
        _make_private(component)
        if component.name == STATE_DIRECTORY:
            write_gitignore(component)
    if not missing:
        check_private_directory(directory)
    state = _state_directory(directory)
    if state is not None:  # made earlier by something that holds no secret (plan --out)
        write_gitignore(state)


def _state_directory(directory: Path) -> Path | None:
    """The `.mpctl` directory `directory` is (or lies in), if any."""
    for candidate in (directory, *directory.parents):
        if candidate.name == STATE_DIRECTORY:
            return candidate
    return None


def write_gitignore(state_directory: Path) -> None:
    """`.gitignore` with `*` in `state_directory`, unless one is already there (never replaced)."""
    path = state_directory / ".gitignore"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    except OSError as exc:
        raise SecretSinkError(
            f"cannot write {path}: {exc.strerror}",
            hint=f"create it yourself with the single line '*' so git never stages {path.parent}",
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(GITIGNORE_TEXT)


def check_private_directory(directory: Path) -> None:
    """Refuse a directory owned by another user or writable by group/others (fix: chmod 700)."""
    info = _stat_or_none(directory)
    if info is None:
        return
    _check_owner(directory, info)
    if info.st_mode & 0o022:
        raise SecretSinkError(
            f"secret directory {directory} is writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}), so another user could plant a key in it; "
            "nothing in it was used",
            hint=f"chmod 700 {directory}",
        )


def check_private_file(path: Path) -> None:
    """Refuse a secret file owned by another user or open to group/others (fix: chmod 600)."""
    info = _stat_or_none(path)
    if info is None:
        return
    _check_owner(path, info)
    if info.st_mode & 0o077:
        raise SecretSinkError(
            f"secret file {path} is open to group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); its key was not used",
            hint=f"chmod 600 {path} (and rotate the key if others could read it)",
        )


def check_private_tree(directory: Path, *, root: Path) -> None:
    """`check_private_directory` for `directory` and each of its parents below `root`."""
    check_private_directory(directory)
    for parent in directory.parents:
        if parent == root or not _is_below(parent, root):
            return
        check_private_directory(parent)


def _missing_components(directory: Path) -> list[Path]:
    """The components of `directory` that do not exist yet, outermost first."""
    missing: list[Path] = []
    for candidate in (directory, *directory.parents):
        if os.path.lexists(candidate):
            break
        missing.append(candidate)
    return missing[::-1]


def _make_private(directory: Path) -> None:
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, DIRECTORY_MODE)
        if not directory.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        os.chmod(directory, DIRECTORY_MODE)
    except OSError as exc:
        raise SecretSinkError(
            f"cannot create secret directory {directory}: {exc.strerror}",
            hint="check that the path is writable by this user",
        ) from None


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretSinkError(f"cannot inspect {path}: {exc.strerror}") from None


def _check_owner(path: Path, info: os.stat_result) -> None:
    if info.st_uid != os.geteuid():
        raise SecretSinkError(
            f"{path} belongs to another user (uid {info.st_uid}, you are {os.geteuid()}); "
            "mpctl does not use keys someone else could have written",
            hint=f"remove it or `chown` it to yourself, then `chmod "
            f"{'700' if stat.S_ISDIR(info.st_mode) else '600'} {path}`",
        )


def _is_below(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True
