"""Field-level differences between an observed essence and a desired one.

Owns `diff_fields`. deepdiff walks both sides and each finding becomes a `FieldChange`:
- in a set-like list (a list of scalars; the essences sort and deduplicate `scopes`,
  `grant_types`, `allowed_integration_types`) each element that differs is its own change,
  `op="add"` or `op="remove"` at the list's path, so a plan reads `+ scopes = "acme:new"`;
- a nested mapping reports the nested path (`("a", "b")`) with its old and new value;
- anything else (a scalar, a type change, a list of mappings) is one `op="set"` change at its
  field with the whole old and new value.
A create (`observed` None) lists each desired field once, lists whole. Only keys of the desired
essence are compared: fields the manifest does not manage are never reported. Old values are
remote free text, so they pass through `mpctl.redaction` here: a token someone pasted into a
description at Digdir never reaches a saved plan. Output is sorted (path, then removals before
additions, then value). deepdiff is imported at the first difference: a drift check that finds
none (the usual scheduled run) never pays for it. Must not decide actions or touch the network.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

from pydantic import JsonValue

from mpctl.plan.types import FieldChange
from mpctl.redaction import redact_value

_OP_ORDER = {"set": 0, "remove": 1, "add": 2}


def diff_fields(
    observed: Mapping[str, JsonValue] | None, desired: Mapping[str, JsonValue]
) -> tuple[FieldChange, ...]:
    """Changes that turn `observed` into `desired`; everything is new when `observed` is None."""
    if observed is None:
        return tuple(
            _created(key, value) for key, value in sorted(desired.items()) if value is not None
        )
    old = {key: observed.get(key) for key in desired}
    if old == desired:
        return ()  # the common, converged case; DeepDiff costs ~0.5 ms per object
    from deepdiff import DeepDiff  # noqa: PLC0415 - a plan without changes never imports it

    new = dict(desired)
    found = DeepDiff(old, new, view="tree", ignore_order_func=_is_set_level)
    changes = {
        _key(change): change
        for levels in found.values()
        for level in levels
        for change in _changes(level, old, new)
    }
    return tuple(changes[key] for key in sorted(changes))


_SCALARS = (str, int, float, bool)
_SHARED: dict[tuple[str, Hashable], FieldChange] = {}
_SHARED_MAX = 4096


def _created(key: str, value: JsonValue) -> FieldChange:
    """A create's change of one field. Creates repeat most fields (`application_type`,
    `grant_types`, the same scopes...), so an equal change is one shared frozen object: a plan
    of thousands of new clients builds and holds each once. A memo, bounded, not state."""
    token = _token(value)
    if token is None:
        return FieldChange(path=(key,), new=value)
    found = _SHARED.get((key, token))
    if found is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        found = _SHARED[(key, token)] = FieldChange(path=(key,), new=value)
    return found


def _token(value: JsonValue) -> Hashable | None:
    """A hashable stand-in for a scalar or a list of scalars (types kept: 1, 1.0 and True
    differ), None for anything else."""
    if isinstance(value, _SCALARS):
        return (type(value), value)
    if isinstance(value, list) and all(isinstance(item, _SCALARS) for item in value):
        return (list, tuple((type(item), item) for item in value))
    return None


def _is_set_like(value: object) -> bool:
    """A list of scalars: compared as a set, element by element."""
    return isinstance(value, list) and all(
        isinstance(item, str | int | float | bool) for item in value
    )


def _is_set_level(level: Any) -> bool:
    return _is_set_like(level.t1) and _is_set_like(level.t2)


def _changes(
    level: Any, old: Mapping[str, JsonValue], new: Mapping[str, JsonValue]
) -> Iterator[FieldChange]:
    """The changes one deepdiff finding between `old` and `new` stands for."""
    from deepdiff.helper import NotPresent  # noqa: PLC0415 - see diff_fields

    parts = level.path(output_format="list")
    field = _field_path(parts)
    if len(parts) == len(field) + 1 and _is_set_level(level.up):
        # An element of a set-like list; a 'changed' element is one removed and one added.
        if not isinstance(level.t1, NotPresent):
            yield FieldChange(path=field, op="remove", old=redact_value(level.t1, name=field[-1]))
        if not isinstance(level.t2, NotPresent):
            yield FieldChange(path=field, op="add", new=level.t2)
        return
    yield FieldChange(
        path=field, old=redact_value(_at(old, field), name=field[-1]), new=_at(new, field)
    )


def _field_path(parts: list[str | int]) -> tuple[str, ...]:
    """The path up to the first list index: a change inside a list belongs to the list."""
    field: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            break
        field.append(part)
    return tuple(field)


def _at(document: Mapping[str, JsonValue], path: tuple[str, ...]) -> JsonValue:
    value: JsonValue = dict(document)
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _key(change: FieldChange) -> tuple[tuple[str, ...], int, str, str]:
    """Identity and sort order: path, removals before additions, then the values."""
    old, new = (json.dumps(v, sort_keys=True) for v in (change.old, change.new))
    return change.path, _OP_ORDER[change.op], old, new
