"""Failures without a usable answer: were they sent, may they have happened, what to chain.

Owns the split between "never sent" (connect failures: safe to resend anything) and "may have
reached the server" (timeouts and drops after sending), which failures no resend can change (a
server certificate this machine does not trust), the rule that a 5xx answer to a create is
ambiguous, and `sanitized_cause`, the redacted stand-in chained with `raise ... from` in place
of an httpx exception (which holds the request, and so its Authorization header). Must not
retry or log.
"""

from __future__ import annotations

import ssl

import httpx

from mpctl.remote._redact import redact, shorten
from mpctl.remote.errors import AmbiguousWriteError, ServerError, TransportError

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class UpstreamCause(Exception):  # noqa: N818 - a stand-in, not an error mpctl raises itself
    """A redacted stand-in for a library exception, used as `__cause__`.

    httpx's exceptions hold the request, and so its Authorization header; the stand-in keeps
    the type name, the redacted message and the traceback, and drops the rest.
    """


def sanitized_cause(exc: BaseException) -> UpstreamCause:
    """What to chain with `raise ... from`: the failure without the request that caused it."""
    cause = UpstreamCause(f"{type(exc).__name__}: {redact(str(exc))}")
    return cause.with_traceback(exc.__traceback__)


def ambiguous_create(error: ServerError) -> AmbiguousWriteError:
    """A 5xx answer to a create: the object may exist now (Digdir may fail after storing it)."""
    return AmbiguousWriteError(
        f"server error after a create was sent: {error.summary}",
        method=error.method,
        path=error.path,
        status=error.status,
        correlation_id=error.correlation_id,
        body_excerpt=error.body_excerpt,
    )


def transport_failure(
    exc: httpx.TransportError, *, method: str, path: str, resend_safe: bool
) -> TransportError | AmbiguousWriteError:
    """Classify a failure without a response: safe to resend (`TransportError`) or ambiguous.

    A connect failure means the request never left. Anything later (write/read timeout, a
    dropped connection, a truncated answer) may have reached the server.
    """
    sent = not isinstance(exc, _NOT_SENT)
    summary = shorten(redact(f"{type(exc).__name__}: {exc}".rstrip(": ")))
    if not sent or resend_safe:
        permanent = _untrusted_certificate(exc)
        return TransportError(summary, sent=sent, permanent=permanent, method=method, path=path)
    return AmbiguousWriteError(
        f"no answer after the request was sent ({summary})", method=method, path=path
    )


def _untrusted_certificate(exc: BaseException) -> bool:
    """Whether the TLS handshake refused the server's certificate (in `exc` or its causes)."""
    seen: BaseException | None = exc
    for _ in range(6):  # httpx → httpcore → anyio → ssl: a few links, never a cycle followed
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
