"""`mpctl.files.write_atomically`: the one atomic write (0600 from creation, no half files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mpctl.files import PUBLIC_MODE, temporary_path, write_atomically


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        write_atomically(tmp_path / "new" / "key.pem", b"secret")
    finally:
        os.umask(previous)
    assert mode_of(tmp_path / "new" / "key.pem") == 0o600
    assert mode_of(tmp_path / "new") == 0o700
    assert (tmp_path / "new" / "key.pem").read_bytes() == b"secret"


def test_a_public_file_gets_the_mode_asked_for(tmp_path: Path) -> None:
    write_atomically(tmp_path / "cert.pem", b"public", mode=PUBLIC_MODE)
    assert mode_of(tmp_path / "cert.pem") == PUBLIC_MODE


def test_without_overwrite_an_existing_file_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "imported.yaml"
    target.write_bytes(b"the user's own manifest")
    with pytest.raises(FileExistsError):
        write_atomically(target, b"generated", overwrite=False)
    assert target.read_bytes() == b"the user's own manifest"
    assert not temporary_path(target).exists()
    write_atomically(tmp_path / "fresh.yaml", b"generated", overwrite=False)
    assert (tmp_path / "fresh.yaml").read_bytes() == b"generated"
    assert not temporary_path(tmp_path / "fresh.yaml").exists()


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.mkdir()  # os.replace cannot put a file over a directory
    with pytest.raises(OSError, match=r"Is a directory|Directory not empty"):
        write_atomically(target, b"secret")
    assert target.is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_leftover_temporary_link_is_never_written_through(tmp_path: Path) -> None:
    target = tmp_path / "key.pem"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"untouched")
    elsewhere.chmod(0o644)
    temporary_path(target).symlink_to(elsewhere)
    write_atomically(target, b"secret")
    assert elsewhere.read_bytes() == b"untouched"
    assert (target.read_bytes(), mode_of(target)) == (b"secret", 0o600)
    assert not temporary_path(target).exists()
