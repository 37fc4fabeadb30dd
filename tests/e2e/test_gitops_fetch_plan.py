"""`mpctl gitops apply` without `--reviewed`: the plan comment's marker names the plan job's run
and artifact; apply lists that run's artifacts on the fake GitHub, downloads the zip through
the signed redirect and reads the one plan inside, then goes on as with `--reviewed`.

A plan that cannot be fetched (no run recorded, an expired or missing artifact) or an archive
that holds anything but one plain file is never applied: the sticky apply comment says what
happened and what to do, and the command exits 1. The zip reader's refusals are also checked
directly on crafted archives (symlinks, encryption, sizes that lie).
"""

from __future__ import annotations

import io
import json
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from mpctl.gitops import ReviewedPlanUnavailable, plan_file_from_zip
from tests.e2e.gitops_support import (
    MERGE,
    REPO,
    RUN_ID,
    GitHub,
    Templates,
    copy_of,
    github,
    github_server,
    gitops,
    gitops_templates,
    mpctl,
)

__all__ = ["github", "github_server", "gitops_templates"]

_PUSH_RUN = "5151"
"""The merge's own workflow run (not the one that saved the plan)."""


def _zip(*members: tuple[str | zipfile.ZipInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members:
            bundle.writestr(name, data)
    return buffer.getvalue()


def _plan_job(
    capsys: pytest.CaptureFixture[str],
    project: Path,
    github: GitHub,
    out: Path,
    *extra: str,
    expected: int = 2,
) -> int:
    """The PR's plan job: `gitops plan --out`, as the plan action runs it; the PR's number."""
    pr = github.open_pull()
    code, output = gitops(
        capsys, project, "plan", "-e", "local", "--pr", str(pr), "--out", str(out), *extra
    )
    assert code == expected, output
    return pr


def _merge_job(
    capsys: pytest.CaptureFixture[str],
    github: GitHub,
    project: Path,
    pr: int,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int, str, str]:
    """The push-to-main job after the merge: `gitops apply -e local`, nothing else given."""
    github.merge(pr)
    monkeypatch.setenv("GITHUB_SHA", MERGE)
    monkeypatch.setenv("GITHUB_RUN_ID", _PUSH_RUN)
    code, output = gitops(capsys, project, "apply", "-e", "local")
    return code, output, github.marked(pr, "apply")["local"].body


def _nothing_applied(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    code, output = mpctl(capsys, project, "plan", "-e", "local", "--detailed-exitcode")
    assert code == 2, f"something was applied: {output}"


def test_the_plan_runs_artifact_is_fetched_and_applied_on_merge(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = copy_of(gitops_templates.fresh, tmp_path / "project")
    saved = tmp_path / "runner" / "plan-local.json"
    pr = _plan_job(capsys, project, github, saved)
    marker = github.marker(pr, "plan", "local")
    assert marker.data["run"] == RUN_ID
    assert marker.data["artifact"] == "mpctl-plan-local"
    # what actions/upload-artifact stores: the one file, by its base name; beside it the other
    # environment's plan, and an older upload of the same name that has expired
    fake, run = github.fake, int(RUN_ID)
    plan = saved.read_bytes()
    fake.add_artifact(REPO, run_id=run, name="mpctl-plan-local", content=b"old", expired=True)
    chosen = fake.add_artifact(
        REPO, run_id=run, name="mpctl-plan-local", content=_zip(("plan-local.json", plan))
    )
    fake.add_artifact(REPO, run_id=run, name="mpctl-plan-staging", content=_zip(("x.json", b"")))
    saved.unlink()  # the merge job has no file of the PR job's

    code, output, body = _merge_job(capsys, github, project, pr, monkeypatch)
    assert code == 0, output
    assert (
        f"Fetched the reviewed plan: plan-local.json in artifact mpctl-plan-local of workflow "
        f"run {RUN_ID} (artifact id {chosen})." in output
    )
    assert "**Applied:**" in body
    assert "✓ done `client/billing-invoices`" in body
    assert github.marker(pr, "apply", "local").data == {"commit": MERGE, "outcome": "applied"}
    assert f"GET /repos/{REPO}/actions/runs/{RUN_ID}/artifacts?per_page=100" in fake.requests
    assert any(r.startswith(f"GET /_signed/{chosen}?") for r in fake.requests)
    code, output = mpctl(capsys, project, "plan", "-e", "local", "--detailed-exitcode")
    assert code == 0, output
    assert fake.violations == []


def test_a_plan_that_cannot_be_fetched_is_not_applied_and_the_comment_says_why(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = copy_of(gitops_templates.fresh, tmp_path / "project")
    saved = tmp_path / "plan.json"
    pr = _plan_job(capsys, project, github, saved, "--artifact-name", "plans-{env}")
    assert github.marker(pr, "plan", "local").data["artifact"] == "plans-local"
    run = int(RUN_ID)
    content = _zip(("plan.json", saved.read_bytes()))
    # the upload went under another name than the plan job was told
    github.fake.add_artifact(REPO, run_id=run, name="mpctl-plan-local", content=content)

    code, output, body = _merge_job(capsys, github, project, pr, monkeypatch)
    assert code == 1, output
    assert (
        f"**Nothing was applied:** workflow run {RUN_ID} has no artifact named plans-local" in body
    )
    assert "re-run the pull request's plan job" in body
    assert "**What to do:**" in body
    _nothing_applied(capsys, project)

    github.fake.add_artifact(REPO, run_id=run, name="plans-local", content=content, expired=True)
    code, output = gitops(capsys, project, "apply", "-e", "local")
    assert code == 1, output
    body = github.marked(pr, "apply")["local"].body
    assert f"artifact plans-local of workflow run {RUN_ID} has expired" in body
    assert "re-run the pull request's plan job" in body
    assert "has expired" in output

    # a plan comment written by an older mpctl, or outside GitHub Actions: no run recorded
    monkeypatch.delenv("GITHUB_RUN_ID")
    code, output = gitops(
        capsys, project, "plan", "-e", "local", "--pr", str(pr), "--out", str(saved)
    )
    assert code == 2, output
    assert "GITHUB_RUN_ID is not set" in output
    assert "run" not in github.marker(pr, "plan", "local").data
    code, output = gitops(capsys, project, "apply", "-e", "local")
    assert code == 1, output
    body = github.marked(pr, "apply")["local"].body
    assert "does not say which workflow run saved its plan" in body
    assert "`--reviewed FILE`" in body
    _nothing_applied(capsys, project)
    # `--reviewed` still works, and takes precedence
    code, output = gitops(capsys, project, "apply", "-e", "local", "--reviewed", str(saved))
    assert code == 0, output
    assert github.fake.violations == []


def test_an_archive_with_a_traversal_name_or_two_files_is_refused(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = copy_of(gitops_templates.fresh, tmp_path / "project")
    saved = tmp_path / "plan.json"
    pr = _plan_job(capsys, project, github, saved)
    plan = saved.read_bytes()
    archives = {
        "its member name '../plan.json' is not a plain relative path": _zip(("../plan.json", plan)),
        "it holds 2 members ('plan.json', 'notes.txt'), not the one plan file": _zip(
            ("plan.json", plan), ("notes.txt", b"hello")
        ),
    }
    github.merge(pr)
    monkeypatch.setenv("GITHUB_SHA", MERGE)
    for problem, archive in archives.items():
        github.fake.add_artifact(REPO, run_id=int(RUN_ID), name="mpctl-plan-local", content=archive)
        code, output = gitops(capsys, project, "apply", "-e", "local")
        assert code == 1, output
        body = github.marked(pr, "apply")["local"].body
        assert (
            f"**Nothing was applied:** artifact mpctl-plan-local of workflow run {RUN_ID} is "
            f"refused: {problem}" in body
        )
    _nothing_applied(capsys, project)
    assert github.fake.violations == []


# --- the zip reader on crafted archives ------------------------------------------------------


def _symlink() -> bytes:
    info = zipfile.ZipInfo("plan.json")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip((info, b"/etc/passwd"))


def _twice() -> bytes:
    """One name twice (zipfile warns, and writes it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _zip(("a.json", b"{}"), ("a.json", b"{}"))


def _encrypted() -> bytes:
    data = bytearray(_zip(("plan.json", b"{}")))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + flags_at
        data[at : at + 2] = struct.pack("<H", struct.unpack("<H", data[at : at + 2])[0] | 1)
    return bytes(data)


def _understated(size: int) -> bytes:
    """A member whose central directory claims 10 bytes for `size` bytes of data."""
    data = bytearray(_zip(("plan.json", b"x" * size)))
    at = data.index(b"PK\x01\x02") + 24
    data[at : at + 4] = struct.pack("<I", 10)
    return bytes(data)


@pytest.mark.parametrize(
    ("archive", "problem"),
    [
        pytest.param(_zip(), "it is empty", id="empty"),
        pytest.param(b"not a zip", "it is not a readable zip archive", id="not-a-zip"),
        pytest.param(_zip(("/tmp/plan.json", b"{}")), "not a plain relative path", id="absolute"),
        pytest.param(
            _zip(("a\\..\\plan.json", b"{}")), "not a plain relative path", id="backslash"
        ),
        pytest.param(_zip(("C:plan.json", b"{}")), "not a plain relative path", id="drive"),
        pytest.param(_zip(("plans/./plan.json", b"{}")), "not a plain relative path", id="dot"),
        pytest.param(_zip(("plans/", b"")), "not a plain relative path", id="directory"),
        pytest.param(_symlink(), "'plan.json' is a symbolic link", id="symlink"),
        pytest.param(_encrypted(), "'plan.json' is encrypted", id="encrypted"),
        pytest.param(_twice(), "holds 2 members", id="twice"),
        pytest.param(
            _zip(("plan.json", b"0" * 5000)), "larger than 4,096 bytes (5,000)", id="too-large"
        ),
        pytest.param(_understated(50_000), "not a readable zip archive", id="size-lies"),
    ],
)
def test_the_zip_reader_refuses_anything_but_one_plain_file(archive: bytes, problem: str) -> None:
    with pytest.raises(ReviewedPlanUnavailable) as refused:
        plan_file_from_zip(archive, limit=4096, what="the archive")
    assert refused.value.reason.startswith("the archive is refused: ")
    assert problem in refused.value.reason


def test_the_zip_reader_reads_the_one_file_in_a_folder() -> None:
    document = json.dumps({"format_version": "x"}).encode()
    assert plan_file_from_zip(_zip(("plans/plan.json", document))) == ("plans/plan.json", document)
