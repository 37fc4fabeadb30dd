"""`mpctl gitops plan|apply|drift`: the logic behind the pull-request, merge and nightly jobs.

Wiring only: each command plans (and applies or verifies) in-process as `mpctl plan`, `apply`
and `verify` do, hands the outcome to the pure composers in `mpctl.gitops`, and puts the result
on GitHub through `GitHubRepo` (GITHUB_REPOSITORY, GITHUB_TOKEN or GH_TOKEN, GITHUB_API_URL).
Links to the run come from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID. The plan
comment's marker records the run (GITHUB_RUN_ID) and the artifact name the saved plan is
uploaded under; without `--reviewed`, apply fetches that artifact (`mpctl.gitops.artifacts`).
Exit codes:

- plan: 0 no changes, 2 changes (as `plan --detailed-exitcode`), 1 the plan failed, has
  errors or needs an approval label it lacks; always after the comment is posted;
- apply: 0 applied or nothing to do, 1 refused (not the reviewed plan, a reviewed plan that
  cannot be fetched, a changed plan, a missing label) or failed, 130 interrupted;
- drift: 0 no drift (an open drift issue is closed), 2 drift (the issue is opened or updated),
  1 the run could not plan or verify (no issue is touched).

A GitHub failure is exit 1 with GitHub's message. Tokens never reach the output.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from mpctl.apply import LockInfo
from mpctl.cli import clock, console
from mpctl.cli.commands.apply import audit_trail, run_apply
from mpctl.cli.commands.plan import compute_plan, show_plan
from mpctl.cli.commands.verify import CheckResult, MissingKey, collect_checks, run_checks
from mpctl.cli.environment import Workspace, open_workspace
from mpctl.cli.locking import open_lock
from mpctl.cli.options import DEFAULT_MANIFESTS, ManifestsOption
from mpctl.cli.output import read_plan, write_plan
from mpctl.errors import MpctlError, UserError
from mpctl.gitops import (
    DEFAULT_ARTIFACT_NAME,
    DEFAULT_AUTHOR,
    NO_STEPS,
    PLAN,
    Applied,
    ApplyFailed,
    ApplyOutcome,
    ApprovalLabels,
    DriftReport,
    GitHubRepo,
    Links,
    Marker,
    NeedsApproval,
    NotReviewed,
    PlanChanged,
    PlanFailure,
    PullRequest,
    ReviewedPlan,
    ReviewedPlanUnavailable,
    StepResult,
    TokenFailure,
    apply_comment_body,
    apply_exit_code,
    apply_verdict,
    artifact_name,
    compare_plans,
    fetch_reviewed_plan,
    find_comment,
    missing_approvals,
    needed_approvals,
    parse_marker,
    plan_comment_body,
    plan_exit_code,
    saved_plan,
    saved_plan_fields,
    step_digest,
    sync_drift_issue,
    upsert_comment,
    with_marker_data,
)
from mpctl.manifests import load, load_project
from mpctl.plan import Plan, PlanOptions, project_identity
from mpctl.redaction import redact_text

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

GitOpsEnvOption = Annotated[
    str,
    typer.Option("--env", "-e", envvar="MPCTL_ENV", help="Environment name (required)."),
]
AuthorOption = Annotated[
    str,
    typer.Option(
        "--author",
        envvar="MPCTL_GITHUB_AUTHOR",
        help="The login mpctl's comments are by: only its comments are updated (a GitHub App "
        "or personal token posts as another login).",
    ),
]
DeleteLabelOption = Annotated[
    str,
    typer.Option(
        "--delete-label",
        envvar="MPCTL_DELETE_LABEL",
        help="The pull-request label that approves deletes ({env}: the environment).",
    ),
]
ReplaceLabelOption = Annotated[
    str,
    typer.Option(
        "--replace-label",
        envvar="MPCTL_REPLACE_LABEL",
        help="The label that approves replacements ({env}: the environment).",
    ),
]
ProtectedLabelOption = Annotated[
    str,
    typer.Option(
        "--protected-label",
        envvar="MPCTL_PROTECTED_LABEL",
        help="The label that approves deletes and replacements on a protected environment.",
    ),
]
ArtifactNameOption = Annotated[
    str,
    typer.Option(
        "--artifact-name",
        envvar="MPCTL_ARTIFACT_NAME",
        help="The artifact name the workflow uploads the saved plan (--out) under ({env}: the "
        "environment). The plan comment records it with the run (GITHUB_RUN_ID), so "
        "`gitops apply` can fetch the plan.",
    ),
]
_DEFAULT_LABELS = ApprovalLabels()


@app.command("plan")
def gitops_plan(
    env: GitOpsEnvOption,
    pr: Annotated[int, typer.Option("--pr", help="The pull request to comment on.", min=1)],
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    out: Annotated[
        Path | None, typer.Option("--out", help="Save the plan here (the workflow's artifact).")
    ] = None,
    artifact_url: Annotated[
        str | None,
        typer.Option("--artifact-url", help="Where the saved plan can be downloaded (linked)."),
    ] = None,
    delete_label: DeleteLabelOption = _DEFAULT_LABELS.delete,
    replace_label: ReplaceLabelOption = _DEFAULT_LABELS.replace,
    protected_label: ProtectedLabelOption = _DEFAULT_LABELS.protected,
    artifact: ArtifactNameOption = DEFAULT_ARTIFACT_NAME,
    author: AuthorOption = DEFAULT_AUTHOR,
) -> int:
    """Plan for a pull request and upsert its sticky plan comment for this environment."""
    labels = ApprovalLabels(delete_label, replace_label, protected_label)
    saved_as = artifact_name(artifact, env)
    with _github() as repo:
        pull = repo.pull_request(pr)
        project, outcome = _pull_request_plan(manifests, env, labels, pull)
        links = Links(pull.head_sha, artifact_url, _run_url(os.environ))
        body = plan_comment_body(project, env, outcome, links)
        if isinstance(outcome, ReviewedPlan) and out is not None:
            write_plan(out, outcome.plan)
            body = with_marker_data(body, **_saved_plan_record(out, saved_as))
        comment, created = upsert_comment(repo, pr, body, author=author)
    verb = "Posted" if created else "Updated"
    console.stderr().print(f"{verb} the plan comment for {env}: {comment.html_url}")
    return plan_exit_code(outcome)


@app.command("apply")
def gitops_apply(
    env: GitOpsEnvOption,
    reviewed: Annotated[
        Path | None,
        typer.Option(
            "--reviewed",
            help="The plan saved by `gitops plan` on the PR. [default: fetched from the "
            "artifact of the PR's plan run that its plan comment names]",
        ),
    ] = None,
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    pr: Annotated[
        int | None,
        typer.Option("--pr", help="The merged pull request (default: GITHUB_SHA's).", min=1),
    ] = None,
    commit: Annotated[
        str | None,
        typer.Option("--commit", envvar="GITHUB_SHA", help="The merge commit being applied."),
    ] = None,
    audit_log: Annotated[
        Path | None,
        typer.Option(
            "--audit-log",
            help="Append the audit trail here. [default: .mpctl/<env>/audit.jsonl]",
        ),
    ] = None,
    audit: Annotated[
        bool, typer.Option("--audit/--no-audit", help="Write the audit trail (on by default).")
    ] = True,
    delete_label: DeleteLabelOption = _DEFAULT_LABELS.delete,
    replace_label: ReplaceLabelOption = _DEFAULT_LABELS.replace,
    protected_label: ProtectedLabelOption = _DEFAULT_LABELS.protected,
    author: AuthorOption = DEFAULT_AUTHOR,
) -> int:
    """Apply on merge, only when the plan called for now is the one reviewed on the PR."""
    labels = ApprovalLabels(delete_label, replace_label, protected_label)
    with _github() as repo:
        pull = repo.pull_request(pr) if pr is not None else _merged_pull(repo, commit)
        merge = ReviewedMerge(repo, pull, env, labels, author)
        project, outcome = merge.apply(manifests, reviewed, audit_log, audit=audit)
        links = Links(commit or pull.merge_commit_sha, None, _run_url(os.environ))
        comment, _ = upsert_comment(
            repo, pull.number, apply_comment_body(project, env, outcome, links), author=author
        )
    _print_apply_outcome(outcome, comment.html_url)
    return apply_exit_code(outcome)


@app.command("drift")
def gitops_drift(env: GitOpsEnvOption, manifests: ManifestsOption = DEFAULT_MANIFESTS) -> int:
    """Plan and verify; keep the environment's one drift issue open exactly while drift lasts."""
    with _github() as repo:
        workspace = open_workspace(manifests, env)
        plan = asyncio.run(compute_plan(workspace, PlanOptions()))
        show_plan(plan, "text")
        report = DriftReport(plan, _token_failures(workspace))
        result = sync_drift_issue(
            repo,
            project_identity(workspace.desired),
            env,
            report,
            checked=clock.now(),
            links=Links(run_url=_run_url(os.environ)),
        )
    where = f": {result.issue.html_url}" if result.issue else ""
    if report.drifted:
        console.warning(
            f"Drift in {env}: {len(report.findings)} finding(s); issue {result.action}{where}"
        )
        return 2
    console.success(
        f"No drift in {env}" + (f"; closed{where}" if result.action == "closed" else ".")
    )
    return 0


# --- plan ---------------------------------------------------------------------------------


def _pull_request_plan(
    manifests: Path, env: str, labels: ApprovalLabels, pull: PullRequest
) -> tuple[str, ReviewedPlan | PlanFailure]:
    """The plan for the pull request's labels, or why it could not be made."""
    try:
        workspace = open_workspace(manifests, env)
    except UserError as exc:
        failure = PlanFailure(*_redacted(exc), problems=_manifest_problems(manifests, env))
        console.error(exc.message, exc.hint)
        return _configured_project(manifests), failure
    project = project_identity(workspace.desired)
    granted = labels.granted(pull.labels, env)
    try:
        plan = asyncio.run(compute_plan(workspace, _options(granted)))
    except MpctlError as exc:
        console.error(exc.message, exc.hint)
        return project, PlanFailure(*_redacted(exc))
    show_plan(plan, "text")
    needed = needed_approvals(plan, labels, env=env, protected=workspace.environment.protected)
    return project, ReviewedPlan(plan, needed, granted)


def _manifest_problems(manifests: Path, env: str) -> tuple[str, ...]:
    """The manifests' errors as `FILE:LINE: CODE message` lines (and their hints)."""
    result = load(manifests, env)
    lines: list[str] = []
    for finding in result.errors:
        lines += redact_text(finding.format()).split("\n")
    return tuple(lines)


def _configured_project(manifests: Path) -> str:
    """The project's identity from mpctl.yaml alone ('<orgno>/<project>'), or the manifests
    directory when even mpctl.yaml cannot be read."""
    project, _ = load_project(manifests)
    if project is None:
        return str(manifests)
    orgno = project.config.organisation.orgno
    return f"{orgno}/{project.config.project}" if project.config.project else orgno


def _saved_plan_record(out: Path, saved_as: str) -> dict[str, str]:
    """The marker fields saying where `gitops apply` finds the saved plan, said on stderr."""
    fields = saved_plan_fields(os.environ.get("GITHUB_RUN_ID"), saved_as)
    if "run" in fields:
        console.stderr().print(
            f"Saved the plan to {out}; the comment names it as artifact {saved_as} of run "
            f"{fields['run']}."
        )
    else:
        console.warning(
            f"Saved the plan to {out}, but GITHUB_RUN_ID is not set: `gitops apply` cannot "
            "fetch this plan and needs `--reviewed FILE`."
        )
    return fields


# --- apply --------------------------------------------------------------------------------


class ReviewedMerge:
    """One merged pull request's apply: the checks in order, then `run_apply`."""

    def __init__(
        self, repo: GitHubRepo, pull: PullRequest, env: str, labels: ApprovalLabels, author: str
    ) -> None:
        self.repo, self.pull, self.env, self.labels, self.author = repo, pull, env, labels, author

    def apply(
        self, manifests: Path, reviewed: Path | None, audit_log: Path | None, *, audit: bool
    ) -> tuple[str, ApplyOutcome]:
        try:
            workspace = open_workspace(manifests, self.env)
        except UserError as exc:
            return _configured_project(manifests), ApplyFailed(*_redacted(exc))
        project = project_identity(workspace.desired)
        if not self.pull.merged:
            reason = f"pull request #{self.pull.number} is not merged; only a merge is applied"
            return project, NotReviewed(reason)
        try:
            return project, self._apply(workspace, project, reviewed, audit_log, audit=audit)
        except MpctlError as exc:
            console.error(exc.message, exc.hint)
            return project, ApplyFailed(*_redacted(exc))

    def _apply(
        self,
        workspace: Workspace,
        project: str,
        reviewed_file: Path | None,
        audit_log: Path | None,
        *,
        audit: bool,
    ) -> ApplyOutcome:
        shown = self._shown_plan(project)
        if isinstance(shown, NotReviewed):
            return shown
        found = self._reviewed_plan(reviewed_file, shown)
        if isinstance(found, NotReviewed):
            return found
        reviewed, source = found
        digest, shown_digest = step_digest(reviewed), shown.data.get("steps") or "unknown"
        if digest != shown_digest:
            return NotReviewed(
                f"{source} (steps {digest[:19]}) is not the plan the pull request's comment "
                f"shows (steps {shown_digest[:19]})"
            )
        granted = self.labels.granted(self.pull.labels, self.env)
        options = _options(granted)
        fresh = asyncio.run(compute_plan(workspace, options))
        difference = compare_plans(reviewed, fresh)
        if not difference.matches:
            return PlanChanged(reviewed, fresh, difference)
        needed = needed_approvals(
            fresh, self.labels, env=self.env, protected=workspace.environment.protected
        )
        missing = missing_approvals(needed, granted)
        if missing:
            return NeedsApproval(missing)
        if not fresh.has_changes:
            return Applied(fresh)
        return self._run(workspace, fresh, options, audit_log, audit=audit)

    def _shown_plan(self, project: str) -> Marker | NotReviewed:
        """The marker of the plan the pull request's comment shows, or why there is none."""
        comment = find_comment(
            self.repo, self.pull.number, Marker(PLAN, project, self.env), author=self.author
        )
        marker = parse_marker(comment.body) if comment is not None else None
        if marker is None:
            return NotReviewed(
                f"pull request #{self.pull.number} has no plan comment for {self.env} by "
                f"{self.author}: no plan was reviewed"
            )
        if marker.data.get("steps") == NO_STEPS:
            return NotReviewed(f"the last plan for {self.env} on the pull request failed")
        return marker

    def _reviewed_plan(self, file: Path | None, shown: Marker) -> tuple[Plan, str] | NotReviewed:
        """The reviewed plan (from `file`, else the artifact `shown` names) and what it is."""
        if file is not None:
            try:
                return read_plan(file), "the plan file"
            except UserError as exc:
                reason = f"the reviewed plan cannot be read: {redact_text(exc.message)}"
                return NotReviewed(reason)
        try:
            saved = saved_plan(shown)
            fetched = fetch_reviewed_plan(self.repo, saved)
        except ReviewedPlanUnavailable as exc:
            return NotReviewed(redact_text(exc.reason))
        console.stderr().print(
            f"Fetched the reviewed plan: {fetched.member} in {saved.describe()} "
            f"(artifact id {fetched.artifact.id})."
        )
        return fetched.plan, f"the plan in {saved.describe()}"

    def _run(
        self,
        workspace: Workspace,
        fresh: Plan,
        options: PlanOptions,
        audit_log: Path | None,
        *,
        audit: bool,
    ) -> Applied:
        lock = open_lock(workspace, _took_over)
        state = workspace.directory / ".mpctl" / workspace.env_name
        trail_path = (audit_log or state / "audit.jsonl") if audit else None
        with (
            lock.held(f"mpctl gitops apply -e {workspace.env_name} (PR #{self.pull.number})"),
            audit_trail(workspace, trail_path, pr=self.pull.number) as trail,
        ):
            run = asyncio.run(run_apply(workspace, fresh, options, auto_approve=True, audit=trail))
        results = tuple(
            StepResult(str(o.address), o.status.value, o.message)
            for o in run.progress.report().outcomes
        )
        return Applied(fresh, results, interrupted=run.interrupted)


def _merged_pull(repo: GitHubRepo, commit: str | None) -> PullRequest:
    """The merged pull request whose merge commit is `commit`."""
    if not commit:
        raise UserError(
            "no pull request to apply: pass --pr N or set GITHUB_SHA to the merge commit",
            hint="in a push workflow GITHUB_SHA is set for you",
        )
    pulls = [p for p in repo.pulls_for_commit(commit) if p.merged]
    exact = [p for p in pulls if p.merge_commit_sha == commit]
    chosen = exact or pulls
    if not chosen:
        raise UserError(
            f"commit {commit[:12]} is not the merge of a pull request: nothing was reviewed, "
            "so nothing is applied",
            hint="apply on merge runs only plans reviewed on a pull request; merge through one",
        )
    return min(chosen, key=lambda p: p.number)


def _print_apply_outcome(outcome: ApplyOutcome, url: str) -> None:
    verdict = apply_verdict(outcome)
    if isinstance(outcome, Applied) and outcome.ok:
        console.success(f"gitops apply: {verdict}; comment: {url}")
        return
    reason = ""
    if isinstance(outcome, NotReviewed):
        reason = f": {outcome.reason}"
    elif isinstance(outcome, PlanChanged):
        reason = ": the plan changed between review and merge"
    elif isinstance(outcome, NeedsApproval):
        reason = ": missing label(s) " + ", ".join(a.label for a in outcome.missing)
    console.error(f"gitops apply: {verdict}{reason}; nothing else was done. Comment: {url}")


def _took_over(holder: LockInfo) -> None:
    console.warning(f"Took over the environment lock of a run that is gone: {holder.describe()}.")


# --- drift --------------------------------------------------------------------------------


def _token_failures(workspace: Workspace) -> tuple[TokenFailure, ...]:
    """verify's checks that failed, and the clients with no key to check with."""
    checks, missing = asyncio.run(collect_checks(workspace))
    results = asyncio.run(run_checks(workspace, checks)) if checks else []
    failures = [_failure(result) for result in results if not result.ok]
    failures += [_no_key(gap) for gap in missing]
    for failure in failures:
        console.warning(f"  ✗ {failure.check}: {failure.problem}")
    return tuple(failures)


def _failure(result: CheckResult) -> TokenFailure:
    problems = result.problems
    return TokenFailure(
        check=result.check.label,
        problem=redact_text("; ".join(p.message for p in problems)),
        code=result.code,
        fix=redact_text(problems[0].hint) if problems and problems[0].hint else None,
    )


def _no_key(gap: MissingKey) -> TokenFailure:
    return TokenFailure(
        gap.client, "its secret sink holds no current key", code="no-key", fix=gap.hint
    )


# --- shared -------------------------------------------------------------------------------


def _github() -> GitHubRepo:
    return GitHubRepo.from_environ(os.environ)


def _options(granted: frozenset[str]) -> PlanOptions:
    return PlanOptions(
        allow_delete="allow_delete" in granted,
        allow_replace="allow_replace" in granted,
        allow_protected="allow_protected" in granted,
    )


def _run_url(environ: Mapping[str, str]) -> str | None:
    server, repository, run = (
        environ.get(name, "").strip()
        for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if not (server and repository and run):
        return None
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run}"


def _redacted(exc: MpctlError) -> tuple[str, str | None]:
    return redact_text(exc.message), redact_text(exc.hint) if exc.hint else None
