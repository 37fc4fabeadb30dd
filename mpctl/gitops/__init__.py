"""mpctl's GitOps commands and the GitHub REST client they use (pull requests, comments, drift
issues, approval labels, plan artifacts). Sits beside `mpctl.apply` and `mpctl.verify`; must not
be imported by anything below them.
"""

from mpctl.gitops.github import (
    API_VERSION,
    MAX_BODY_CHARS,
    Artifact,
    BodyTooLongError,
    Comment,
    GitHubError,
    GitHubRepo,
    GitHubRetry,
    Issue,
    PullRequest,
)

__all__ = [
    "API_VERSION",
    "MAX_BODY_CHARS",
    "Artifact",
    "BodyTooLongError",
    "Comment",
    "GitHubError",
    "GitHubRepo",
    "GitHubRetry",
    "Issue",
    "PullRequest",
]

# --- the GitOps commands' logic (comments, plan review, approvals, drift, plan artifacts) ---

from mpctl.gitops.apply_comment import (
    Applied,
    ApplyFailed,
    ApplyOutcome,
    NeedsApproval,
    NotReviewed,
    PlanChanged,
    StepResult,
    apply_comment_body,
    apply_exit_code,
    apply_verdict,
)
from mpctl.gitops.approvals import (
    Approval,
    ApprovalLabels,
    missing_approvals,
    needed_approvals,
)
from mpctl.gitops.artifacts import (
    DEFAULT_ARTIFACT_NAME,
    FetchedPlan,
    ReviewedPlanUnavailable,
    SavedPlan,
    artifact_name,
    fetch_reviewed_plan,
    plan_file_from_zip,
    saved_plan,
    saved_plan_fields,
)
from mpctl.gitops.drift import DRIFT_LABEL, DriftReport, Finding, TokenFailure
from mpctl.gitops.markers import PLAN, Marker, parse_marker, with_marker_data
from mpctl.gitops.plan_comment import (
    NO_STEPS,
    Links,
    PlanFailure,
    ReviewedPlan,
    plan_comment_body,
    plan_exit_code,
)
from mpctl.gitops.publish import (
    DEFAULT_AUTHOR,
    DriftIssueResult,
    find_comment,
    sync_drift_issue,
    upsert_comment,
)
from mpctl.gitops.review import PlanDifference, compare_plans, step_digest

__all__ += [
    "DEFAULT_AUTHOR",
    "DRIFT_LABEL",
    "NO_STEPS",
    "PLAN",
    "Applied",
    "ApplyFailed",
    "ApplyOutcome",
    "Approval",
    "ApprovalLabels",
    "DriftIssueResult",
    "DriftReport",
    "Finding",
    "Links",
    "Marker",
    "NeedsApproval",
    "NotReviewed",
    "PlanChanged",
    "PlanDifference",
    "PlanFailure",
    "ReviewedPlan",
    "StepResult",
    "TokenFailure",
    "apply_comment_body",
    "apply_exit_code",
    "apply_verdict",
    "compare_plans",
    "find_comment",
    "missing_approvals",
    "needed_approvals",
    "parse_marker",
    "plan_comment_body",
    "plan_exit_code",
    "step_digest",
    "sync_drift_issue",
    "upsert_comment",
]

__all__ += [
    "DEFAULT_ARTIFACT_NAME",
    "FetchedPlan",
    "ReviewedPlanUnavailable",
    "SavedPlan",
    "artifact_name",
    "fetch_reviewed_plan",
    "plan_file_from_zip",
    "saved_plan",
    "saved_plan_fields",
    "with_marker_data",
]
