"""A strict local fake of the GitHub REST API that mpctl's GitOps commands use.

Implements, for repositories the test declares, exactly these documented endpoints (API
version 2022-11-28), and checks every call against the documentation:

- GET   /repos/{owner}/{repo}/pulls/{pull_number} → 200 pull-request (`merged`, `head.sha`,
        `merge_commit_sha`, `labels`, `user`); 404 for an issue that is no pull request
- GET   /repos/{owner}/{repo}/commits/{commit_sha}/pulls?per_page&page → 200 [pull-request-simple]
        (no `merged`, only `merged_at`): the pull requests whose head or merge commit it is
- GET   /repos/{owner}/{repo}/issues/{issue_number}/comments?since&per_page&page → 200
        [issue-comment], ascending id, paginated with a `Link` header; 404 unknown issue
- POST  /repos/{owner}/{repo}/issues/{issue_number}/comments {"body"} → 201 issue-comment and
        `Location`; 422 blank body or a body over 65,536 characters
- PATCH /repos/{owner}/{repo}/issues/comments/{comment_id} {"body"} → 200 issue-comment
- GET   /repos/{owner}/{repo}/issues?state&labels&sort&direction&… → 200 [issue]: every label
        in `labels` (comma-separated) must be on the issue; pull requests are included, as on
        GitHub, with a `pull_request` key
- POST  /repos/{owner}/{repo}/issues {"title", "body"?, "labels"?, …} → 201 issue; a label the
        repository lacks is created (as GitHub does)
- PATCH /repos/{owner}/{repo}/issues/{issue_number} {"body"?, "state"?, "state_reason"?, …} →
        200 issue; closing sets `closed_at` and `state_reason` (default `completed`)
- GET   /repos/{owner}/{repo}/labels/{name} → 200 label; 404
- POST  /repos/{owner}/{repo}/labels {"name", "color"?, "description"?} → 201 label; 422
        `already_exists`, a color that is not 6 hex digits, a description over 100 characters
- GET   /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts?per_page&page&name&direction →
        200 {"total_count", "artifacts"} with `Link`; 404 unknown run
- GET   /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/zip → 302 `Location` a signed URL
        on this same server (`/_signed/…?sig=…`) that serves the zip to a request without an
        `Authorization` header; 410 expired

Every API request needs `Authorization: Bearer|token <token>` (401 "Requires authentication" /
"Bad credentials" otherwise, as GitHub answers), a `User-Agent` (403 otherwise, a violation),
`Accept: application/vnd.github+json` and `X-GitHub-Api-Version: 2022-11-28` (a violation
otherwise; another version → 400). Recorded in `violations` (the test asserts
`fake.violations == []`) and answered 404 {"message": "Not Found"} or 422 as GitHub would: an
undocumented method or path, an undocumented query parameter, `per_page` outside 1..100,
`page` < 1, an enum value outside the documented ones, a write body that is not a JSON object
or has a field of the wrong type, an unknown field or a missing required one, a body over
65,536 characters, and the token sent to the signed download URL. Error bodies are
{"message", "documentation_url"} (+ "errors" for 422). Issues and pull requests share one
number space per repository; comment, label and artifact ids are unique in the fake.

Sources: https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request ,
https://docs.github.com/en/rest/commits/commits#list-pull-requests-associated-with-a-commit ,
https://docs.github.com/en/rest/issues/comments , https://docs.github.com/en/rest/issues/issues ,
https://docs.github.com/en/rest/issues/labels , https://docs.github.com/en/rest/actions/artifacts ,
https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api ,
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api ,
https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api (headers),
and the shapes of github/rest-api-description's examples (tests/fakes/cassettes/
github_rest_examples.json holds them; tests/unit/gitops/test_github_fake_shapes.py compares).

`fail(count, status=…, headers=…)` answers the next `count` API requests (optionally only one
method) with that status instead, e.g. 502 or a 429/403 rate limit with `Retry-After`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
MAX_BODY = 65_536
HTML_ROOT = "https://github.com"
_DOCS = "https://docs.github.com/rest"
_PAGINATION = frozenset({"per_page", "page"})
_COLOR = re.compile(r"^[0-9a-fA-F]{6}$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
_OWNER_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_EVERY_METHOD = ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS")


# --- state ----------------------------------------------------------------------------------


@dataclass
class PullInfo:
    """What makes an issue a pull request."""

    head_sha: str
    merged: bool = False
    merge_commit_sha: str | None = None
    head_ref: str = "feature"
    base_ref: str = "main"
    merged_at: str | None = None


@dataclass
class IssueRecord:
    number: int
    id: int
    title: str
    body: str | None
    author: str
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    created_at: str = ""
    updated_at: str = ""
    closed_at: str | None = None
    pull: PullInfo | None = None


@dataclass
class CommentRecord:
    id: int
    issue_number: int
    body: str
    author: str
    created_at: str
    updated_at: str


@dataclass
class LabelRecord:
    id: int
    name: str
    color: str
    description: str | None


@dataclass
class ArtifactRecord:
    id: int
    name: str
    run_id: int
    content: bytes
    expired: bool
    head_sha: str
    created_at: str


@dataclass
class Repo:
    full_name: str
    id: int
    issues: dict[int, IssueRecord] = field(default_factory=dict)
    comments: dict[int, CommentRecord] = field(default_factory=dict)
    labels: dict[str, LabelRecord] = field(default_factory=dict)
    """lower-case name → label (GitHub's label names are case-insensitive)."""
    artifacts: dict[int, ArtifactRecord] = field(default_factory=dict)
    runs: set[int] = field(default_factory=set)


@dataclass
class _Failure:
    remaining: int
    status: int
    headers: dict[str, str]
    message: str
    method: str | None


class Refusal(Exception):  # noqa: N818 - a canned answer, not an error of the fake
    """An answer that ends a handler early (a 404, a 422, a 401…)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class FakeGitHubRest:
    """The fake's state (shared with the test thread under `lock`) and its ASGI app."""

    def __init__(self, token: str, *, actor: str = "github-actions[bot]") -> None:
        self.token = token
        self.actor = actor
        """The login that comments and issues created through the API are by."""
        self.repos: dict[str, Repo] = {}
        self.lock = threading.Lock()
        self.violations: list[str] = []
        self.requests: list[str] = []
        """"METHOD /path?query" of every request, in order (signed downloads included)."""
        self.url = ""
        """The base URL while `serving` runs it."""
        self.link_root: str | None = None
        """Set to make `Link` headers point at another host (a client must not follow them)."""
        self._ids = 1000
        self._failures: list[_Failure] = []
        self._signing_key = secrets.token_bytes(16)
        self.app = Starlette(
            routes=[Route("/{path:path}", self._dispatch, methods=list(_EVERY_METHOD))]
        )

    # --- what the test controls -----------------------------------------------------------

    def reset(self) -> None:
        """Forget every repository, request, violation and failure (the server keeps running)."""
        with self.lock:
            self.repos.clear()
            self.violations.clear()
            self.requests.clear()
            self._failures.clear()
            self.link_root = None

    def add_repo(self, full_name: str) -> Repo:
        with self.lock:
            repo = Repo(full_name=full_name, id=self._next_id())
            self.repos[full_name.lower()] = repo
            return repo

    def add_pull(
        self,
        repository: str,
        *,
        head_sha: str,
        title: str = "Change manifests",
        labels: Sequence[str] = (),
        merged: bool = False,
        merge_commit_sha: str | None = None,
        state: str | None = None,
        author: str = "octocat",
    ) -> int:
        """A pull request (merged ones are closed); returns its number."""
        pull = PullInfo(head_sha=head_sha, merged=merged, merge_commit_sha=merge_commit_sha)
        if merged:
            pull.merged_at = _now()
        issue = self._add_issue(repository, title, "", labels, author=author, pull=pull)
        issue.state = state or ("closed" if merged else "open")
        if issue.state == "closed":
            issue.closed_at = _now()
        return issue.number

    def add_issue(
        self,
        repository: str,
        *,
        title: str,
        body: str = "",
        labels: Sequence[str] = (),
        state: str = "open",
        author: str = "octocat",
    ) -> int:
        issue = self._add_issue(repository, title, body, labels, author=author, pull=None)
        issue.state = state
        return issue.number

    def add_comment(self, repository: str, issue_number: int, body: str, author: str) -> int:
        with self.lock:
            repo = self.repos[repository.lower()]
            comment = CommentRecord(self._next_id(), issue_number, body, author, _now(), _now())
            repo.comments[comment.id] = comment
            return comment.id

    def add_label(
        self, repository: str, name: str, color: str = "ededed", description: str = ""
    ) -> None:
        with self.lock:
            self._label(self.repos[repository.lower()], name, color, description)

    def add_artifact(
        self,
        repository: str,
        *,
        run_id: int,
        name: str,
        content: bytes,
        expired: bool = False,
        head_sha: str = "0" * 40,
    ) -> int:
        """An artifact of run `run_id` (the run exists from then on); returns its id."""
        with self.lock:
            repo = self.repos[repository.lower()]
            made = ArtifactRecord(self._next_id(), name, run_id, content, expired, head_sha, _now())
            repo.artifacts[made.id] = made
            repo.runs.add(run_id)
            return made.id

    def add_run(self, repository: str, run_id: int) -> None:
        with self.lock:
            self.repos[repository.lower()].runs.add(run_id)

    def fail(
        self,
        count: int = 1,
        *,
        status: int = 502,
        headers: Mapping[str, str] | None = None,
        message: str = "Server Error",
        method: str | None = None,
    ) -> None:
        """Answer the next `count` API requests (of `method`, if given) with `status`."""
        with self.lock:
            self._failures.append(_Failure(count, status, dict(headers or {}), message, method))

    def comments(self, repository: str, issue_number: int) -> list[CommentRecord]:
        with self.lock:
            found = self.repos[repository.lower()].comments.values()
            return sorted((c for c in found if c.issue_number == issue_number), key=_by_id)

    def issue(self, repository: str, number: int) -> IssueRecord:
        with self.lock:
            return self.repos[repository.lower()].issues[number]

    def issues(self, repository: str) -> list[IssueRecord]:
        """Every issue (not pull request), by number."""
        with self.lock:
            found = self.repos[repository.lower()].issues.values()
            return sorted((i for i in found if i.pull is None), key=lambda i: i.number)

    def labels(self, repository: str) -> dict[str, LabelRecord]:
        with self.lock:
            return {label.name: label for label in self.repos[repository.lower()].labels.values()}

    # --- internals ------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _add_issue(
        self,
        repository: str,
        title: str,
        body: str,
        labels: Sequence[str],
        *,
        author: str,
        pull: PullInfo | None,
    ) -> IssueRecord:
        with self.lock:
            repo = self.repos[repository.lower()]
            issue = IssueRecord(
                number=len(repo.issues) + 1,
                id=self._next_id(),
                title=title,
                body=body,
                author=author,
                labels=[self._label(repo, name).name for name in labels],
                created_at=_now(),
                updated_at=_now(),
                pull=pull,
            )
            repo.issues[issue.number] = issue
            return issue

    def _label(
        self, repo: Repo, name: str, color: str = "ededed", description: str = ""
    ) -> LabelRecord:
        """The repository's label `name`, made if missing (caller holds the lock)."""
        found = repo.labels.get(name.lower())
        if found is None:
            found = LabelRecord(self._next_id(), name, color, description)
            repo.labels[name.lower()] = found
        return found

    def violation(self, request: Request, what: str) -> None:
        with self.lock:
            self.violations.append(f"{request.method} {request.url.path}: {what}")

    def signature(self, artifact_id: int) -> str:
        return hmac.new(self._signing_key, str(artifact_id).encode(), hashlib.sha256).hexdigest()

    def take_failure(self, method: str) -> Response | None:
        with self.lock:
            for failure in self._failures:
                if failure.remaining > 0 and failure.method in (None, method):
                    failure.remaining -= 1
                    body = {"message": failure.message, "documentation_url": _DOCS}
                    return JSONResponse(body, failure.status, headers=failure.headers)
        return None

    async def _dispatch(self, request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        with self.lock:
            self.requests.append(f"{request.method} {request.url.path}{query}")
        try:
            if request.url.path.startswith("/_signed/"):
                return _signed_download(self, request)
            return await _api(self, request)
        except Refusal as refused:
            return refused.response


# --- checking a request against the documentation -------------------------------------------


Handler = Callable[["Context"], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    """One documented operation: method, path pattern, documented query parameters."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    query: frozenset[str] = frozenset()


@dataclass
class Context:
    fake: FakeGitHubRest
    request: Request
    repo: Repo
    params: dict[str, str]

    def refuse(self, status: int, message: str, *, violation: str | None = None) -> Refusal:
        if violation is not None:
            self.fake.violation(self.request, violation)
        return Refusal(_error(status, message))

    def invalid(self, what: str, *, resource: str, field_name: str, code: str) -> Refusal:
        """422 Validation Failed, as GitHub words it; a violation too."""
        self.fake.violation(self.request, what)
        error = {"resource": resource, "field": field_name, "code": code, "message": what}
        return Refusal(_error(422, "Validation Failed", errors=[error]))

    def query_int(self, name: str, default: int) -> int:
        raw = self.request.query_params.get(name)
        if raw is None:
            return default
        if not raw.isdigit():
            raise self.refuse(422, f"{name} must be an integer", violation=f"{name}={raw!r}")
        return int(raw)

    def query_enum(self, name: str, allowed: Sequence[str], default: str) -> str:
        value = self.request.query_params.get(name, default)
        if value not in allowed:
            raise self.refuse(
                422, "Validation Failed", violation=f"{name}={value!r} not in {allowed}"
            )
        return value

    async def body(
        self,
        resource: str,
        required: Mapping[str, type | tuple[type, ...]],
        optional: Mapping[str, type | tuple[type, ...]],
    ) -> dict[str, Any]:
        """The JSON object body, checked: required and optional fields and their types."""
        if not self.request.headers.get("content-type", "").startswith("application/json"):
            raise self.refuse(415, "Unsupported Media Type", violation="body is not JSON")
        try:
            body = json.loads(await self.request.body())
        except ValueError:
            raise self.refuse(400, "Problems parsing JSON", violation="body is not JSON") from None
        if not isinstance(body, dict):
            raise self.refuse(400, "Problems parsing JSON", violation="body is not an object")
        for name in sorted(set(body) - set(required) - set(optional)):
            self.fake.violation(self.request, f"undocumented body field {name!r}")
        for name, kind in {**required, **optional}.items():
            if name in required and name not in body:
                raise self.invalid(
                    f"{name} is required", resource=resource, field_name=name, code="missing_field"
                )
            if name in body and not _is_type(body[name], kind):
                raise self.invalid(
                    f"{name} has the wrong type",
                    resource=resource,
                    field_name=name,
                    code="invalid",
                )
        return body


def _is_type(value: Any, kind: type | tuple[type, ...]) -> bool:
    """JSON's types: `true` is no integer here, as it is none in GitHub's schema."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


async def _api(fake: FakeGitHubRest, request: Request) -> Response:
    _check_headers(fake, request)
    refused = fake.take_failure(request.method)
    if refused is not None:
        return refused
    for endpoint in ENDPOINTS:
        match = endpoint.pattern.fullmatch(request.url.path)
        if match is None:
            continue
        if request.method != endpoint.method:
            continue
        context = _context(fake, request, match.groupdict())
        _check_query(context, endpoint.query)
        return await endpoint.handler(context)
    fake.violation(request, "undocumented endpoint")
    return _error(404, "Not Found")


def _check_headers(fake: FakeGitHubRest, request: Request) -> None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if not auth:
        raise Refusal(_error(401, "Requires authentication"))
    if scheme.lower() not in ("bearer", "token") or token != fake.token:
        raise Refusal(_error(401, "Bad credentials"))
    if not request.headers.get("user-agent"):
        fake.violation(request, "no User-Agent header")
        raise Refusal(
            _error(
                403,
                "Request forbidden by administrative rules. Please make sure "
                "your request has a User-Agent header",
            )
        )
    accept = request.headers.get("accept", "")
    if accept != MEDIA_TYPE:
        fake.violation(request, f"Accept is {accept!r}, not {MEDIA_TYPE}")
    version = request.headers.get("x-github-api-version")
    if version is None:
        fake.violation(request, "no X-GitHub-Api-Version header")
    elif version != API_VERSION:
        fake.violation(request, f"X-GitHub-Api-Version {version!r}")
        raise Refusal(_error(400, f"API version {version} is not supported."))


def _context(fake: FakeGitHubRest, request: Request, params: dict[str, str]) -> Context:
    full_name = f"{params['owner']}/{params['repo']}".lower()
    with fake.lock:
        repo = fake.repos.get(full_name)
    if repo is None:
        raise Refusal(_error(404, "Not Found"))
    return Context(fake, request, repo, {k: unquote(v) for k, v in params.items()})


def _check_query(context: Context, documented: frozenset[str]) -> None:
    for name in sorted(set(context.request.query_params) - documented):
        context.fake.violation(context.request, f"undocumented query parameter {name!r}")
    if "per_page" in documented:
        per_page = context.query_int("per_page", 30)
        if not 1 <= per_page <= 100:
            context.fake.violation(context.request, f"per_page={per_page} (1..100)")
    if "page" in documented and context.query_int("page", 1) < 1:
        context.fake.violation(context.request, "page < 1")


def _number(context: Context, name: str) -> int:
    raw = context.params[name]
    if not raw.isdigit():
        raise context.refuse(404, "Not Found", violation=f"{name} {raw!r} is not an integer")
    return int(raw)


# --- handlers -------------------------------------------------------------------------------


async def get_pull(context: Context) -> Response:
    issue = context.repo.issues.get(_number(context, "number"))
    if issue is None or issue.pull is None:
        raise context.refuse(404, "Not Found")
    return JSONResponse(_pull_json(context, issue, full=True), headers=_rate_headers())


async def commit_pulls(context: Context) -> Response:
    sha = context.params["sha"]
    if not _SHA.fullmatch(sha):
        raise context.refuse(422, f"No commit found for SHA: {sha}")
    found = [
        issue
        for issue in sorted(context.repo.issues.values(), key=lambda i: i.number)
        if issue.pull is not None and sha in (issue.pull.head_sha, issue.pull.merge_commit_sha)
    ]
    return _page(context, [_pull_json(context, issue, full=False) for issue in found])


async def list_comments(context: Context) -> Response:
    number = _number(context, "number")
    if number not in context.repo.issues:
        raise context.refuse(404, "Not Found")
    found = sorted(
        (c for c in context.repo.comments.values() if c.issue_number == number), key=_by_id
    )
    return _page(context, [_comment_json(context, c) for c in found])


async def create_comment(context: Context) -> Response:
    number = _number(context, "number")
    body = await context.body("IssueComment", {"body": str}, {})
    if number not in context.repo.issues:
        raise context.refuse(404, "Not Found")
    text = _comment_text(context, body["body"])
    with context.fake.lock:
        made = CommentRecord(
            context.fake._next_id(), number, text, context.fake.actor, _now(), _now()
        )
        context.repo.comments[made.id] = made
    answer = _comment_json(context, made)
    return JSONResponse(answer, 201, headers={"Location": answer["url"], **_rate_headers()})


async def update_comment(context: Context) -> Response:
    comment = context.repo.comments.get(_number(context, "comment_id"))
    body = await context.body("IssueComment", {"body": str}, {})
    if comment is None:
        raise context.refuse(404, "Not Found")
    text = _comment_text(context, body["body"])
    with context.fake.lock:
        comment.body, comment.updated_at = text, _now()
    return JSONResponse(_comment_json(context, comment), headers=_rate_headers())


def _comment_text(context: Context, text: str) -> str:
    if len(text) > MAX_BODY:
        raise context.invalid(
            f"Body is too long (maximum is {MAX_BODY} characters)",
            resource="IssueComment",
            field_name="body",
            code="custom",
        )
    if not text.strip():
        error = {
            "resource": "IssueComment",
            "code": "unprocessable",
            "field": "data",
            "message": "Body cannot be blank",
        }
        raise Refusal(_error(422, "Validation Failed", errors=[error]))
    return text


async def list_issues(context: Context) -> Response:
    state = context.query_enum("state", ("open", "closed", "all"), "open")
    sort = context.query_enum("sort", ("created", "updated", "comments"), "created")
    direction = context.query_enum("direction", ("asc", "desc"), "desc")
    wanted = [n.strip().lower() for n in context.request.query_params.get("labels", "").split(",")]
    wanted = [n for n in wanted if n]
    found = [
        issue
        for issue in context.repo.issues.values()
        if state in ("all", issue.state)
        and all(name in {label.lower() for label in issue.labels} for name in wanted)
    ]

    def key(issue: IssueRecord) -> tuple[str, int]:
        return (issue.updated_at if sort == "updated" else issue.created_at, issue.number)

    found.sort(key=key, reverse=direction == "desc")
    return _page(context, [_issue_json(context, issue) for issue in found])


_ISSUE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "body": (str, type(None)),
    "assignee": (str, type(None)),
    "milestone": (str, int, type(None)),
    "labels": list,
    "assignees": list,
    "type": (str, type(None)),
}


async def create_issue(context: Context) -> Response:
    body = await context.body("Issue", {"title": (str, int)}, _ISSUE_FIELDS)
    title = str(body["title"])
    if not title.strip():
        raise context.refuse(422, "Validation Failed")
    text = body.get("body")
    if isinstance(text, str) and len(text) > MAX_BODY:
        raise context.invalid(
            "body is too long (maximum is 65536 characters)",
            resource="Issue",
            field_name="body",
            code="custom",
        )
    names = _label_names(context, body.get("labels", []))
    with context.fake.lock:
        issue = IssueRecord(
            number=len(context.repo.issues) + 1,
            id=context.fake._next_id(),
            title=title,
            body=text,
            author=context.fake.actor,
            created_at=_now(),
            updated_at=_now(),
            labels=[context.fake._label(context.repo, name).name for name in names],
        )
        context.repo.issues[issue.number] = issue
    answer = _issue_json(context, issue)
    return JSONResponse(answer, 201, headers={"Location": answer["url"], **_rate_headers()})


def _label_names(context: Context, labels: list[Any]) -> list[str]:
    names: list[str] = []
    for label in labels:
        name = label.get("name") if isinstance(label, dict) else label
        if not isinstance(name, str) or not name.strip():
            raise context.invalid(
                "labels must be names", resource="Issue", field_name="labels", code="invalid"
            )
        names.append(name)
    return names


async def update_issue(context: Context) -> Response:
    issue = context.repo.issues.get(_number(context, "number"))
    fields = {
        **_ISSUE_FIELDS,
        "title": (str, int, type(None)),
        "state": str,
        "state_reason": (str, type(None)),
        "duplicate_issue_id": int,
    }
    body = await context.body("Issue", {}, fields)
    if issue is None:
        raise context.refuse(404, "Not Found")
    state = body.get("state")
    if state is not None and state not in ("open", "closed"):
        raise context.invalid(
            f"state {state!r}", resource="Issue", field_name="state", code="invalid"
        )
    reason = body.get("state_reason")
    if reason is not None and reason not in ("completed", "not_planned", "duplicate", "reopened"):
        raise context.invalid(
            f"state_reason {reason!r}", resource="Issue", field_name="state_reason", code="invalid"
        )
    text = body.get("body")
    if isinstance(text, str) and len(text) > MAX_BODY:
        raise context.invalid(
            "body is too long (maximum is 65536 characters)",
            resource="Issue",
            field_name="body",
            code="custom",
        )
    with context.fake.lock:
        _apply_issue_changes(context, issue, body)
    return JSONResponse(_issue_json(context, issue), headers=_rate_headers())


def _apply_issue_changes(context: Context, issue: IssueRecord, body: dict[str, Any]) -> None:
    if "title" in body and body["title"] is not None:
        issue.title = str(body["title"])
    if "body" in body:
        issue.body = body["body"]
    if "labels" in body:
        issue.labels = [
            context.fake._label(context.repo, n).name for n in _label_names(context, body["labels"])
        ]
    state, reason = body.get("state"), body.get("state_reason")
    if state == "closed" and issue.state != "closed":
        issue.state, issue.closed_at = "closed", _now()
        issue.state_reason = reason or "completed"
    elif state == "open" and issue.state != "open":
        issue.state, issue.closed_at, issue.state_reason = "open", None, "reopened"
    issue.updated_at = _now()


async def get_label(context: Context) -> Response:
    label = context.repo.labels.get(context.params["name"].lower())
    if label is None:
        raise context.refuse(404, "Not Found")
    return JSONResponse(_label_json(context, label), headers=_rate_headers())


async def create_label(context: Context) -> Response:
    body = await context.body("Label", {"name": str}, {"color": str, "description": str})
    name, color = body["name"], body.get("color", "ededed")
    if not _COLOR.fullmatch(color):
        raise context.invalid(
            f"color {color!r} is not 6 hex digits",
            resource="Label",
            field_name="color",
            code="invalid",
        )
    if len(body.get("description", "")) > 100:
        raise context.invalid(
            "description is too long (maximum is 100 characters)",
            resource="Label",
            field_name="description",
            code="invalid",
        )
    with context.fake.lock:
        if name.lower() in context.repo.labels:
            error = {"resource": "Label", "code": "already_exists", "field": "name"}
            raise Refusal(_error(422, "Validation Failed", errors=[error]))
        label = context.fake._label(context.repo, name, color, body.get("description", ""))
    answer = _label_json(context, label)
    return JSONResponse(answer, 201, headers={"Location": answer["url"], **_rate_headers()})


async def run_artifacts(context: Context) -> Response:
    run_id = _number(context, "run_id")
    if run_id not in context.repo.runs:
        raise context.refuse(404, "Not Found")
    direction = context.query_enum("direction", ("asc", "desc"), "desc")
    name = context.request.query_params.get("name")
    found = sorted(
        (
            a
            for a in context.repo.artifacts.values()
            if a.run_id == run_id and (name is None or a.name == name)
        ),
        key=_by_id,
        reverse=direction == "desc",
    )
    items = [_artifact_json(context, a) for a in found]
    return _page(context, items, wrap=lambda page: {"total_count": len(items), "artifacts": page})


async def download_artifact(context: Context) -> Response:
    artifact = context.repo.artifacts.get(_number(context, "artifact_id"))
    if context.params["archive_format"] != "zip":
        raise context.refuse(404, "Not Found", violation="archive_format is not zip")
    if artifact is None:
        raise context.refuse(404, "Not Found")
    if artifact.expired:
        raise context.refuse(410, "Artifact has expired")
    location = f"{context.fake.url}/_signed/{artifact.id}?sig={context.fake.signature(artifact.id)}"
    return Response(status_code=302, headers={"Location": location})


def _signed_download(fake: FakeGitHubRest, request: Request) -> Response:
    """The storage host's side: no token expected (it would leak it), only the signature."""
    if "authorization" in request.headers:
        fake.violation(request, "the GitHub token was sent to the signed download URL")
        return Response("AuthenticationFailed", status_code=403)
    raw_id = request.url.path.removeprefix("/_signed/")
    sig = request.query_params.get("sig", "")
    if not raw_id.isdigit() or not hmac.compare_digest(sig, fake.signature(int(raw_id))):
        return Response("AuthenticationFailed", status_code=403)
    with fake.lock:
        artifact = next(
            (r.artifacts[int(raw_id)] for r in fake.repos.values() if int(raw_id) in r.artifacts),
            None,
        )
    if artifact is None:
        return Response("BlobNotFound", status_code=404)
    return Response(artifact.content, media_type="application/zip")


_ROOT = _OWNER_REPO
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", re.compile(rf"{_ROOT}/pulls/(?P<number>[^/]+)"), get_pull),
    Endpoint(
        "GET", re.compile(rf"{_ROOT}/commits/(?P<sha>[^/]+)/pulls"), commit_pulls, _PAGINATION
    ),
    Endpoint(
        "GET",
        re.compile(rf"{_ROOT}/issues/(?P<number>[^/]+)/comments"),
        list_comments,
        _PAGINATION | {"since"},
    ),
    Endpoint("POST", re.compile(rf"{_ROOT}/issues/(?P<number>[^/]+)/comments"), create_comment),
    Endpoint(
        "PATCH", re.compile(rf"{_ROOT}/issues/comments/(?P<comment_id>[^/]+)"), update_comment
    ),
    Endpoint(
        "GET",
        re.compile(rf"{_ROOT}/issues"),
        list_issues,
        _PAGINATION
        | {
            "milestone",
            "state",
            "assignee",
            "type",
            "creator",
            "mentioned",
            "labels",
            "sort",
            "direction",
            "since",
        },
    ),
    Endpoint("POST", re.compile(rf"{_ROOT}/issues"), create_issue),
    Endpoint("PATCH", re.compile(rf"{_ROOT}/issues/(?P<number>[^/]+)"), update_issue),
    Endpoint("GET", re.compile(rf"{_ROOT}/labels/(?P<name>[^/]+)"), get_label),
    Endpoint("POST", re.compile(rf"{_ROOT}/labels"), create_label),
    Endpoint(
        "GET",
        re.compile(rf"{_ROOT}/actions/runs/(?P<run_id>[^/]+)/artifacts"),
        run_artifacts,
        _PAGINATION | {"name", "direction"},
    ),
    Endpoint(
        "GET",
        re.compile(rf"{_ROOT}/actions/artifacts/(?P<artifact_id>[^/]+)/(?P<archive_format>[^/]+)"),
        download_artifact,
    ),
)


# --- answers --------------------------------------------------------------------------------


def _page(
    context: Context, items: list[Any], *, wrap: Callable[[list[Any]], Any] | None = None
) -> Response:
    """One page of `items` and GitHub's `Link` header (first/prev/next/last, as present)."""
    per_page = min(max(context.query_int("per_page", 30), 1), 100)
    page = max(context.query_int("page", 1), 1)
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []
    if page < last:
        links += [(page + 1, "next"), (last, "last")]
    if page > 1:
        links += [(1, "first"), (page - 1, "prev")]
    headers = _rate_headers()
    if links:
        headers["Link"] = ", ".join(f'<{_page_url(context, n)}>; rel="{rel}"' for n, rel in links)
    return JSONResponse(wrap(chunk) if wrap else chunk, headers=headers)


def _page_url(context: Context, page: int) -> str:
    params = dict(context.request.query_params)
    params["page"] = str(page)
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe=',')}" for k, v in params.items())
    root = context.fake.link_root or context.fake.url
    return f"{root}{context.request.url.path}?{query}"


def _api_url(context: Context, tail: str) -> str:
    return f"{context.fake.url}/repos/{context.repo.full_name}{tail}"


def _user(context: Context, login: str) -> dict[str, Any]:
    """A simple-user (every required field of GitHub's schema)."""
    api = f"{context.fake.url}/users/{login}"
    number = int(hashlib.sha256(login.encode()).hexdigest()[:6], 16)
    return {
        "login": login,
        "id": number,
        "node_id": f"U_{number}",
        "avatar_url": f"{HTML_ROOT}/avatars/{login}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{HTML_ROOT}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "Bot" if login.endswith("[bot]") else "User",
        "site_admin": False,
    }


def _label_json(context: Context, label: LabelRecord) -> dict[str, Any]:
    return {
        "id": label.id,
        "node_id": f"LA_{label.id}",
        "url": _api_url(context, f"/labels/{quote(label.name, safe='')}"),
        "name": label.name,
        "description": label.description,
        "color": label.color,
        "default": False,
    }


def _issue_json(context: Context, issue: IssueRecord) -> dict[str, Any]:
    kind = "pull" if issue.pull else "issues"
    api = _api_url(context, f"/issues/{issue.number}")
    answer: dict[str, Any] = {
        "id": issue.id,
        "node_id": f"I_{issue.id}",
        "url": api,
        "repository_url": _api_url(context, ""),
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{HTML_ROOT}/{context.repo.full_name}/{kind}/{issue.number}",
        "number": issue.number,
        "state": issue.state,
        "title": issue.title,
        "body": issue.body,
        "user": _user(context, issue.author),
        "labels": [_label_json(context, context.repo.labels[n.lower()]) for n in issue.labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": sum(c.issue_number == issue.number for c in context.repo.comments.values()),
        "closed_at": issue.closed_at,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_by": None,
        "author_association": "MEMBER",
        "state_reason": issue.state_reason,
    }
    if issue.pull is not None:
        pulls = _api_url(context, f"/pulls/{issue.number}")
        html = answer["html_url"]
        answer["pull_request"] = {
            "url": pulls,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": issue.pull.merged_at,
        }
    return answer


_REPO_LINKS = (
    "archive", "assignees", "blobs", "branches", "collaborators", "comments", "commits",
    "compare", "contents", "contributors", "deployments", "downloads", "events", "forks",
    "git_commits", "git_refs", "git_tags", "hooks", "issue_comment", "issue_events", "issues",
    "keys", "labels", "languages", "merges", "milestones", "notifications", "pulls", "releases",
    "stargazers", "statuses", "subscribers", "subscription", "tags", "teams", "trees",
)  # fmt: skip


def _repo_json(context: Context) -> dict[str, Any]:
    """A repository as pull requests' `head.repo` and `base.repo` carry it (every required
    field of GitHub's schema; the `*_url` templates simplified to plain URLs)."""
    owner, name = context.repo.full_name.split("/")
    api, html = _api_url(context, ""), f"{HTML_ROOT}/{context.repo.full_name}"
    counts = dict.fromkeys(
        ("forks", "forks_count", "open_issues", "open_issues_count", "size", "stargazers_count",
         "watchers", "watchers_count"), 0,
    )  # fmt: skip
    flags = dict.fromkeys(
        ("fork", "archived", "disabled", "has_downloads", "has_issues", "has_projects",
         "has_wiki", "has_pages"), False,
    )  # fmt: skip
    return {
        "id": context.repo.id,
        "node_id": f"R_{context.repo.id}",
        "name": name,
        "full_name": context.repo.full_name,
        "private": True,
        "owner": _user(context, owner),
        "html_url": html,
        "url": api,
        **{f"{link}_url": f"{api}/{link}" for link in _REPO_LINKS},
        "clone_url": f"{html}.git",
        "git_url": f"git:{html.removeprefix('https:')}.git",
        "ssh_url": f"git@github.com:{context.repo.full_name}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "description": None,
        "language": None,
        "license": None,
        "default_branch": "main",
        "created_at": _now(),
        "updated_at": _now(),
        "pushed_at": _now(),
        **counts,
        **flags,
        "has_issues": True,
    }


def _pull_json(context: Context, issue: IssueRecord, *, full: bool) -> dict[str, Any]:
    """A pull-request (`full`: GET one) or a pull-request-simple (lists)."""
    pull = issue.pull
    assert pull is not None
    api = _api_url(context, f"/pulls/{issue.number}")
    html = f"{HTML_ROOT}/{context.repo.full_name}/pull/{issue.number}"
    issue_api = _api_url(context, f"/issues/{issue.number}")
    ref = {
        "label": f"{context.repo.full_name.split('/')[0]}:{pull.head_ref}",
        "ref": pull.head_ref,
        "sha": pull.head_sha,
        "user": _user(context, issue.author),
        "repo": _repo_json(context),
    }
    base = {
        **ref,
        "ref": pull.base_ref,
        "sha": pull.merge_commit_sha or "f" * 40,
        "label": f"{context.repo.full_name.split('/')[0]}:{pull.base_ref}",
    }
    answer: dict[str, Any] = {
        "url": api,
        "id": issue.id,
        "node_id": f"PR_{issue.id}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": _api_url(context, "/pulls/comments{/number}"),
        "comments_url": f"{issue_api}/comments",
        "statuses_url": _api_url(context, f"/statuses/{pull.head_sha}"),
        "number": issue.number,
        "state": issue.state,
        "locked": False,
        "title": issue.title,
        "user": _user(context, issue.author),
        "body": issue.body,
        "labels": [_label_json(context, context.repo.labels[n.lower()]) for n in issue.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "merged_at": pull.merged_at,
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": ref,
        "base": base,
        "_links": {
            "self": {"href": api},
            "html": {"href": html},
            "issue": {"href": issue_api},
            "comments": {"href": f"{issue_api}/comments"},
            "review_comments": {"href": f"{api}/comments"},
            "review_comment": {"href": _api_url(context, "/pulls/comments{/number}")},
            "commits": {"href": f"{api}/commits"},
            "statuses": {"href": _api_url(context, f"/statuses/{pull.head_sha}")},
        },
        "author_association": "MEMBER",
        "auto_merge": None,
        "draft": False,
    }
    if full:
        answer.update(
            {
                "merged": pull.merged,
                "mergeable": None if pull.merged else True,
                "rebaseable": None,
                "mergeable_state": "clean" if not pull.merged else "unknown",
                "merged_by": _user(context, "octocat") if pull.merged else None,
                "comments": 0,
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": 1,
                "deletions": 0,
                "changed_files": 1,
            }
        )
    return answer


def _comment_json(context: Context, comment: CommentRecord) -> dict[str, Any]:
    return {
        "id": comment.id,
        "node_id": f"IC_{comment.id}",
        "url": _api_url(context, f"/issues/comments/{comment.id}"),
        "html_url": f"{HTML_ROOT}/{context.repo.full_name}/issues/{comment.issue_number}"
        f"#issuecomment-{comment.id}",
        "body": comment.body,
        "user": _user(context, comment.author),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
        "issue_url": _api_url(context, f"/issues/{comment.issue_number}"),
        "author_association": "MEMBER",
    }


def _artifact_json(context: Context, artifact: ArtifactRecord) -> dict[str, Any]:
    api = _api_url(context, f"/actions/artifacts/{artifact.id}")
    return {
        "id": artifact.id,
        "node_id": f"A_{artifact.id}",
        "name": artifact.name,
        "size_in_bytes": len(artifact.content),
        "url": api,
        "archive_download_url": f"{api}/zip",
        "expired": artifact.expired,
        "created_at": artifact.created_at,
        "expires_at": artifact.created_at,
        "updated_at": artifact.created_at,
        "digest": "sha256:" + hashlib.sha256(artifact.content).hexdigest(),
        "workflow_run": {
            "id": artifact.run_id,
            "repository_id": context.repo.id,
            "head_repository_id": context.repo.id,
            "head_branch": "main",
            "head_sha": artifact.head_sha,
        },
    }


def _rate_headers() -> dict[str, str]:
    reset = int(datetime.now(UTC).timestamp()) + 3600
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-used": "1",
        "x-ratelimit-resource": "core",
    }


def _error(status: int, message: str, *, errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"message": message, "documentation_url": _DOCS}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


def _by_id(record: CommentRecord | ArtifactRecord) -> int:
    return record.id


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def serving(fake: FakeGitHubRest) -> Iterator[str]:
    """Serve `fake` on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    config = uvicorn.Config(fake.app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake GitHub REST server did not start")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake.url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
