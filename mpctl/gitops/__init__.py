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
