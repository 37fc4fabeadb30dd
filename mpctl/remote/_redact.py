"""Body excerpts of remote answers, redacted by `mpctl.redaction` before they go anywhere.

Owns the excerpt length and the one-line shape of response bodies in exceptions and logs. What
counts as secret is decided in `mpctl.redaction` only (`redact` is its `redact_text`). Must not
log, and must not be bypassed: every remote body excerpt goes through `excerpt`.
"""

from __future__ import annotations

from mpctl.redaction import redact_text as redact

__all__ = ["EXCERPT_LIMIT", "excerpt", "redact", "shorten"]

EXCERPT_LIMIT = 500
_SCAN_LIMIT = 64 * 1024


def excerpt(body: bytes | str, limit: int = EXCERPT_LIMIT) -> str:
    """A redacted, single-line, truncated view of a response body (redacted before truncation)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = redact(text[:_SCAN_LIMIT])
    text = " ".join(text.split())
    if len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def shorten(text: str, limit: int = 200) -> str:
    """`text` on one line, cut to `limit` characters (callers redact first)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
