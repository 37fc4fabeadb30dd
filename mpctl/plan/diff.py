"""Field-level differences between an observed essence and a desired one.

Owns `diff_fields`: deepdiff finds what differs; each finding is reported at its field (the
path up to the first list index), so a list shows as one change with its whole old and new
value. Only keys of the desired essence are compared: fields the manifest does not manage are
never reported. Old values are remote free text, so they pass through `mpctl.redaction` here:
a token someone pasted into a description at Digdir never reaches a saved plan. Output is
sorted by path. Must not decide actions or touch the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepdiff import DeepDiff
from pydantic import JsonValue

from mpctl.plan.types import FieldChange
from mpctl.redaction import redact_value


def diff_fields(
    observed: Mapping[str, JsonValue] | None, desired: Mapping[str, JsonValue]
) -> tuple[FieldChange, ...]:
    """Changes that turn `observed` into `desired`; everything is new when `observed` is None."""
    if observed is None:
        return tuple(
            FieldChange(path=(key,), new=value)
            for key, value in sorted(desired.items())
            if value is not None
        )
    old = {key: observed.get(key) for key in desired}
    if old == desired:
        return ()  # the common, converged case; DeepDiff costs ~0.5 ms per object
    found = DeepDiff(old, dict(desired), view="tree", verbose_level=2)
    paths = {_field_path(level) for levels in found.values() for level in levels}
    return tuple(
        FieldChange(
            path=path, old=redact_value(_at(old, path), name=path[-1]), new=_at(desired, path)
        )
        for path in sorted(paths)
    )


def _field_path(level: Any) -> tuple[str, ...]:
    field: list[str] = []
    for part in level.path(output_format="list"):
        if not isinstance(part, str):
            break
        field.append(part)
    return tuple(field)


def _at(document: Mapping[str, JsonValue], path: tuple[str, ...]) -> JsonValue:
    value: JsonValue = dict(document)
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value
