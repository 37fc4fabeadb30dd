"""Putting GitOps bodies on GitHub: sticky comments and the drift issue, found by marker.

Owns finding mpctl's own comment or issue again (the marker on its first line, and for
comments the login mpctl posts as, so a comment someone else wrote with a copied marker is
never taken for mpctl's), updating it in place or creating it once, and the drift issue's life:
created on the first drift, its body updated while drift lasts (a short comment only when what
drifted changed), closed with a comment (reason `completed`) when drift is gone. Everything
GitHub-specific goes through `GitHubRepo`; what the bodies say is decided by the pure modules.
Must not plan, apply or decide what a body says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from mpctl.gitops.drift import (
    DRIFT_LABEL,
    LABEL_COLOR,
    LABEL_DESCRIPTION,
    DriftReport,
    change_comment,
    closing_comment,
    drift_since,
    issue_body,
    issue_title,
)
from mpctl.gitops.github import Comment, GitHubRepo, Issue
from mpctl.gitops.markers import DRIFT, Marker, parse_marker
from mpctl.gitops.plan_comment import Links

DEFAULT_AUTHOR = "github-actions[bot]"
"""The login comments made with a workflow's GITHUB_TOKEN are by."""


def find_comment(repo: GitHubRepo, number: int, marker: Marker, *, author: str) -> Comment | None:
    """mpctl's comment for `marker`'s place on issue or pull request `number` (the oldest, if
    an interrupted run left two), or None."""
    for comment in repo.comments(number):
        found = parse_marker(comment.body)
        if found is not None and found.same_place(marker) and comment.author == author:
            return comment
    return None


def upsert_comment(
    repo: GitHubRepo, number: int, body: str, *, author: str
) -> tuple[Comment, bool]:
    """Update mpctl's comment for the body's marker in place, or create it; True if created."""
    marker = parse_marker(body)
    if marker is None:
        raise ValueError("a sticky comment starts with its marker")
    existing = find_comment(repo, number, marker, author=author)
    if existing is None:
        return repo.create_comment(number, body), True
    if existing.body == body:
        return existing, False
    return repo.update_comment(existing.id, body), False


DriftAction = Literal["opened", "updated", "unchanged", "closed", "none"]


@dataclass(frozen=True)
class DriftIssueResult:
    """What the drift run did to the issue, and the issue (None when there is none)."""

    action: DriftAction
    issue: Issue | None


def sync_drift_issue(
    repo: GitHubRepo,
    project: str,
    env: str,
    report: DriftReport,
    *,
    checked: datetime,
    links: Links,
) -> DriftIssueResult:
    """Open, update or close the one drift issue of `project` and `env` to match `report`."""
    place = Marker(DRIFT, project, env)
    issue = _open_drift_issue(repo, place)
    if not report.drifted:
        if issue is None:
            return DriftIssueResult("none", None)
        repo.create_comment(issue.number, closing_comment(checked=checked, links=links))
        closed = repo.update_issue(issue.number, state="closed", state_reason="completed")
        return DriftIssueResult("closed", closed)
    if issue is None:
        repo.ensure_label(DRIFT_LABEL, color=LABEL_COLOR, description=LABEL_DESCRIPTION)
        body = issue_body(project, env, report, since=checked, checked=checked, links=links)
        created = repo.create_issue(
            title=issue_title(project, env), body=body, labels=[DRIFT_LABEL]
        )
        return DriftIssueResult("opened", created)
    since = drift_since(issue.body, project, env) or checked
    body = issue_body(project, env, report, since=since, checked=checked, links=links)
    comment = change_comment(issue.body, report, checked=checked, links=links)
    updated = repo.update_issue(issue.number, body=body)
    if comment is None:
        return DriftIssueResult("unchanged", updated)
    repo.create_comment(issue.number, comment)
    return DriftIssueResult("updated", updated)


def _open_drift_issue(repo: GitHubRepo, place: Marker) -> Issue | None:
    """The open drift issue for `place` (the oldest, if two were ever opened)."""
    for issue in repo.issues(labels=[DRIFT_LABEL], state="open"):
        found = parse_marker(issue.body)
        if found is not None and found.same_place(place):
            return issue
    return None
