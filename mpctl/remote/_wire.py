"""Wire JSON → observed models, read tolerantly but never partially.

Owns the small normalisations real responses need before validation (null members dropped so
model defaults apply, numeric org numbers as 9-digit strings) and the rule that a success body
which is not JSON, or not the expected shape, raises `ResponseFormatError` instead of yielding a
partial value. Unknown fields are ignored by the models themselves. Must not do I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from mpctl.remote._failures import sanitized_cause
from mpctl.remote._redact import excerpt
from mpctl.remote.errors import ResponseFormatError, shown_path

M = TypeVar("M", bound=BaseModel)
_ORGNO_FIELDS = ("client_orgno", "supplier_orgno", "owner_orgno", "consumer_orgno")


def json_body(response: httpx.Response, *, method: str) -> Any:
    """The parsed JSON body of a success response; None when the body is empty."""
    if not response.content.strip():
        return None
    try:
        return json.loads(response.content)
    except ValueError as exc:
        # sanitized: a JSONDecodeError keeps the whole body in `.doc`
        raise format_error("body is not JSON (truncated?)", response, method) from sanitized_cause(
            exc
        )


def one(response: httpx.Response, model: type[M], *, method: str) -> M:
    """The body as one `model` object."""
    body = json_body(response, method=method)
    if not isinstance(body, dict):
        raise format_error(f"expected a JSON object, got {_kind(body)}", response, method)
    return _validate(model, _tidy(body), response, method)


def many(
    response: httpx.Response,
    model: type[M],
    *,
    method: str,
    defaults: Mapping[str, Any] | None = None,
) -> tuple[M, ...]:
    """The body as a JSON array of `model` objects; one bad element fails the whole list.

    `defaults` fill members an element lacks (e.g. `scope` in a per-scope access list).
    """
    body = json_body(response, method=method)
    if not isinstance(body, list):
        raise format_error(f"expected a JSON array, got {_kind(body)}", response, method)
    if not all(isinstance(item, dict) for item in body):
        raise format_error("expected an array of JSON objects", response, method)
    base = dict(defaults or {})
    return tuple(_validate(model, {**base, **_tidy(item)}, response, method) for item in body)


def jwks_body(response: httpx.Response, model: type[M], *, method: str) -> M:
    """A JWKS object (`{"keys": [...]}`); each key is tidied like any other object."""
    body = json_body(response, method=method)
    if not isinstance(body, dict) or not isinstance(body.get("keys", []), list):
        raise format_error("expected a JWKS object with a 'keys' array", response, method)
    keys = body.get("keys") or []
    if not all(isinstance(key, dict) for key in keys):
        raise format_error("expected JWKS keys to be JSON objects", response, method)
    tidied = {**_tidy(body), "keys": [_tidy(key) for key in keys]}
    return _validate(model, tidied, response, method)


def _tidy(item: dict[str, Any]) -> dict[str, Any]:
    """Drop null members (so defaults apply) and write numeric org numbers as 9-digit strings."""
    tidied = {k: v for k, v in item.items() if v is not None}
    for name in _ORGNO_FIELDS:
        value = tidied.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            tidied[name] = f"{value:09d}"
    return tidied


def _validate(model: type[M], data: dict[str, Any], response: httpx.Response, method: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Only locations and messages: the ValidationError itself repeats raw input values.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        summary = f"unexpected {model.__name__} shape: {problems}"
        raise format_error(summary, response, method) from None


def format_error(summary: str, response: httpx.Response, method: str) -> ResponseFormatError:
    return ResponseFormatError(
        summary,
        method=method,
        path=shown_path(response.request.url),
        status=response.status_code,
        body_excerpt=excerpt(response.content) if response.content else None,
    )


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
