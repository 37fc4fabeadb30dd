"""The one parser of the `Retry-After` header (RFC 9110 §10.2.3), for Digdir and the token endpoint.

Owns turning the header into a bounded wait in seconds: delta-seconds (ASCII digits only, so
`²` or `٣` are not numbers here even though `str.isdigit()` says so) or an HTTP-date; anything
else is None (the caller falls back to its own backoff). The result is clamped to
[0, MAX_RETRY_AFTER]; whether a wait that long is acceptable is the retry policy's decision.
Never raises, whatever the server sends. Must not do I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 86_400.0
"""One day: longer asks are clamped to this (and then refused by any sane retry policy)."""

_DELTA_SECONDS = re.compile(r"[0-9]+", re.ASCII)
_OPTIONAL_WHITESPACE = " \t"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header, clamped; None when absent or malformed."""
    if value is None:
        return None
    text = value.strip(_OPTIONAL_WHITESPACE)
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        return _clamp(float(int(text)) if len(text) <= 12 else MAX_RETRY_AFTER)
    moment = _http_date(text)
    if moment is None:
        return None
    return _clamp((moment - (now or datetime.now(UTC))).total_seconds())


def _http_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):  # malformed dates raise these
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _clamp(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
