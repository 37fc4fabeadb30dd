"""Typed failures of calls to Digdir's self-service API and Maskinporten's token endpoint.

Owns the exception classes and the mapping from an HTTP response (status, v1 error body,
`Retry-After`) to one of them. Every exception carries the method, the path (query values only
for known non-secret parameters), Digdir's `correlation_id` when the body has one, and a body
excerpt that is truncated and redacted. It never carries request bodies, headers, tokens or keys.
Must not retry, log, or decide what the caller does next beyond the class it picks.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx

from mpctl.errors import ConfigError, RemoteError, UserError
from mpctl.remote._redact import excerpt, redact, shorten
from mpctl.remote.retry_after import parse_retry_after

_SHOWN_QUERY_PARAMETERS = frozenset({"scope", "inactive", "accessible_for_all"})


class RemoteCallError(RemoteError):
    """A call reached (or tried to reach) the remote and failed. Base of every call failure."""

    code = "REMOTE_CALL"
    default_hint: ClassVar[str | None] = None
    service: ClassVar[str] = ""
    """Names the remote in the message when it is not Digdir ("GitHub POST /repos/… → 422")."""
    shown: ClassVar[tuple[str, ...]] = ("method", "path", "status", "correlation_id", "summary")
    """The attributes `repr` shows: none of them can hold a secret."""

    def __init__(
        self,
        summary: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        correlation_id: str | None = None,
        body_excerpt: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.correlation_id = correlation_id
        self.body_excerpt = body_excerpt
        self.summary = summary
        where = f"{method} {path}" + (f" → {status}" if status is not None else "")
        message = f"{self.service} {where}: {summary}".lstrip()
        if correlation_id:
            message += f" (correlation id {correlation_id})"
        super().__init__(message, hint=hint or self.default_hint)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.shown)
        return f"{type(self).__name__}({fields})"


class HttpStatusError(RemoteCallError):
    """The remote answered with a non-success status that has no more specific class."""

    code = "REMOTE_STATUS"


class BadRequest(HttpStatusError):  # noqa: N818 - named after the HTTP status
    """400: Digdir refused the request as invalid; `messages` are its `errors[].errorMessage`."""

    code = "REMOTE_BAD_REQUEST"

    def __init__(self, summary: str, *, messages: tuple[str, ...] = (), **context: Any) -> None:
        self.messages = messages
        super().__init__(summary, **context)


class Unauthorized(HttpStatusError):  # noqa: N818 - named after the HTTP status
    """401: the admin token was refused, even after one refresh."""

    code = "REMOTE_UNAUTHORIZED"
    default_hint = "check the admin client id, its business certificate/key and the environment"


class Forbidden(HttpStatusError):  # noqa: N818 - named after the HTTP status
    """403: the admin token lacks the scope for this call, or the object is another org's."""

    code = "REMOTE_FORBIDDEN"
    default_hint = "ask Digdir for the admin scope this call needs (idporten:dcr.*, scopes.*)"


class NotFound(HttpStatusError):  # noqa: N818 - named after the HTTP status
    """404: no such object for this organisation."""

    code = "REMOTE_NOT_FOUND"


class Conflict(HttpStatusError):  # noqa: N818 - named after the HTTP status
    """409: the object exists already (or is deactivated: re-activate it with a PUT)."""

    code = "REMOTE_CONFLICT"


class PreconditionRequired(HttpStatusError):  # noqa: N818 - named after the HTTP status
    """428: the organisation has not signed the terms of use."""

    code = "REMOTE_TERMS_NOT_SIGNED"
    default_hint = "the organisation has not signed the terms of use in Samarbeidsportalen"


class RateLimited(HttpStatusError):  # noqa: N818 - named after the HTTP status
    """429: too many requests; `retry_after` is the server's wait in seconds, if it gave one."""

    code = "REMOTE_RATE_LIMITED"

    def __init__(self, summary: str, *, retry_after: float | None = None, **context: Any) -> None:
        self.retry_after = retry_after
        super().__init__(summary, **context)


class ServerError(HttpStatusError):
    """5xx: the remote failed; safe to retry (a 5xx answer is taken as "not applied")."""

    code = "REMOTE_SERVER_ERROR"


class TransportError(RemoteCallError):
    """No usable response, and resending is safe: not sent (`sent=False`) or an idempotent call."""

    code = "REMOTE_TRANSPORT"

    def __init__(
        self, summary: str, *, sent: bool, permanent: bool = False, **context: Any
    ) -> None:
        self.sent = sent
        self.permanent = permanent
        """No resend can change it (the server's certificate is not trusted here)."""
        super().__init__(summary, **context)


class AmbiguousWriteError(RemoteCallError):
    """A non-idempotent write was sent but no answer came: it may or may not have happened.

    Contract: this is never retried. The caller must re-read the object and decide from what it
    observes (create → list and match; JWKS → fresh read before computing the next set).
    """

    code = "REMOTE_AMBIGUOUS_WRITE"
    default_hint = "the write may have happened: re-read the remote state before trying again"


class ResponseFormatError(RemoteCallError):
    """A success status with a body that is not JSON, is truncated, or has the wrong shape."""

    code = "REMOTE_BAD_RESPONSE"


class AdminTokenError(RemoteCallError):
    """No admin token: the token endpoint refused the grant, or could not be reached."""

    code = "REMOTE_ADMIN_TOKEN"

    def __init__(
        self,
        summary: str,
        *,
        error: str | None = None,
        mp_code: str | None = None,
        **context: Any,
    ) -> None:
        self.error = error
        self.mp_code = mp_code
        super().__init__(summary, **context)


class UnsafeRequestError(UserError):
    """A request mpctl refuses to build: a path parameter that could escape its path segment,
    or a key set with private members."""

    code = "REMOTE_UNSAFE_REQUEST"


class AdminCredentialError(ConfigError):
    """The admin credential cannot be read or parsed. Names the source, never its content."""

    code = "ADMIN_CREDENTIAL"


_STATUS_CLASSES: dict[int, type[HttpStatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    428: PreconditionRequired,
    429: RateLimited,
}


def shown_path(url: httpx.URL) -> str:
    """The path of `url` with only known non-secret query values kept."""
    if not url.params:
        return url.path
    parts = [
        f"{name}={value if name in _SHOWN_QUERY_PARAMETERS else '…'}"
        for name, value in url.params.multi_items()
    ]
    return f"{url.path}?{'&'.join(parts)}"


def error_for_response(response: httpx.Response, *, method: str) -> HttpStatusError:
    """The typed exception for a non-success `response` (whose body has been read)."""
    body = _json_object(response.content)
    messages = _error_messages(body)
    context: dict[str, Any] = {
        "method": method,
        "path": shown_path(response.request.url),
        "status": response.status_code,
        "correlation_id": _correlation_id(body, response.headers),
        "body_excerpt": excerpt(response.content) if response.content else None,
    }
    summary = "; ".join(messages) or response.reason_phrase or "error"
    status = response.status_code
    if status == 400:
        return BadRequest(summary, messages=messages, **context)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimited(summary, retry_after=retry_after, **context)
    if status >= 500:
        return ServerError(summary, **context)
    return _STATUS_CLASSES.get(status, HttpStatusError)(summary, **context)


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_messages(body: dict[str, Any]) -> tuple[str, ...]:
    """Digdir's v1 `errors[].errorMessage`, else `error_description`/`error`; redacted."""
    found: list[str] = []
    errors = body.get("errors")
    if isinstance(errors, list):
        found = [e["errorMessage"] for e in errors if isinstance(e, dict) and e.get("errorMessage")]
    if not found:
        fallback = body.get("error_description") or body.get("error") or body.get("message")
        found = [fallback] if fallback else []
    return tuple(shorten(redact(str(m)).strip(", ")) for m in found)


def _correlation_id(body: dict[str, Any], headers: httpx.Headers) -> str | None:
    value = body.get("correlation_id") or headers.get("x-correlation-id")
    return shorten(redact(str(value)), 80) if value else None
