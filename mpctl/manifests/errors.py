"""Turning pydantic validation errors into located, actionable diagnostics.

Owns the mapping from an error's `loc` to a line (longest known path prefix) and the wording of
common errors (unknown field with a did-you-mean, wrong type, missing field). Must not load files.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mpctl.manifests.findings import ManifestFinding
from mpctl.manifests.yaml import Path

Located = tuple[str, int]
"""(file, line) of a value; a merged document may take values from several files."""


def diagnostics_from_validation(
    exc: ValidationError,
    file: str,
    lines: Mapping[Path, int] | Mapping[Path, Located],
    model: type[BaseModel],
    *,
    strip_tag: bool = False,
) -> list[ManifestFinding]:
    """One diagnostic per pydantic error, each at the line of the nearest known path."""
    found = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])[1:] if strip_tag else tuple(error["loc"])
        where_file, line = locate(loc, file, lines)
        message, hint = _describe(error, loc, model)
        code = "MPL101" if "organisation number" in message else "MPL005"
        found.append(ManifestFinding(where_file, line, code, message, hint))
    return sorted(set(found))


def locate(
    loc: tuple[Any, ...], file: str, lines: Mapping[Path, int] | Mapping[Path, Located]
) -> Located:
    """The (file, line) of the longest prefix of `loc` that has a known position."""
    for end in range(len(loc), -1, -1):
        where = lines.get(tuple(loc[:end]))
        if where is not None:
            return where if isinstance(where, tuple) else (file, where)
    return file, 1


def _describe(error: ErrorDetails, loc: tuple[Any, ...], model: type[BaseModel]) -> tuple[str, str]:
    dotted = ".".join(str(p) for p in loc) or "document"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown field {dotted!r}", _did_you_mean(loc, model)
    if kind == "missing":
        return f"missing required field {dotted!r}", f"add '{loc[-1]}:'"
    if kind == "bool_type":
        return f"{dotted}: expected true or false", "write true or false (not yes/no/on/off)"
    message = error["msg"].removeprefix("Value error, ")
    return f"{dotted}: {message}", ""


def _did_you_mean(loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    fields = _fields_at(model, loc[:-1])
    matches = difflib.get_close_matches(str(loc[-1]), fields, n=1)
    if matches:
        return f"did you mean {matches[0]!r}?"
    return f"allowed here: {', '.join(sorted(fields))}" if fields else "remove it"


def _fields_at(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """Field names of the sub-model at `path` (best effort through nested models)."""
    current: Any = model
    for part in path:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            continue
        info = current.model_fields.get(str(part))
        current = _model_in(info.annotation) if info else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The first BaseModel class found inside a (possibly generic/union) annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or getattr(annotation, "__metadata__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    origin = getattr(annotation, "__origin__", None)
    return _model_in(origin) if origin is not None and origin is not annotation else None
