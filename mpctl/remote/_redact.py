"""Redaction of remote text before it may appear in an exception, a log line or a report.

Owns the patterns that count as secret-looking (PEM blocks, JWTs, bearer tokens, named secret
fields, long base64 runs) and the excerpt length. It errs on the side of hiding too much: a
hidden public modulus costs nothing, a leaked admin token costs the organisation. Must not log,
and must not be bypassed: every remote body excerpt goes through `excerpt`.
"""

from __future__ import annotations

import re

EXCERPT_LIMIT = 500
_SCAN_LIMIT = 64 * 1024
_MARK = "[REDACTED]"

_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|\Z)", re.DOTALL)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?")
_DOTTED_TRIPLE = re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+")
_NAMED_SECRET = re.compile(
    r"(?i)(\"?(?:access_token|refresh_token|id_token|assertion|client_secret|private_key"
    r"|password|secret|token)\"?\s*[:=]\s*\"?)[^\"&,\s}]+"
)
_JWK_PRIVATE_MEMBER = re.compile(r"(\"(?:d|p|q|dp|dq|qi|k)\"\s*:\s*\")[^\"]*")
_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")


def redact(text: str) -> str:
    """`text` with everything token-like, key-like or certificate-like replaced by a marker."""
    text = _PEM.sub("[REDACTED PEM]", text)
    text = _JWT.sub("[REDACTED JWT]", text)
    text = _DOTTED_TRIPLE.sub("[REDACTED JWT]", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {_MARK}", text)
    text = _NAMED_SECRET.sub(lambda m: f"{m.group(1)}{_MARK}", text)
    text = _JWK_PRIVATE_MEMBER.sub(lambda m: f"{m.group(1)}{_MARK}", text)
    return _LONG_BASE64.sub(_MARK, text)


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
