"""Appending audit lines to one file on a git branch, with git's plumbing only.

Owns `append_to_branch`: fetch the branch, read the file at its tip, keep the given lines it
does not hold yet, and write blob → tree (through a temporary index) → commit on top of that tip
(an orphan commit when the branch does not exist), push it, and move the local branch along
when that is a fast forward. A push refused because the branch moved meanwhile (another runner
pushed first) starts again from a fresh fetch, so no run's lines are lost and none is written
twice.

Must not touch the work tree, the real index or HEAD, must not force-push, and must not show
git's output unredacted (a remote URL can carry a token).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mpctl.errors import MpctlError, UserError
from mpctl.redaction import redact_text

DEFAULT_ATTEMPTS = 5
_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "mpctl",
    "GIT_AUTHOR_EMAIL": "mpctl@localhost",
    "GIT_COMMITTER_NAME": "mpctl",
    "GIT_COMMITTER_EMAIL": "mpctl@localhost",
}
_MOVED_ON = re.compile(r"\[rejected\]|\[remote rejected\].*(?:lock|failed to update ref|stale)")


class GitError(MpctlError):
    """A git command failed; the message holds git's own words, redacted."""

    code = "GIT"


@dataclass(frozen=True)
class Appended:
    """What one append did: how many lines, in which commit, after how many pushes."""

    lines: int
    commit: str | None
    """The new tip; None when the branch already held every line (nothing was pushed)."""
    attempts: int


class Git:
    """`git` in one repository, with a fixed environment (no prompts, stable output)."""

    def __init__(self, repository: Path, environ: Mapping[str, str]) -> None:
        executable = shutil.which("git")
        if executable is None:
            raise UserError("git is not installed", hint="install git, or push the file by hand")
        self._git = executable
        self._repository = repository
        self._environ = {**environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}

    def run(
        self, *args: str, stdin: bytes | None = None, extra: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `git ARGS` in the repository; never raises for git's exit code."""
        return subprocess.run(  # noqa: S603 - git from PATH, arguments as a list, no shell
            [self._git, "-C", str(self._repository), *args],
            input=stdin,
            capture_output=True,
            env={**self._environ, **(extra or {})},
            timeout=300,
            check=False,
        )

    def out(
        self, *args: str, stdin: bytes | None = None, extra: Mapping[str, str] | None = None
    ) -> str:
        """`git ARGS`'s stdout, stripped; `GitError` when it fails."""
        done = self.run(*args, stdin=stdin, extra=extra)
        if done.returncode != 0:
            raise git_error(args, done)
        return done.stdout.decode("utf-8", "replace").strip()


def git_error(args: Sequence[str], done: subprocess.CompletedProcess[bytes]) -> GitError:
    said = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
    last = said.splitlines()[-1] if said else f"exit code {done.returncode}"
    return GitError(f"git {args[0]} failed: {redact_text(last)}")


def check_names(git: Git, *, branch: str, path: str) -> None:
    """Refuse a branch name git would refuse, and a path outside the tree."""
    if git.run("check-ref-format", "--branch", branch).returncode != 0:
        raise UserError(f"{branch!r} is not a valid branch name")
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or ".." in parts or ".git" in parts or "\\" in path:
        raise UserError(
            f"{path!r} is not a path inside the repository", hint="e.g. audit/prod.jsonl"
        )


def append_to_branch(
    git: Git,
    lines: Sequence[str],
    *,
    branch: str,
    path: str,
    remote: str,
    attempts: int = DEFAULT_ATTEMPTS,
    pause: Callable[[float], None] = time.sleep,
) -> Appended:
    """Append the `lines` (each ending in a newline) that `path` on `branch` does not hold yet,
    retrying from a fresh fetch when another push got there first."""
    check_names(git, branch=branch, path=path)
    _refuse_checked_out(git, branch)
    for attempt in range(1, attempts + 1):
        tip = _fetch(git, remote, branch)
        held = _read(git, tip, path)
        known = set(held)
        new = [line for line in dict.fromkeys(lines) if line not in known]
        if not new:
            return Appended(0, None, attempt)
        content = "".join([*held, *new]).encode("utf-8")
        commit = _commit(git, tip, path, content, f"audit: {len(new)} record(s) for {path}")
        if _push(git, remote, commit, branch):
            _advance_local_branch(git, branch, commit)
            return Appended(len(new), commit, attempt)
        pause(random.uniform(0.1, 0.5) * attempt)  # noqa: S311 - jitter, not security
    raise GitError(
        f"{remote}/{branch} kept moving: gave up after {attempts} pushes",
        hint="run `mpctl audit push` again; lines already on the branch are not repeated",
    )


def _refuse_checked_out(git: Git, branch: str) -> None:
    head = git.run("symbolic-ref", "--quiet", "HEAD").stdout.decode().strip()
    if head == f"refs/heads/{branch}":
        raise UserError(
            f"{branch} is checked out here; mpctl appends to it without a checkout",
            hint="run it from a checkout of another branch",
        )


def _fetch(git: Git, remote: str, branch: str) -> str | None:
    """The branch's tip on `remote` (fetched), or None when the remote has no such branch."""
    listed = git.run("ls-remote", "--exit-code", "--heads", remote, f"refs/heads/{branch}")
    if listed.returncode == 2:
        return None
    if listed.returncode != 0:
        raise git_error(("ls-remote",), listed)
    tracking = f"refs/remotes/{remote}/{branch}"
    git.out("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}")
    return git.out("rev-parse", "--verify", f"{tracking}^{{commit}}")


def _read(git: Git, tip: str | None, path: str) -> list[str]:
    """The lines of the file at `tip` (each ending in a newline); none without a tip or file."""
    if tip is None:
        return []
    found = git.run("rev-parse", "--verify", "--quiet", f"{tip}:{path}")
    if found.returncode != 0:
        return []
    done = git.run("cat-file", "blob", found.stdout.decode().strip())
    if done.returncode != 0:
        raise git_error(("cat-file",), done)
    text = done.stdout.decode("utf-8", "replace")
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(True)]


def _commit(git: Git, parent: str | None, path: str, content: bytes, message: str) -> str:
    """A commit of `parent`'s tree with `path` := `content` (an orphan without a parent)."""
    blob = git.out("hash-object", "-w", "--stdin", stdin=content)
    with tempfile.TemporaryDirectory(prefix="mpctl-audit-") as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git.out("read-tree", *([parent] if parent else ["--empty"]), extra=index)
        git.out("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", extra=index)
        tree = git.out("write-tree", extra=index)
    parents = ["-p", parent] if parent else []
    return git.out("commit-tree", tree, *parents, "-m", message, extra=_identity(git))


def _identity(git: Git) -> dict[str, str]:
    """mpctl's name for the commit when git has none configured (a fresh CI runner)."""
    names = ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT")
    known = all(git.run("var", name).returncode == 0 for name in names)
    return {} if known else _FALLBACK_IDENTITY


def _advance_local_branch(git: Git, branch: str, commit: str) -> None:
    """Move the local branch to the pushed `commit` when it is missing or behind; a diverged
    local branch is left as it is."""
    ref = f"refs/heads/{branch}"
    current = git.run("rev-parse", "--verify", "--quiet", ref).stdout.decode().strip()
    if current and git.run("merge-base", "--is-ancestor", current, commit).returncode != 0:
        return
    git.out("update-ref", "-m", "mpctl audit push", ref, commit, current or "0" * len(commit))


def _push(git: Git, remote: str, commit: str, branch: str) -> bool:
    """True when pushed; False when the branch moved on the remote (fetch and try again)."""
    done = git.run("push", "--porcelain", remote, f"{commit}:refs/heads/{branch}")
    if done.returncode == 0:
        return True
    said = (done.stdout + done.stderr).decode("utf-8", "replace")
    if _MOVED_ON.search(said):
        return False
    raise git_error(("push",), done)
