"""GitHub's REST API on one repository, for mpctl's GitOps commands.

Owns the endpoints mpctl uses (API version 2022-11-28, as documented on docs.github.com) and
the small frozen records their answers become; the HTTP exchange (headers, retries, pages,
errors) is `_github_http`'s:

    GET   /repos/{o}/{r}/pulls/{n}                          pull_request
    GET   /repos/{o}/{r}/commits/{sha}/pulls                pulls_for_commit
    GET   /repos/{o}/{r}/issues/{n}/comments                comments (every page)
    POST  /repos/{o}/{r}/issues/{n}/comments                create_comment
    PATCH /repos/{o}/{r}/issues/comments/{id}               update_comment
    GET   /repos/{o}/{r}/issues?labels=&state=              issues (pull requests left out)
    POST  /repos/{o}/{r}/issues                             create_issue
    PATCH /repos/{o}/{r}/issues/{n}                         update_issue
    GET   /repos/{o}/{r}/labels/{name}, POST …/labels       ensure_label
    GET   /repos/{o}/{r}/actions/runs/{id}/artifacts        run_artifacts
    GET   /repos/{o}/{r}/actions/artifacts/{id}/zip → 302   download_artifact (the signed URL is
                                                            fetched without the token)

A comment or issue body longer than GitHub's 65,536 characters is refused before sending
(`BodyTooLongError`: the caller truncates). Creates are not resent after a 5xx or a lost answer
(they may have happened): the caller finds its comment or issue by marker on the next run.
Must not decide anything about plans, comments' content or drift (the commands in
`mpctl.gitops` do). The token is in no attribute, repr, log line or error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from mpctl.errors import ConfigError
from mpctl.gitops._github_http import (
    API_VERSION,
    MAX_BODY_CHARS,
    TOKEN_HINT,
    BodyTooLongError,
    Call,
    Exchange,
    GitHubError,
    GitHubRetry,
    error_for,
)
from mpctl.model import is_loopback_host

__all__ = [
    "API_VERSION",
    "DEFAULT_API_URL",
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

DEFAULT_API_URL = "https://api.github.com"
ISSUE_STATES = frozenset({"open", "closed"})
STATE_REASONS = frozenset({"completed", "not_planned", "duplicate", "reopened"})
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
_COLOR = re.compile(r"^[0-9a-fA-F]{6}$")
_M = TypeVar("_M", bound=BaseModel)


# --- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullRequest:
    """A pull request as mpctl reads it. `labels` sorted; `author` is "ghost" for a deleted
    account."""

    number: int
    state: str
    merged: bool
    head_sha: str
    merge_commit_sha: str | None
    labels: tuple[str, ...]
    html_url: str
    author: str


@dataclass(frozen=True)
class Comment:
    """An issue or pull request comment (not a review comment)."""

    id: int
    body: str
    author: str
    html_url: str


@dataclass(frozen=True)
class Issue:
    """An issue (never a pull request). `labels` sorted; `body` is "" when it has none."""

    number: int
    title: str
    body: str
    state: str
    labels: tuple[str, ...]
    html_url: str


@dataclass(frozen=True)
class Artifact:
    """A workflow run's artifact; `expired` ones can no longer be downloaded (410)."""

    id: int
    name: str
    expired: bool
    run_id: int


# --- what GitHub sends (only the fields read; the rest is ignored) ---------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _User(_Wire):
    login: str


class _Label(_Wire):
    name: str


class _Head(_Wire):
    sha: str


class _PullWire(_Wire):
    number: int
    state: str
    merged: bool | None = None
    """Only on GET …/pulls/{n}; the commit's pulls (pull-request-simple) have merged_at."""
    merged_at: str | None = None
    head: _Head
    merge_commit_sha: str | None = None
    labels: list[_Label] = []
    html_url: str
    user: _User | None = None

    def record(self) -> PullRequest:
        merged = self.merged if self.merged is not None else self.merged_at is not None
        return PullRequest(
            number=self.number,
            state=self.state,
            merged=merged,
            head_sha=self.head.sha,
            merge_commit_sha=self.merge_commit_sha,
            labels=tuple(sorted(label.name for label in self.labels)),
            html_url=self.html_url,
            author=_login(self.user),
        )


class _CommentWire(_Wire):
    id: int
    body: str | None = None
    user: _User | None = None
    html_url: str

    def record(self) -> Comment:
        return Comment(self.id, self.body or "", _login(self.user), self.html_url)


class _IssueWire(_Wire):
    number: int
    title: str
    body: str | None = None
    state: str
    labels: list[_Label | str] = []
    html_url: str
    pull_request: dict[str, Any] | None = None

    def record(self) -> Issue:
        names = (label if isinstance(label, str) else label.name for label in self.labels)
        return Issue(
            self.number, self.title, self.body or "", self.state, tuple(sorted(names)),
            self.html_url,
        )  # fmt: skip


class _RunWire(_Wire):
    id: int


class _ArtifactWire(_Wire):
    id: int
    name: str
    expired: bool
    workflow_run: _RunWire | None = None

    def record(self, run_id: int) -> Artifact:
        run = self.workflow_run.id if self.workflow_run is not None else run_id
        return Artifact(self.id, self.name, self.expired, run)


class _ArtifactPage(_Wire):
    total_count: int
    artifacts: list[_ArtifactWire]


def _login(user: _User | None) -> str:
    return user.login if user is not None else "ghost"


# --- the client -----------------------------------------------------------------------------


class GitHubRepo:
    """GitHub's REST API on one repository (see the module docstring). Sync and sequential.

    `transport`, `retry`, `sleep` and `clock` are for tests (a fake server, zero waits seen
    through `sleep`, a fixed clock for `x-ratelimit-reset`)."""

    def __init__(
        self,
        *,
        repository: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.BaseTransport | None = None,
        retry: GitHubRetry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
    ) -> None:
        if not _REPOSITORY.match(repository):
            raise ConfigError(
                f"{repository!r} is not a GitHub repository name",
                hint="GITHUB_REPOSITORY is owner/name, e.g. acme/maskinporten-manifests",
            )
        if not token.strip():
            raise ConfigError("the GitHub token is empty", hint=TOKEN_HINT)
        self.repository = repository
        self._root = f"/repos/{repository}"
        self._exchange = Exchange(
            api_url=api_url,
            token=token.strip(),
            transport=transport,
            retry=retry or GitHubRetry(),
            sleep=sleep,
            clock=clock,
            timeout=timeout,
        )
        self.api_url = self._exchange.api_url

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **options: Any) -> GitHubRepo:
        """From the variables every GitHub Actions job has: GITHUB_REPOSITORY, GITHUB_TOKEN
        (or GH_TOKEN, as the gh CLI reads it) and GITHUB_API_URL (default api.github.com).
        Every missing variable is named in one error. `options` go to the constructor."""
        repository = environ.get("GITHUB_REPOSITORY", "").strip()
        token = environ.get("GITHUB_TOKEN", "").strip() or environ.get("GH_TOKEN", "").strip()
        missing = [] if repository else ["GITHUB_REPOSITORY"]
        if not token:
            missing.append("GITHUB_TOKEN (or GH_TOKEN)")
        if missing:
            raise ConfigError(
                f"missing environment variables for GitHub: {', '.join(missing)}",
                hint=f"GITHUB_REPOSITORY is owner/name; {TOKEN_HINT}",
            )
        api_url = environ.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
        return cls(repository=repository, token=token, api_url=api_url, **options)

    def __repr__(self) -> str:
        return f"GitHubRepo(repository={self.repository!r}, api_url={self.api_url!r})"

    __str__ = __repr__

    def close(self) -> None:
        self._exchange.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- pull requests ----------------------------------------------------------------------

    def pull_request(self, number: int) -> PullRequest:
        path = f"{self._root}/pulls/{_positive(number)}"
        return self._one(_PullWire, Call("GET", path)).record()

    def pulls_for_commit(self, sha: str) -> list[PullRequest]:
        """The pull requests GitHub associates with commit `sha` (its merge or head commit)."""
        if not _SHA.match(sha):
            raise ValueError(f"{sha!r} is not a commit SHA")
        path = f"{self._root}/commits/{sha}/pulls"
        return [self._parse(_PullWire, item, "GET", path).record() for item in self._items(path)]

    # --- comments ---------------------------------------------------------------------------

    def comments(self, issue_number: int) -> list[Comment]:
        """Every comment on an issue or pull request, oldest first (every page)."""
        path = f"{self._root}/issues/{_positive(issue_number)}/comments"
        return [self._parse(_CommentWire, item, "GET", path).record() for item in self._items(path)]

    def create_comment(self, issue_number: int, body: str) -> Comment:
        path = f"{self._root}/issues/{_positive(issue_number)}/comments"
        _check_body("POST", path, body)
        call = Call("POST", path, json={"body": body}, create=True)
        return self._one(_CommentWire, call).record()

    def update_comment(self, comment_id: int, body: str) -> Comment:
        path = f"{self._root}/issues/comments/{_positive(comment_id)}"
        _check_body("PATCH", path, body)
        return self._one(_CommentWire, Call("PATCH", path, json={"body": body})).record()

    # --- issues -----------------------------------------------------------------------------

    def issues(self, *, labels: Sequence[str], state: str = "open") -> list[Issue]:
        """Issues carrying every one of `labels`, oldest first; pull requests are left out."""
        if state not in ISSUE_STATES | {"all"}:
            raise ValueError(f"state must be open, closed or all, not {state!r}")
        path = f"{self._root}/issues"
        params = {"state": state, "sort": "created", "direction": "asc"}
        if labels:
            params["labels"] = ",".join(labels)
        found = [self._parse(_IssueWire, item, "GET", path) for item in self._items(path, params)]
        return [issue.record() for issue in found if issue.pull_request is None]

    def create_issue(self, *, title: str, body: str, labels: Sequence[str]) -> Issue:
        path = f"{self._root}/issues"
        _check_body("POST", path, body)
        payload = {"title": title, "body": body, "labels": list(labels)}
        return self._one(_IssueWire, Call("POST", path, json=payload, create=True)).record()

    def update_issue(
        self,
        number: int,
        *,
        body: str | None = None,
        state: str | None = None,
        state_reason: str | None = None,
    ) -> Issue:
        """Change the body and/or the state (`closed` with a reason such as `completed`)."""
        path = f"{self._root}/issues/{_positive(number)}"
        if body is not None:
            _check_body("PATCH", path, body)
        payload = _issue_changes(body, state, state_reason)
        return self._one(_IssueWire, Call("PATCH", path, json=payload)).record()

    # --- labels -----------------------------------------------------------------------------

    def ensure_label(self, name: str, *, color: str, description: str) -> None:
        """Create label `name` unless the repository has it (an existing one is left as is)."""
        _check_label(name, color, description)
        found = self._exchange.call(
            Call("GET", f"{self._root}/labels/{quote(name, safe='')}", ok=(404,))
        )
        if found.status_code != 404:
            return
        path = f"{self._root}/labels"
        payload = {"name": name, "color": color, "description": description}
        created = self._exchange.call(Call("POST", path, json=payload, ok=(422,)))
        if created.status_code == 422 and not _already_exists(created):
            raise error_for(created, "POST", path)

    # --- artifacts --------------------------------------------------------------------------

    def run_artifacts(self, run_id: int) -> list[Artifact]:
        """Every artifact of workflow run `run_id` (every page)."""
        path = f"{self._root}/actions/runs/{_positive(run_id)}/artifacts"
        found: list[Artifact] = []
        for response in self._exchange.pages(path, {}):
            page = self._parse(_ArtifactPage, _json(response, path), "GET", path)
            found.extend(artifact.record(run_id) for artifact in page.artifacts)
        return found

    def download_artifact(self, artifact_id: int) -> bytes:
        """The artifact's zip: GitHub answers 302 to a short-lived signed URL, which is fetched
        without the token (it needs none, and it is on another host)."""
        path = f"{self._root}/actions/artifacts/{_positive(artifact_id)}/zip"
        redirect = self._exchange.call(Call("GET", path, ok=(302,)))
        location = redirect.headers.get("location", "")
        signed = httpx.URL(location)
        if redirect.status_code != 302 or not (
            signed.scheme == "https" or is_loopback_host(signed.host)
        ):
            raise GitHubError(
                f"expected a redirect to an https archive URL, got {redirect.status_code}",
                method="GET",
                path=path,
                status=redirect.status_code,
                hint="GitHub's artifact API changed, or a proxy answered: check GITHUB_API_URL",
            )
        return self._exchange.call(Call("GET", location, authorized=False)).content

    # --- parsing ----------------------------------------------------------------------------

    def _one(self, model: type[_M], call: Call) -> _M:
        return self._parse(model, _json(self._exchange.call(call), call.url), call.method, call.url)

    def _items(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[Any]:
        for response in self._exchange.pages(path, params or {}):
            page = _json(response, path)
            if not isinstance(page, list):
                raise _shape_error("GET", path, "a list")
            yield from page

    @staticmethod
    def _parse(model: type[_M], data: Any, method: str, path: str) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            raise _shape_error(method, path, f"fields {', '.join(fields[:5])}") from None


# --- helpers --------------------------------------------------------------------------------


def _json(response: httpx.Response, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise GitHubError(
            "the answer is not JSON",
            method=response.request.method,
            path=path,
            status=response.status_code,
            hint="a proxy answered instead of GitHub: check GITHUB_API_URL",
        ) from None


def _shape_error(method: str, path: str, expected: str) -> GitHubError:
    return GitHubError(
        f"the answer does not have the documented shape ({expected})",
        method=method,
        path=path,
        hint="a proxy, or a GitHub Enterprise version that answers differently: check "
        "GITHUB_API_URL",
    )


def _positive(number: int) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"expected a positive number, not {number!r}")
    return number


def _check_body(method: str, path: str, body: str) -> None:
    if len(body) > MAX_BODY_CHARS:
        raise BodyTooLongError(method=method, path=path, length=len(body))


def _issue_changes(body: str | None, state: str | None, reason: str | None) -> dict[str, str]:
    if state is not None and state not in ISSUE_STATES:
        raise ValueError(f"state must be open or closed, not {state!r}")
    if reason is not None and reason not in STATE_REASONS:
        raise ValueError(f"state_reason must be one of {sorted(STATE_REASONS)}, not {reason!r}")
    changes = {"body": body, "state": state, "state_reason": reason}
    payload = {name: value for name, value in changes.items() if value is not None}
    if not payload:
        raise ValueError("update_issue needs a body, a state or a state_reason")
    return payload


def _check_label(name: str, color: str, description: str) -> None:
    if not name.strip() or len(name) > 50:
        raise ValueError("a label name is 1 to 50 characters")
    if not _COLOR.match(color):
        raise ValueError(f"a label color is 6 hex digits without '#', not {color!r}")
    if len(description) > 100:
        raise ValueError("a label description is at most 100 characters")


def _already_exists(response: httpx.Response) -> bool:
    try:
        errors = response.json().get("errors", [])
    except (ValueError, AttributeError):
        return False
    return any(isinstance(e, dict) and e.get("code") == "already_exists" for e in errors)
