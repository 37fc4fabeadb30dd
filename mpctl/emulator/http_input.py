"""Reading requests: JSON bodies, query parameters and flags, with v1 errors when malformed.

Owns request parsing shared by the API modules. It must not apply business rules.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from mpctl.emulator.errors import ApiError, Problem


def json_object(raw: bytes, object_name: str) -> dict[str, Any]:
    """The request body parsed as a JSON object, or 400."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Request body is not valid JSON", object_name=object_name) from None
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object", object_name=object_name)
    return body


def required_query(request: Request, name: str, object_name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        problem = Problem(f"Query parameter '{name}' is required", field=name)
        raise ApiError(400, [problem], object_name=object_name)
    return value


def query_flag(request: Request, name: str) -> bool:
    """`?name=true` (case-insensitive); anything else is false."""
    return request.query_params.get(name, "").lower() == "true"


def validation_problems(error: ValidationError) -> list[Problem]:
    """Pydantic errors as v1 field errors (`scopes[0]`, `keys[1].kid`, ...)."""
    return [
        Problem(item["msg"], field=_field_path(item["loc"]) or None)
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path
