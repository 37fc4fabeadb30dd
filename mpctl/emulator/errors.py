"""Error responses of the self-service API (the v1 body) and of the token endpoint (OAuth2).

Owns the two exception types handlers raise and the JSON bodies they become. Messages are
built from names and ids only, never from request bodies, so no key or token can leak into an
error. It must not decide when an error happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mpctl.emulator.ids import trace_id
from mpctl.emulator.wire import error_timestamp


@dataclass(frozen=True)
class Problem:
    """One entry of the v1 `errors` list; `field` set means a field error."""

    message: str
    field: str | None = None


class ApiError(Exception):
    """A 4xx/5xx answer of the self-service API."""

    def __init__(
        self,
        status: int,
        problems: Sequence[Problem] | str,
        *,
        object_name: str = "Request",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.problems = [Problem(problems)] if isinstance(problems, str) else list(problems)
        self.object_name = object_name
        self.headers = headers or {}
        super().__init__("; ".join(problem.message for problem in self.problems))


def api_error_body(error: ApiError, now: float, *, leading_separator: bool) -> dict[str, Any]:
    """The v1 error body (status, timestamp, correlation_id, errors[], error, error_description)."""
    joined = ", ".join(problem.message for problem in error.problems)
    text = f", {joined}" if leading_separator else joined
    return {
        "status": error.status,
        "timestamp": error_timestamp(now),
        "correlation_id": trace_id(),
        "errors": [
            {
                "errorMessage": problem.message,
                "isFieldError": problem.field is not None,
                "objectName": error.object_name,
                "fieldIdentifier": problem.field,
            }
            for problem in error.problems
        ],
        "error": text,
        "error_description": text,
    }


class TokenError(Exception):
    """A refused token request: OAuth2 `error`, the catalogue text and its MP code."""

    def __init__(self, error: str, text: str, mp_code: str | None = None) -> None:
        self.error = error
        self.text = text
        self.mp_code = mp_code
        super().__init__(f"{mp_code or error}: {text}")


def token_error_body(error: TokenError, issuer: str) -> dict[str, str]:
    """RFC 6749 §5.2 plus Maskinporten's trace id and `error_uri` (when there is an MP code)."""
    body = {
        "error": error.error,
        "error_description": f"{error.text} (trace_id: {trace_id()})",
    }
    if error.mp_code is not None:
        body["error_uri"] = f"{issuer}errors/{error.mp_code}"
    return body
