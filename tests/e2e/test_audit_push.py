"""`mpctl audit push` through the real CLI against a local bare repository as `origin`.

The other runner of the race is real too: a `reference-transaction` hook in this clone runs
`mpctl audit push` from a second clone right after this one's fetch moved its remote-tracking
branch, so this one's push is refused as a non-fast-forward and must fetch and append again.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mpctl.apply import Status
from mpctl.apply.audit import RunEnd, RunIdentity, RunStart, StepRecord, record_line

BRANCH = "mpctl-audit"
FILE = "audit/local.jsonl"


def run_lines(run_id: str, steps: int) -> list[str]:
    """One run's records as `mpctl apply` writes them."""
    identity = RunIdentity(
        run_id=run_id, env="local", project="313367002/acme", commit=None, pr=7, actor="ci"
    )
    common = {**identity.model_dump(), "time": datetime(2026, 11, 21, 12, 0, tzinfo=UTC)}
    records: list[RunStart | StepRecord | RunEnd] = [
        RunStart(**common, mpctl_version="0.1.0", saved_plan=False, options={})
    ]
    for index in range(steps):
        records.append(
            StepRecord(
                **common,
                address=f"client/c{index}",
                action="create",
                status=Status.DONE,
                message="",
                writes=1,
                safe_to_rerun=True,
                started_at=None,
                correlation_ids=(),
                keys=(),
            )
        )
    counts = {str(s): 0 for s in Status} | {"done": steps}
    records.append(
        RunEnd(
            **common,
            outcome="complete",
            interrupted=False,
            message="",
            planned_steps=steps,
            observed_fingerprint=None,
            counts=counts,
            writes=steps,
            not_started=0,
            abandoned=(),
            correlation_ids=(),
        )
    )
    return [record_line(r).decode() for r in records]


class Repos:
    """A bare `origin` and clones of it, with a git configuration of their own."""

    def __init__(self, base: Path) -> None:
        self.base = base
        (base / "gitconfig").write_text("", encoding="utf-8")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GIT_"))},
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(base / "gitconfig"),
            "NO_COLOR": "1",
        }
        self.origin = base / "origin.git"
        self.git(base, "init", "--quiet", "--bare", str(self.origin))
        self.git(self.origin, "symbolic-ref", "HEAD", "refs/heads/main")

    def git(self, where: Path, *args: str) -> str:
        command = ["git", "-C", str(where), *args]
        done = subprocess.run(command, capture_output=True, text=True, env=self.env, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def clone(self, name: str) -> Path:
        target = self.base / name
        self.git(self.base, "clone", "--quiet", str(self.origin), str(target))
        self.git(target, "config", "user.useConfigOnly", "true")  # no guessed identity
        return target

    def push(self, clone: Path, lines: list[str], name: str) -> subprocess.CompletedProcess[str]:
        log = self.base / f"{name}.jsonl"
        log.write_text("".join(lines), encoding="utf-8")
        command = [sys.executable, "-m", "mpctl", "audit", "push", "--repo", str(clone)]
        return subprocess.run(
            [*command, "--from", str(log), "--path", FILE, "--branch", BRANCH],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )

    def published(self) -> list[str]:
        return self.git(self.origin, "show", f"{BRANCH}:{FILE}").splitlines(keepends=True)


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    repos = Repos(tmp_path)
    seed = repos.clone("seed")
    repos.git(
        seed,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "main",
    )
    repos.git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    return repos


def test_two_runs_are_appended_without_a_checkout(repos: Repos) -> None:
    work = repos.clone("work")
    (work / "untracked.txt").write_text("left alone", encoding="utf-8")
    head = repos.git(work, "rev-parse", "HEAD")
    first, second = run_lines("run1", 2), run_lines("run2", 3)
    done = repos.push(work, first, "one")
    assert done.returncode == 0, done.stderr
    assert "Appended 4 record(s)" in done.stdout
    root = repos.git(repos.origin, "rev-list", BRANCH).split()
    assert len(root) == 1  # an orphan: nothing of main's history
    author = repos.git(repos.origin, "log", "-1", "--format=%an <%ae>", BRANCH).strip()
    assert author == "mpctl <mpctl@localhost>"  # no identity configured: mpctl's own
    torn = [*first, *second, '{"record":"step","cut sh']
    done = repos.push(work, torn, "one")
    assert done.returncode == 0, done.stderr
    assert "Appended 5 record(s)" in done.stdout
    assert "Left out 1 line(s)" in done.stderr
    assert repos.published() == first + second
    done = repos.push(work, first + second, "one")
    assert "already holds all 9 record(s)" in done.stdout
    assert len(repos.git(repos.origin, "rev-list", BRANCH).split()) == 2
    assert repos.git(work, "rev-parse", "HEAD") == head
    assert repos.git(work, "status", "--porcelain") == "?? untracked.txt\n"
    assert repos.git(work, "rev-parse", BRANCH) == repos.git(repos.origin, "rev-parse", BRANCH)


def test_a_concurrent_push_is_fetched_and_both_runs_are_kept(repos: Repos) -> None:
    work, other = repos.clone("work"), repos.clone("other")
    earlier, between = run_lines("run0", 1), run_lines("run1", 1)
    ours, theirs = run_lines("ours", 2), run_lines("theirs", 1)
    assert repos.push(work, earlier, "earlier").returncode == 0
    assert repos.push(other, between, "between").returncode == 0  # work's fetch will move
    (repos.base / "theirs.jsonl").write_text("".join(theirs), encoding="utf-8")
    marker = repos.base / "raced"
    hook = work / ".git" / "hooks" / "reference-transaction"
    hook.write_text(
        "#!/bin/sh\n"
        '[ "$1" = committed ] || exit 0\n'
        f'grep -q " refs/remotes/origin/{BRANCH}$" || exit 0\n'
        f'[ -e "{marker}" ] && exit 0\n'
        f'touch "{marker}"\n'
        "unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE GIT_PREFIX\n"
        f'exec "{sys.executable}" -m mpctl audit push --repo "{other}" '
        f'--from "{repos.base / "theirs.jsonl"}" --path {FILE} --branch {BRANCH} >/dev/null 2>&1\n',
        encoding="utf-8",
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    done = repos.push(work, ours, "ours")
    assert done.returncode == 0, done.stdout + done.stderr
    assert marker.exists()
    assert "push attempt 2" in done.stdout  # the first was refused: the branch had moved
    assert repos.published() == earlier + between + theirs + ours
    log = repos.git(repos.origin, "log", "--format=%s", BRANCH).splitlines()
    assert log == [f"audit: {n} record(s) for {FILE}" for n in (4, 3, 3, 3)]


def test_a_path_outside_the_tree_is_refused(repos: Repos) -> None:
    work = repos.clone("work")
    log = repos.base / "one.jsonl"
    log.write_text("".join(run_lines("run1", 1)), encoding="utf-8")
    command = [sys.executable, "-m", "mpctl", "audit", "push", "--repo", str(work)]
    done = subprocess.run(
        [*command, "--from", str(log), "--path", "../escape.jsonl"],
        capture_output=True,
        text=True,
        env=repos.env,
        check=False,
    )
    assert done.returncode == 1
    assert "not a path inside the repository" in done.stderr
