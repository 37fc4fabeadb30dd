"""Read-only means read-only: `plan`, `validate` and `verify` write nothing in the project.

Each command runs through the real CLI (a subprocess) on a copy of the example project whose
tree is made read-only (`chmod -R a-w`), both fresh (no `.mpctl/` yet) and after an apply.
The suite runs as root, which ignores file modes, so two checks stand in for a real
read-only checkout: the command runs without the capabilities that let root write anyway
(`setpriv --bounding-set=-dac_override,...`, when setpriv exists), and a full listing of the
tree (paths, modes, sizes, mtimes, SHA-256 of every file) is the same before and after. The
temporary directory the command uses (TMPDIR) must be empty again afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SETPRIV = shutil.which("setpriv")
_NO_OVERRIDE = "-dac_override,-dac_read_search,-fowner,-chown,-linux_immutable"

Listing = dict[str, tuple[int, int, int, str]]


def _listing(root: Path) -> Listing:
    """Every path under `root` (and root itself): mode, size, mtime_ns and content hash."""
    found: Listing = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        digest = ""
        if stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns, digest)
    return found


def _read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode):
            path.chmod(stat.S_IMODE(mode) & ~0o222)


def _writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode):
            path.chmod(stat.S_IMODE(mode) | stat.S_IWUSR)


def _mpctl(
    project: Path, tmp: Path, *args: str, unprivileged: bool
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mpctl", args[0], "--manifests", str(project), *args[1:]]
    if unprivileged:
        assert SETPRIV is not None
        command = [SETPRIV, f"--bounding-set={_NO_OVERRIDE}", *command]
    environment = {**os.environ, "TMPDIR": str(tmp), "NO_COLOR": "1"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=environment, check=False
    )


@pytest.fixture
def read_only_project(example_copy: Path, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The example project (its tree, not yet read-only) and an empty TMPDIR for mpctl."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    yield example_copy, tmp
    _writable(example_copy)  # let pytest clean up


READING_COMMANDS = (
    ("validate", "--all-environments"),
    ("plan",),
    ("plan", "--format", "json"),
    ("plan", "--detailed-exitcode"),
)


def _check_writes_nothing(project: Path, tmp: Path, commands: tuple[tuple[str, ...], ...]) -> None:
    _read_only(project)
    before = _listing(project)
    for unprivileged in [False, True] if SETPRIV else [False]:
        for args in commands:
            result = _mpctl(project, tmp, *args, unprivileged=unprivileged)
            output = result.stdout + result.stderr
            assert result.returncode in (0, 2), f"{args}: {output}"
            assert "PermissionError" not in output
            assert "unexpected" not in output.lower()
            assert _listing(project) == before, f"{args} changed the project"
            assert list(tmp.iterdir()) == [], f"{args} left temporary files behind"


def test_a_fresh_project_is_planned_and_validated_without_writing(
    read_only_project: tuple[Path, Path],
) -> None:
    project, tmp = read_only_project
    assert not (project / ".mpctl").exists()
    _check_writes_nothing(project, tmp, READING_COMMANDS)
    assert not (project / ".mpctl").exists()


def test_an_applied_project_is_planned_verified_and_validated_without_writing(
    read_only_project: tuple[Path, Path],
) -> None:
    project, tmp = read_only_project
    applied = _mpctl(project, tmp, "apply", "--auto-approve", unprivileged=False)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    state = project / ".mpctl" / "local" / "emulator-state.json"
    assert state.is_file()
    _check_writes_nothing(project, tmp, (*READING_COMMANDS, ("verify",)))


def test_a_fresh_plan_applies_as_saved_once_apply_creates_the_state(
    read_only_project: tuple[Path, Path],
) -> None:
    """The throwaway emulator starts from the same world and seed time as the real one, so a
    plan made before anything exists is not stale for the first apply."""
    project, tmp = read_only_project
    saved = tmp.parent / "plan.json"
    planned = _mpctl(project, tmp, "plan", "--out", str(saved), unprivileged=False)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert not (project / ".mpctl").exists()
    applied = _mpctl(
        project, tmp, "apply", "--plan", str(saved), "--auto-approve", unprivileged=False
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = _mpctl(project, tmp, "plan", "--detailed-exitcode", unprivileged=False)
    assert again.returncode == 0, again.stdout + again.stderr
