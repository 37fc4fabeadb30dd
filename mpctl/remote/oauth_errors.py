"""The token endpoint's refusals, read once: Maskinporten's OAuth error body as one typed error.

Owns `TokenRefusedError` (a 4xx answer: `error`, `error_description`, `error_uri`, the MP code and
the trace id, all redacted and bounded), `TokenTimeoutError` (no answer in time; safe to
resend, since every attempt signs a fresh grant), and `token_refusal`, the one parser of the
body. Must not retry, log, or put a grant or a token anywhere: only the endpoint's own words.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from mpctl.remote._redact import excerpt, redact, shorten
from mpctl.remote.errors import RemoteCallError, TransportError

_MP_CODE = re.compile(r"\bMP-\d{3}\b")
_TRACE = re.compile(r"\s*\((?:trace_id|correlation id):\s*([0-9A-Za-z-]{1,64})\s*\)")
_TEXT_LIMIT = 500


class TokenRefusedError(RemoteCallError):
    """The token endpoint refused the grant (4xx). Never retried: the grant must change."""

    code = "REMOTE_TOKEN_REFUSED"

    def __init__(
        self,
        summary: str,
        *,
        error: str | None = None,
        description: str | None = None,
        error_uri: str | None = None,
        mp_code: str | None = None,
        **context: Any,
    ) -> None:
        self.error = error
        self.description = description
        self.error_uri = error_uri
        self.mp_code = mp_code
        super().__init__(summary, **context)

    @property
    def trace_id(self) -> str | None:
        """Maskinporten's trace id of the refused request (quote it to Digdir's support)."""
        return self.correlation_id

    def error_body(self) -> dict[str, object]:
        """The OAuth error members as Maskinporten sent them (redacted), for the catalogue."""
        return {
            "error": self.error,
            "error_description": self.description,
            "error_uri": self.error_uri,
        }


class TokenTimeoutError(TransportError):
    """The token endpoint did not answer in time. Resending is safe: a new grant is signed."""

    code = "REMOTE_TOKEN_TIMEOUT"


def token_refusal(response: httpx.Response, *, path: str) -> TokenRefusedError:
    """The typed refusal for a 4xx `response` of the token endpoint (body already read)."""
    body = json_body(response)
    error = _text(body.get("error"))
    description = _text(body.get("error_description"))
    error_uri = _text(body.get("error_uri"))
    found = _MP_CODE.search(error_uri or "") or _MP_CODE.search(description or "")
    mp_code = found.group(0) if found else None
    trace = _TRACE.search(description or "")
    bare = _TRACE.sub("", description).strip() if description else None
    return TokenRefusedError(
        bare or error or response.reason_phrase or f"HTTP {response.status_code}",
        error=error,
        description=description,
        error_uri=error_uri,
        mp_code=mp_code,
        method="POST",
        path=path,
        status=response.status_code,
        correlation_id=trace.group(1) if trace else _text(response.headers.get("x-correlation-id")),
        body_excerpt=excerpt(response.content) if response.content else None,
        hint=f"see `mpctl explain {mp_code}`" if mp_code else None,
    )


def _text(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return shorten(redact(value), _TEXT_LIMIT)


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or an empty one (not JSON, or not an object)."""
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
