"""Field-level diffs: only desired keys, whole lists, sorted paths."""

from __future__ import annotations

from typing import Any

import pytest

from mpctl.plan.diff import diff_fields
from mpctl.plan.types import FieldChange


def fc(path: str, old: Any, new: Any) -> FieldChange:
    return FieldChange(path=tuple(path.split(".")), old=old, new=new)


@pytest.mark.parametrize(
    ("observed", "desired", "changes"),
    [
        pytest.param({"a": 1}, {"a": 1}, (), id="equal"),
        pytest.param({"a": 1}, {"a": 2}, (fc("a", 1, 2),), id="scalar"),
        pytest.param({"a": None}, {"a": "x"}, (fc("a", None, "x"),), id="type-change"),
        pytest.param({}, {"a": "x"}, (fc("a", None, "x"),), id="missing-remotely"),
        pytest.param({"a": 1, "server": 9}, {"a": 1}, (), id="unmanaged-field-ignored"),
        pytest.param(
            {"s": ["a", "b"]},
            {"s": ["a", "b", "c"]},
            (fc("s", ["a", "b"], ["a", "b", "c"]),),
            id="list-as-one-change",
        ),
        pytest.param(
            {"s": ["a", "b"]}, {"s": ["b"]}, (fc("s", ["a", "b"], ["b"]),), id="list-shrinks"
        ),
        pytest.param(
            {"n": {"x": 1, "y": 2}}, {"n": {"x": 1, "y": 3}}, (fc("n.y", 2, 3),), id="nested"
        ),
        pytest.param(
            {"b": 1, "a": 1, "c": 1},
            {"c": 2, "a": 2, "b": 1},
            (fc("a", 1, 2), fc("c", 1, 2)),
            id="sorted-by-path",
        ),
        pytest.param(
            None,
            {"b": 2, "a": 1, "z": None},
            (fc("a", None, 1), fc("b", None, 2)),
            id="create-skips-absent",
        ),
    ],
)
def test_diff_fields(
    observed: dict[str, Any] | None, desired: dict[str, Any], changes: tuple[FieldChange, ...]
) -> None:
    assert diff_fields(observed, desired) == changes
