"""`mpctl gitops drift` end to end: one issue per environment, for as long as drift lasts.

Drift is made as a person or a customer would make it: a description edited at Digdir by hand
(through the emulator's API), an Altinn delegation the customer revoked (the emulator's control
surface). Each night is one run of the real CLI.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mpctl.cli.environment import connect, open_workspace
from mpctl.model import ClientRegistration
from tests.e2e.gitops_support import (
    GitHub,
    Templates,
    change_delegation,
    copy_of,
    edit,
    github,
    github_server,
    gitops,
    gitops_templates,
    mpctl,
)

__all__ = ["github", "github_server", "gitops_templates"]
_SERVER_FIELDS = frozenset({"client_id", "created", "last_updated"})


def _edit_description_by_hand(project: Path, client: str, description: str) -> None:
    """What someone does in Samarbeidsportalen: a new description (mpctl's marker kept)."""

    async def go() -> None:
        async with connect(open_workspace(project, "local"), access="write") as (remote, _):
            for found in await remote.list_clients():
                marker = f"[mpctl:acme-platform/{client}]"
                if (found.description or "").endswith(marker):
                    current = (await remote.get_client(found.client_id)).model_dump(mode="json")
                    body = {k: v for k, v in current.items() if k not in _SERVER_FIELDS}
                    body["description"] = f"{description} {marker}"
                    await remote.update_client(
                        found.client_id, ClientRegistration.model_validate(body)
                    )
                    return
            raise AssertionError(f"no managed client {client}")

    asyncio.run(go())


def test_drift_opens_one_issue_keeps_it_one_and_closes_it_when_fixed(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = copy_of(gitops_templates.converged, tmp_path / "project")
    code, output = gitops(capsys, project, "drift", "-e", "local")
    assert code == 0, output
    assert github.issues() == []

    _edit_description_by_hand(project, "billing-invoices", "Edited in Samarbeidsportalen")
    code, output = gitops(capsys, project, "drift", "-e", "local")
    assert code == 2, output
    (issue,) = github.issues()
    assert issue.labels == ["mpctl:drift"]
    assert issue.title == "Maskinporten drift in local (313367002/acme-platform)"
    assert "`~ client/billing-invoices` will be updated in place" in (issue.body or "")

    code, output = gitops(capsys, project, "drift", "-e", "local")  # the next night
    assert code == 2, output
    (same,) = github.issues()
    assert same.number == issue.number
    assert github.comments(issue.number) == []  # what drifted did not change: no comment

    change_delegation(project, revoked=True)
    code, output = gitops(capsys, project, "drift", "-e", "local")
    assert code == 2, output
    (same,) = github.issues()
    (comment,) = github.comments(issue.number)
    assert "- new: `token reelle-supplier for 910753614: MP-251`" in comment.body

    change_delegation(project, revoked=False)
    code, output = mpctl(capsys, project, "apply", "-e", "local", "--auto-approve")
    assert code == 0, output
    code, output = gitops(capsys, project, "drift", "-e", "local")
    assert code == 0, output
    (closed,) = github.issues()
    assert (closed.state, closed.state_reason) == ("closed", "completed")
    assert "Drift is gone" in github.comments(issue.number)[-1].body


def test_a_revoked_delegation_is_drift_though_the_plan_has_no_changes(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = copy_of(gitops_templates.converged, tmp_path / "project")
    change_delegation(project, revoked=True)
    code, output = mpctl(capsys, project, "plan", "-e", "local", "--detailed-exitcode")
    assert code == 0, output  # the plan alone sees nothing
    code, output = gitops(capsys, project, "drift", "-e", "local")
    assert code == 2, output
    (issue,) = github.issues()
    assert "**Token checks that failed (verify) (1):**" in (issue.body or "")
    assert "`reelle-supplier for 910753614`: MP-251" in (issue.body or "")
    assert "Changes a plan would make" not in (issue.body or "")


def test_a_run_that_cannot_plan_fails_without_an_issue(
    gitops_templates: Templates,
    github: GitHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = copy_of(gitops_templates.converged, tmp_path / "project")
    edit(project, "resources/clients/brreg.yaml", "description: Reports", "descripton: Reports")
    code, output = gitops(capsys, project, "drift", "-e", "local")
    assert code == 1, output
    assert "the manifests have" in output
    assert github.issues() == []
