"""`mpctl gitops apply` end to end: apply on merge runs only the plan reviewed on the PR.

The plan job (`gitops plan --out`) saves the reviewed plan and comments; the merge job gets the
file and the merge commit (GITHUB_SHA), finds the merged PR, plans again and applies only a
match, with the PR's approval labels. Every outcome is a sticky `apply` comment on the PR.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.gitops_support import (
    MERGE,
    GitHub,
    Templates,
    copy_of,
    edit,
    github,
    github_server,
    gitops,
    gitops_templates,
    mpctl,
)

__all__ = ["github", "github_server", "gitops_templates"]

_BRREG = "resources/clients/brreg.yaml"


def _review(
    capsys: pytest.CaptureFixture[str], project: Path, pr: int, out: Path, expected: int = 2
) -> None:
    code, output = gitops(
        capsys, project, "plan", "-e", "local", "--pr", str(pr), "--out", str(out)
    )
    assert code == expected, output


def test_the_reviewed_plan_is_applied_on_merge(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = copy_of(gitops_templates.fresh, tmp_path / "project")
    pr, reviewed = github.open_pull(), tmp_path / "plan.json"
    _review(capsys, project, pr, reviewed)
    args = ("apply", "-e", "local", "--reviewed", str(reviewed))
    code, output = gitops(capsys, project, *args, "--pr", str(pr))
    assert code == 1, output
    assert "is not merged" in github.marked(pr, "apply")["local"].body

    github.merge(pr)
    monkeypatch.setenv("GITHUB_SHA", MERGE)
    code, output = gitops(capsys, project, *args)
    assert code == 0, output
    body = github.marked(pr, "apply")["local"].body
    assert "**Applied:**" in body
    assert "✓ done `client/billing-invoices`" in body
    assert github.marker(pr, "apply", "local").data == {"commit": MERGE, "outcome": "applied"}
    assert (project / ".mpctl" / "local" / "audit.jsonl").is_file()
    code, output = mpctl(capsys, project, "plan", "-e", "local", "--detailed-exitcode")
    assert code == 0, output


def test_a_plan_that_changed_between_review_and_merge_is_not_applied(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = copy_of(gitops_templates.fresh, tmp_path / "project")
    pr, reviewed = github.open_pull(), tmp_path / "plan.json"
    _review(capsys, project, pr, reviewed)
    # another pull request merged first: main now describes the billing client otherwise
    edit(project, "mpctl.yaml", "Billing team reads invoices", "Billing team reads all invoices")
    github.merge(pr)

    code, output = gitops(
        capsys, project, "apply", "-e", "local", "--reviewed", str(reviewed), "--pr", str(pr)
    )
    assert code == 1, output
    body = github.marked(pr, "apply")["local"].body
    assert "**Nothing was applied: the plan changed between review and merge.**" in body
    assert "- changed: `+ client/billing-invoices` will be created (body, changes differ)" in body
    assert "Billing team reads all invoices" in body
    assert "**What to do:**" in body
    code, output = mpctl(capsys, project, "plan", "-e", "local", "--detailed-exitcode")
    assert code == 2, "something was applied"

    # a plan file that is not the one the PR's comment shows is refused as well
    edit(project, "mpctl.yaml", "Billing team reads all invoices", "Billing team reads invoices")
    other = tmp_path / "other.json"
    code, output = mpctl(capsys, project, "plan", "-e", "staging", "--out", str(other))
    code, output = gitops(
        capsys, project, "apply", "-e", "local", "--reviewed", str(other), "--pr", str(pr)
    )
    assert code == 1, output
    assert (
        "is not the plan the pull request's comment shows"
        in github.marked(pr, "apply")["local"].body
    )


def test_a_delete_is_applied_only_with_its_label(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = copy_of(gitops_templates.converged, tmp_path / "project")
    edit(project, _BRREG, "environments: [local, test]", "environments: [test]")
    pr, reviewed = github.open_pull("mpctl:allow-delete"), tmp_path / "plan.json"
    _review(capsys, project, pr, reviewed)
    github.set_labels(pr)  # someone removed the label before the merge
    github.merge(pr)
    monkeypatch.setenv("GITHUB_SHA", MERGE)

    code, output = gitops(capsys, project, "apply", "-e", "local", "--reviewed", str(reviewed))
    assert code == 1, output
    comment = github.marked(pr, "apply")["local"]
    assert "**Nothing was applied: the plan needs approval.**" in comment.body
    assert "add the label `mpctl:allow-delete`" in comment.body
    assert "re-run this job" in comment.body

    github.set_labels(pr, "mpctl:allow-delete")
    code, output = gitops(capsys, project, "apply", "-e", "local", "--reviewed", str(reviewed))
    assert code == 0, output
    again = github.marked(pr, "apply")["local"]
    assert again.id == comment.id
    assert "✓ done `client/reelle-supplier`" in again.body
    code, output = mpctl(capsys, project, "plan", "-e", "local", "--detailed-exitcode")
    assert code == 0, output
