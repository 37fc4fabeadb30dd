"""`mpctl gitops plan` end to end: the embedded emulator, the fake GitHub, the real CLI.

One sticky comment per environment, updated in place; a plan apply-on-merge would refuse says
which label approves it; a failed plan is commented too; exit codes as `plan
--detailed-exitcode`, after the comment is posted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpctl.gitops import step_digest
from mpctl.plan import Plan
from tests.e2e import processes
from tests.e2e.gitops_support import (
    HEAD,
    PROJECT,
    RUN_ID,
    GitHub,
    Templates,
    copy_of,
    edit,
    github,
    github_server,
    gitops,
    gitops_templates,
)

__all__ = ["github", "github_server", "gitops_templates"]


def test_two_environments_get_two_comments_each_updated_in_place(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = copy_of(gitops_templates.fresh, tmp_path / "project")
    pr = github.open_pull()
    for env in ("local", "staging"):
        out = tmp_path / f"plan-{env}.json"
        code, output = gitops(
            capsys, project, "plan", "-e", env, "--pr", str(pr), "--out", str(out)
        )
        assert code == 2, output
        marker = github.marker(pr, "plan", env)
        assert marker.project == PROJECT
        assert marker.data["head"] == HEAD
        assert marker.data["steps"] == step_digest(Plan.from_json(out.read_text()))
    first = github.marked(pr, "plan")
    first_ids = {env: c.id for env, c in first.items()}
    first_bodies = {env: c.body for env, c in first.items()}  # the fake updates records in place
    assert sorted(first) == ["local", "staging"]
    assert "client/reelle-supplier" in first["local"].body
    assert "client/reelle-supplier" not in first["staging"].body  # `environments: [local, test]`
    assert f"/actions/runs/{RUN_ID}" in first["local"].body

    edit(project, "mpctl.yaml", "Billing team reads invoices", "Billing team reads all invoices")
    for env in ("local", "staging"):
        code, output = gitops(capsys, project, "plan", "-e", env, "--pr", str(pr))
        assert code == 2, output
        assert "Updated the plan comment" in output
    second = github.marked(pr, "plan")
    assert len(github.comments(pr)) == 2
    assert {env: c.id for env, c in second.items()} == first_ids
    assert all("Billing team reads all invoices" in c.body for c in second.values())
    assert all("Billing team reads all invoices" not in body for body in first_bodies.values())


def test_a_delete_without_its_label_is_commented_and_refused_until_labelled(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = copy_of(gitops_templates.converged, tmp_path / "project")
    edit(
        project,
        "resources/clients/brreg.yaml",
        "environments: [local, test]",
        "environments: [test]",
    )
    pr = github.open_pull()
    out = tmp_path / "plan.json"
    code, output = gitops(
        capsys, project, "plan", "-e", "local", "--pr", str(pr), "--out", str(out)
    )
    assert code == 1, output
    body = github.marked(pr, "plan")["local"].body
    assert github.marker(pr, "plan", "local").data["outcome"] == "refused"
    assert "**Apply on merge will refuse this plan:**" in body
    assert (
        "add the label `mpctl:allow-delete` to approve 1 delete(s): `client/reelle-supplier`"
        in body
    )
    assert json.loads(out.read_text())["options"]["allow_delete"] is False

    github.set_labels(pr, "mpctl:allow-delete")
    code, output = gitops(
        capsys, project, "plan", "-e", "local", "--pr", str(pr), "--out", str(out)
    )
    assert code == 2, output
    body = github.marked(pr, "plan")["local"].body
    assert "approved by the label `mpctl:allow-delete`" in body
    assert "refuse" not in body
    assert json.loads(out.read_text())["options"]["allow_delete"] is True


def test_a_plan_that_fails_is_commented_with_its_error_and_exits_1(
    gitops_templates: Templates, github: GitHub, tmp_path: Path
) -> None:
    project = copy_of(gitops_templates.fresh, tmp_path / "project")
    edit(project, "resources/clients/brreg.yaml", "description: Reports", "descripton: Reports")
    pr = github.open_pull()
    out = tmp_path / "plan.json"
    # the console entry point in its own process, with the job's environment variables
    done = processes.mpctl(
        project, "gitops", "plan", "-e", "local", "--pr", str(pr), "--out", str(out)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the manifests have" in done.stderr
    assert "Posted the plan comment for local" in done.stderr
    assert not out.exists()
    body = github.marked(pr, "plan")["local"].body
    assert github.marker(pr, "plan", "local").data == {
        "head": HEAD, "outcome": "failed", "steps": "none"
    }  # fmt: skip
    assert "**The plan failed:** the manifests have" in body
    assert "brreg.yaml:" in body
    assert "**What to do:**" in body
