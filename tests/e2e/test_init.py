"""Issue 14's "done when": `mpctl init` in an empty folder, then validate → plan → apply → verify
with no edits, and git sees no key file afterwards.

Every command is the real CLI in its own process (`python -m mpctl`), run in the project folder
with no `--manifests` (the path a new user types), in a `git init`-ed temporary folder, with the
production key policy the scaffold writes (RSA 3072). Also: init never overwrites (a project
file that is there already stops it with nothing written, and a run that stopped half way is
finished by running it again), says which flags are missing when there is no terminal to ask
on, refuses a bad organisation number, and asks for what is missing on a terminal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from mpctl.cli.commands.schemas import all_schemas
from tests.e2e.processes import SAFETY_TIMEOUT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

ORGNO = "313367002"
FLAGS = ("--orgno", ORGNO, "--name", "ACME AS")
CLIENT_FILE = "manifests/resources/clients/altinn-reader.yaml"
PROJECT_FILES = [
    ".gitignore",
    "manifests/emulator-world.yaml",
    "manifests/mpctl.yaml",
    CLIENT_FILE,
    *sorted(f"schemas/{name}" for name in all_schemas()),
]
"""Every file init writes: the project, and each published schema for editors."""


def _environ() -> dict[str, str]:
    """The user's environment without mpctl's own settings, so nothing points elsewhere."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("MPCTL_")}
    return {
        **kept,
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def mpctl(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in `folder`, its stdin not a terminal (as in CI)."""
    return subprocess.run(
        [sys.executable, "-m", "mpctl", *args],
        cwd=folder,
        env=_environ(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
    )


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=folder, env=_environ(), capture_output=True, text=True, check=True
    )
    return done.stdout


def files_in(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty folder that is a git repository, named as a user might name it."""
    folder = tmp_path / "Økonomi Integrasjoner"
    folder.mkdir()
    git(folder, "init", "-q")
    return folder


def test_init_then_validate_plan_apply_verify_with_no_edits(repo: Path) -> None:
    done = mpctl(repo, "init", *FLAGS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert files_in(repo) == PROJECT_FILES
    for step in ("mpctl validate", "mpctl plan", "mpctl apply", "mpctl verify"):
        assert step in done.stdout
    assert 'project: "okonomi-integrasjoner"' in (repo / "manifests/mpctl.yaml").read_text()

    for command in (["validate"], ["plan"], ["apply", "--auto-approve"], ["verify"]):
        done = mpctl(repo, *command)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    assert "All 1 token check(s) passed." in done.stdout
    assert (repo / "manifests/.mpctl/secrets/local/altinn-reader.env").is_file()
    assert (repo / "manifests/.mpctl/local/admin-key.pem").is_file()

    status = git(repo, "status", "--porcelain", "--untracked-files=all")
    listed = [line[3:] for line in status.splitlines()]
    assert listed == PROJECT_FILES, status
    git(repo, "add", "-A")
    staged = git(repo, "diff", "--cached", "--name-only").splitlines()
    assert staged == PROJECT_FILES


def test_init_refuses_to_overwrite_and_writes_nothing(repo: Path) -> None:
    mine = repo / "manifests" / "mpctl.yaml"
    mine.parent.mkdir()
    mine.write_text("# my own project\n")

    done = mpctl(repo, "init", *FLAGS)

    assert done.returncode == 1
    assert "manifests/mpctl.yaml" in done.stderr
    assert "nothing written" in done.stderr
    assert mine.read_text() == "# my own project\n"
    assert files_in(repo) == ["manifests/mpctl.yaml"]


def test_a_run_that_stopped_half_way_is_finished_by_running_it_again(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    assert mpctl(tmp_path, "init", "project", *FLAGS).returncode == 0
    expected = {name: (folder / name).read_bytes() for name in files_in(folder)}
    (folder / CLIENT_FILE).unlink()
    shutil.rmtree(folder / "schemas")

    done = mpctl(tmp_path, "init", "project", *FLAGS)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "cd project" in done.stdout
    assert {name: (folder / name).read_bytes() for name in files_in(folder)} == expected
    again = mpctl(tmp_path, "init", "project", *FLAGS)
    assert again.returncode == 0
    assert "Nothing to write" in again.stdout


def test_an_existing_gitignore_gets_the_line_appended_never_replaced(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.log")

    assert mpctl(repo, "init", *FLAGS).returncode == 0

    text = (repo / ".gitignore").read_text()
    assert text.startswith("*.log\n")
    assert text.splitlines()[-1] == ".mpctl/"


def test_missing_flags_without_a_terminal_are_named(repo: Path) -> None:
    done = mpctl(repo, "init")
    assert done.returncode == 1
    assert "missing --orgno and --name (there is no terminal to ask on)" in done.stderr

    done = mpctl(repo, "init", "--name", "ACME AS")
    assert done.returncode == 1
    assert "missing --orgno " in done.stderr
    assert files_in(repo) == []


@pytest.mark.parametrize(
    ("orgno", "reason"),
    [("31336700", "must be exactly 9 digits"), ("313367003", "fails the mod-11 check digit")],
)
def test_a_bad_organisation_number_is_refused(repo: Path, orgno: str, reason: str) -> None:
    done = mpctl(repo, "init", "--orgno", orgno, "--name", "ACME AS")
    assert done.returncode == 1
    assert "--orgno: organisation number" in done.stderr
    assert reason in done.stderr
    assert files_in(repo) == []


def test_a_terminal_is_asked_for_what_is_missing(tmp_path: Path) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "mpctl", "init", "asked", "--project", "asked"],
        cwd=str(tmp_path),
        env=_environ(),
        encoding="utf-8",
        timeout=60,
    )
    child.expect_exact("Organisation number (9 digits):")
    child.sendline("313367003")
    child.expect_exact("fails the mod-11 check digit")
    child.expect_exact("Organisation number (9 digits):")
    child.sendline(ORGNO)
    child.expect_exact("Organisation name:")
    child.sendline("Ålesund Fisk AS")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0, child.before
    config = (tmp_path / "asked" / "manifests" / "mpctl.yaml").read_text(encoding="utf-8")
    assert f'orgno: "{ORGNO}"' in config
    assert 'name: "Ålesund Fisk AS"' in config
