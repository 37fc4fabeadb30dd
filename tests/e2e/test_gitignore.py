"""A new project's `.mpctl/` ignores itself, so `git add -A` never stages a private key.

Through the real CLI in a real `git init` repository holding a copy of the example project:
after `mpctl apply --auto-approve` (environment `local`, embedded emulator: admin key, emulator
state, sink files, `.env`s, lock) and after `mpctl keys create`, `git status` shows nothing
under `.mpctl/` and `git add -A` stages nothing from it. A `.gitignore` the user already has
there is never overwritten.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mpctl.cli.main import main
from mpctl.secrets.directories import GITIGNORE_TEXT
from tests.conftest import EXAMPLE_MANIFESTS

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    """git with no user or system configuration (no global excludes can hide a file)."""
    environ = os.environ | {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=environ, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with the example project committed under `manifests/`."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE_MANIFESTS, root / "manifests", ignore=shutil.ignore_patterns(".mpctl"))
    config = root / "manifests" / "mpctl.yaml"
    config.write_text(config.read_text().replace("size: 3072", "size: 2048"))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "project")
    return root


def untracked_under_state(repo: Path) -> list[str]:
    status = git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored=no")
    return [line for line in status.splitlines() if ".mpctl" in line]


def test_apply_leaves_nothing_for_git_to_stage(repo: Path) -> None:
    assert main(["apply", "--manifests", str(repo / "manifests"), "--auto-approve"]) == 0
    state = repo / "manifests" / ".mpctl"
    assert (state / "secrets" / "local" / "billing-invoices.env").is_file()
    assert (state / "local" / "admin-key.pem").is_file()
    assert (state / ".gitignore").read_text() == GITIGNORE_TEXT
    assert untracked_under_state(repo) == []
    git(repo, "add", "-A")
    staged = git(repo, "diff", "--cached", "--name-only").splitlines()
    assert [path for path in staged if ".mpctl" in path] == []


def test_keys_create_in_a_fresh_checkout_is_ignored(repo: Path) -> None:
    previous = Path.cwd()
    os.chdir(repo)
    try:
        assert main(["keys", "create", "svc", "--size", "2048"]) == 0
    finally:
        os.chdir(previous)
    # in a project, keys go beside its other state (manifests/.mpctl/keys), one per environment
    assert (repo / "manifests" / ".mpctl" / "keys" / "svc" / "TEST.pem").is_file()
    assert untracked_under_state(repo) == []


def test_an_existing_gitignore_is_never_overwritten(repo: Path) -> None:
    state = repo / "manifests" / ".mpctl"
    state.mkdir()
    (state / ".gitignore").write_text("# mine\n*.pem\n")
    assert main(["apply", "--manifests", str(repo / "manifests"), "--auto-approve"]) == 0
    assert (state / ".gitignore").read_text() == "# mine\n*.pem\n"


def test_a_saved_plan_first_then_apply_still_ignores_the_keys(repo: Path) -> None:
    """The demo's order: `plan --out .mpctl/plan.json` makes `.mpctl/` before any key."""
    manifests = repo / "manifests"
    plan = manifests / ".mpctl" / "plan.json"
    assert main(["plan", "--manifests", str(manifests), "--out", str(plan)]) == 0
    assert (
        main(["apply", "--manifests", str(manifests), "--plan", str(plan), "--auto-approve"]) == 0
    )
    assert (manifests / ".mpctl" / ".gitignore").read_text() == GITIGNORE_TEXT
    assert untracked_under_state(repo) == []
