"""The HTTP exchange under `mpctl.gitops.github`: one call to GitHub's REST API, its retries,
its pages, and the mapping of a failure to `GitHubError` with a hint per status.

Owns the headers GitHub documents (`Accept: application/vnd.github+json`,
`X-GitHub-Api-Version: 2022-11-28`, `Authorization: Bearer`, a `User-Agent`), which failures
are sent again and after how long, pagination (`per_page=100`, then `Link: rel="next"`, never
off `api_url`'s origin), and the rule that a token crosses no network in clear and reaches no
other host (a signed download URL is fetched without it).

Retries: stamina runs the loop and counts the attempts (4 in all); the waits are this module's
and go through the injected `sleep`, so tests see each wait without waiting. Sent again: a 5xx,
a connection failure, a 429, and a 403 that is a rate limit: `Retry-After`, else
`x-ratelimit-remaining: 0` until `x-ratelimit-reset`, else one minute
(docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api). A server's ask
longer than `GitHubRetry.max_wait` fails at once. A create (`Call.create`) is not sent again
after a 5xx or a lost answer, which may have created it: the error says so.

Must not know endpoints or shapes (the client does), must not log bodies, headers or tokens:
errors carry the method, the path and GitHub's own message, redacted.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import stamina

from mpctl import __version__
from mpctl.errors import ConfigError
from mpctl.model import is_loopback_host
from mpctl.redaction import redact_text
from mpctl.remote import RemoteCallError, parse_retry_after

API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
MAX_BODY_CHARS = 65_536
"""GitHub refuses a comment or issue body longer than this ("Body is too long")."""
PER_PAGE = 100
MAX_PAGES = 100
SECONDARY_RATE_LIMIT_WAIT = 60.0
"""GitHub: without Retry-After or x-ratelimit-reset, "wait for at least one minute"."""
TOKEN_HINT = (
    "in GitHub Actions pass `GITHUB_TOKEN: ${{ github.token }}` to the step; elsewhere set "
    "GITHUB_TOKEN or GH_TOKEN (for example from `gh auth token`)"
)
_PERMISSIONS_HINT = (
    "the token lacks a permission: give the workflow `permissions: {pull-requests: write, "
    "issues: write, actions: read, contents: read}` (a fine-grained token: Pull requests and "
    "Issues read and write, Actions read, on this repository)"
)
_MESSAGE_LIMIT = 300
_log = logging.getLogger("mpctl.gitops")


class GitHubError(RemoteCallError):
    """A GitHub REST call failed: a failed call as any remote's (`RemoteCallError`), plus
    `github_message`, GitHub's own `message` (and validation errors), redacted. Never holds the
    token, a request body or a signed URL's query."""

    code = "GITHUB"
    service = "GitHub"
    shown = ("method", "path", "status", "github_message")

    def __init__(
        self,
        summary: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        github_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.github_message = github_message
        super().__init__(summary, method=method, path=path, status=status, hint=hint)


class BodyTooLongError(GitHubError):
    """A comment or issue body over GitHub's limit, refused before anything was sent."""

    code = "GITHUB_BODY_TOO_LONG"

    def __init__(self, *, method: str, path: str, length: int) -> None:
        self.length = length
        self.limit = MAX_BODY_CHARS
        super().__init__(
            f"the body is {length:,} characters; GitHub accepts at most {MAX_BODY_CHARS:,}",
            method=method,
            path=path,
            hint="shorten the body (the full text belongs in an artifact the body links to)",
        )


@dataclass(frozen=True)
class GitHubRetry:
    """How often and how long to retry one call (see the module docstring)."""

    attempts: int = 4
    backoff_initial: float = 1.0
    backoff_max: float = 8.0
    jitter: float = 1.0
    max_wait: float = 60.0
    """A single wait the server asks for beyond this fails at once (the hint says when)."""
    max_total_wait: float = 150.0


@dataclass(frozen=True)
class Call:
    """One logical call. `url` is a path under `api_url` or an absolute URL."""

    method: str
    url: str
    json: Mapping[str, Any] | None = None
    params: Mapping[str, str] | None = None
    ok: tuple[int, ...] = ()
    """Non-2xx statuses the caller handles itself (a 404 that means "missing")."""
    create: bool = False
    """A second send may make a second object: not resent once it may have arrived."""
    authorized: bool = True
    """False for a signed URL: the token is not sent."""


class _Retryable(Exception):  # noqa: N818 - a signal inside the retry loop, never escapes it
    """A failure that may be sent again; `wait` is the server's ask (None: use backoff)."""

    def __init__(self, error: GitHubError, wait: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait


class Exchange:
    """The one `httpx.Client` of a `GitHubRepo`: calls with retries, and pages."""

    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        transport: httpx.BaseTransport | None,
        retry: GitHubRetry,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        timeout: float,
    ) -> None:
        self.api_url = checked_api_url(api_url)
        self._origin = httpx.URL(self.api_url)
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            base_url=self.api_url,
            headers={
                "Accept": MEDIA_TYPE,
                "X-GitHub-Api-Version": API_VERSION,
                "Authorization": f"Bearer {token}",
                "User-Agent": f"mpctl/{__version__}",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def pages(self, path: str, params: Mapping[str, str]) -> Iterator[httpx.Response]:
        """Each page: `per_page=100`, then the `Link: rel="next"` URL as given."""
        call = Call("GET", path, params={**params, "per_page": str(PER_PAGE)})
        for _ in range(MAX_PAGES):
            response = self.call(call)
            yield response
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            call = Call("GET", self._same_origin(following, path))
        raise GitHubError(
            f"more than {MAX_PAGES} pages of {PER_PAGE}; stopped",
            method="GET",
            path=path,
            hint="close or relabel old issues, then run again",
        )

    def call(self, call: Call) -> httpx.Response:
        """`call` with retries; a 2xx answer or one whose status is in `call.ok`."""
        policy = self._retry
        attempt_number = 0
        waited = 0.0

        def decide(exc: Exception) -> bool:
            nonlocal waited
            if not isinstance(exc, _Retryable) or attempt_number >= policy.attempts:
                return False
            wait = exc.wait if exc.wait is not None else _backoff(policy, attempt_number)
            if wait > policy.max_wait or waited + wait > policy.max_total_wait:
                return False
            waited += wait
            _log.info(
                "retry: GitHub %s %s → %s on attempt %d of %d; next attempt in %.1f s",
                exc.error.method,
                exc.error.path,
                exc.error.status or "no answer",
                attempt_number,
                policy.attempts,
                wait,
            )
            self._sleep(wait)
            return True

        try:
            for attempt in stamina.retry_context(
                on=decide,
                attempts=policy.attempts,
                timeout=None,
                wait_initial=0.0,
                wait_max=0.0,
                wait_jitter=0.0,
            ):
                with attempt:
                    attempt_number = attempt.num
                    return self._attempt(call)
        except _Retryable as failed:
            raise failed.error from None
        raise AssertionError("unreachable: stamina re-raises the last failure")

    def _attempt(self, call: Call) -> httpx.Response:
        request = self._http.build_request(
            call.method, call.url, json=call.json, params=call.params
        )
        if not call.authorized:
            del request.headers["Authorization"]
        shown = _shown_path(request.url, call.authorized)
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            raise self._transport_failure(exc, call, shown) from None
        if response.is_success or response.status_code in call.ok:
            return response
        message = github_message(response)
        wait = _rate_limit_wait(response, message, self._clock())
        error = error_for(response, call.method, shown, message, rate_limited=wait is not None)
        if wait is not None:
            raise _Retryable(error, wait)
        if response.status_code < 500:
            raise error
        if call.create:
            raise _maybe_created(error)
        raise _Retryable(error, None)

    def _transport_failure(self, exc: httpx.TransportError, call: Call, path: str) -> Exception:
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        error = GitHubError(
            f"no answer ({type(exc).__name__})",
            method=call.method,
            path=path,
            hint=f"GitHub could not be reached at {self.api_url}: check the network and "
            "GITHUB_API_URL",
        )
        if call.create and not never_sent:
            return _maybe_created(error)
        return _Retryable(error, None)

    def _same_origin(self, url: str, path: str) -> str:
        target, origin = httpx.URL(url), self._origin
        if (target.scheme, target.host, target.port) != (origin.scheme, origin.host, origin.port):
            raise GitHubError(
                f"the next page is on another host ({target.host}); not following it",
                method="GET",
                path=path,
                hint="check GITHUB_API_URL",
            )
        return url


# --- retries --------------------------------------------------------------------------------


def _backoff(policy: GitHubRetry, attempt: int) -> float:
    jitter = random.uniform(0.0, policy.jitter) if policy.jitter else 0.0  # noqa: S311
    return min(policy.backoff_max, policy.backoff_initial * 2.0 ** (attempt - 1) + jitter)


def _rate_limit_wait(response: httpx.Response, message: str, now: float) -> float | None:
    """Seconds GitHub asks to wait when `response` is a rate limit; None when it is not one.

    `Retry-After` is read by mpctl's one parser (`mpctl.remote.parse_retry_after`); without
    it, the rate-limit headers or the one-minute rule decide."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = parse_retry_after(headers.get("retry-after"))
    if retry_after is not None:
        return retry_after
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        if reset.isascii() and reset.isdigit():
            return max(0.0, float(reset) - now)
        return SECONDARY_RATE_LIMIT_WAIT
    if response.status_code == 429 or "rate limit" in message.lower():
        return SECONDARY_RATE_LIMIT_WAIT
    return None


def _maybe_created(error: GitHubError) -> GitHubError:
    return GitHubError(
        error.summary,
        method=error.method,
        path=error.path,
        status=error.status,
        github_message=error.github_message,
        hint="the comment or issue may have been created all the same; it is not sent again "
        "(that could make a second one): the next run finds it and updates it",
    )


# --- failures -------------------------------------------------------------------------------


def error_for(
    response: httpx.Response,
    method: str,
    path: str,
    message: str | None = None,
    *,
    rate_limited: bool = False,
) -> GitHubError:
    """The `GitHubError` for a non-success `response` (whose body has been read)."""
    text = message if message is not None else github_message(response)
    status = response.status_code
    return GitHubError(
        text or response.reason_phrase or "refused",
        method=method,
        path=path,
        status=status,
        github_message=text or None,
        hint=_hint(status, rate_limited=rate_limited),
    )


def github_message(response: httpx.Response) -> str:
    """GitHub's `message` and its validation `errors`, redacted and shortened."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body.get("message") or "")]
    errors = body.get("errors")
    if isinstance(errors, list):
        parts.extend(_validation_error(item) for item in errors)
    text = " ".join(redact_text("; ".join(p for p in parts if p)).split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _validation_error(item: object) -> str:
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        return ""
    if item.get("message"):
        return str(item["message"])
    words = (item.get("resource"), item.get("field"), item.get("code"))
    return " ".join(str(w) for w in words if w)


def _hint(status: int | None, *, rate_limited: bool = False) -> str:
    if rate_limited:
        return (
            "GitHub's rate limit: run again once it resets (the x-ratelimit-reset header), or "
            "spread the jobs out"
        )
    if status == 401:
        return f"the token was refused (missing, expired or revoked): {TOKEN_HINT}"
    if status == 403:
        return _PERMISSIONS_HINT
    if status == 404:
        return (
            "no such repository, pull request, issue, comment, label or artifact, or the token "
            "cannot see it (GitHub answers 404 when access is missing): check GITHUB_REPOSITORY "
            "and the token's repository access"
        )
    if status == 410:
        return (
            "gone: the artifact expired (its retention days passed; run the job that makes it "
            "again), or issues are disabled in this repository"
        )
    if status == 422:
        return (
            "GitHub refused the request's content (see its message): a label name or color, "
            "a title, or a body it does not accept"
        )
    if status is not None and status >= 500:
        return "a GitHub outage: run again later"
    return "see GitHub's message"


# --- URLs -----------------------------------------------------------------------------------


def checked_api_url(api_url: str) -> str:
    """https, or http only to this machine (a token never crosses a network in clear)."""
    url = httpx.URL(api_url.strip())
    if (url.scheme == "https" and url.host) or (
        url.scheme == "http" and is_loopback_host(url.host)
    ):
        return str(url).rstrip("/")
    raise ConfigError(
        f"GitHub API URL {url.scheme}://{url.host} is not https",
        hint="GITHUB_API_URL is https://api.github.com, or https://HOST/api/v3 for GitHub "
        "Enterprise Server",
    )


def _shown_path(url: httpx.URL, authorized: bool) -> str:
    """The API path and query (no secrets in either); a signed URL shows only its host."""
    if not authorized:
        return f"signed download URL on {url.host}"
    return url.path + (f"?{url.query.decode('ascii')}" if url.query else "")
