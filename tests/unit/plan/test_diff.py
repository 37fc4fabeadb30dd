"""Field-level diffs: only desired keys, set-like lists element by element, nested paths, sorted."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mpctl.plan.diff import diff_fields
from mpctl.plan.types import FieldChange
from mpctl.redaction import SENSITIVE


def fc(path: str, old: Any, new: Any) -> FieldChange:
    return FieldChange(path=tuple(path.split(".")), old=old, new=new)


def add(path: str, element: Any) -> FieldChange:
    return FieldChange(path=tuple(path.split(".")), op="add", new=element)


def remove(path: str, element: Any) -> FieldChange:
    return FieldChange(path=tuple(path.split(".")), op="remove", old=element)


@pytest.mark.parametrize(
    ("observed", "desired", "changes"),
    [
        pytest.param({"a": 1}, {"a": 1}, (), id="equal"),
        pytest.param({"a": 1}, {"a": 2}, (fc("a", 1, 2),), id="scalar"),
        pytest.param({"a": None}, {"a": "x"}, (fc("a", None, "x"),), id="type-change"),
        pytest.param({}, {"a": "x"}, (fc("a", None, "x"),), id="missing-remotely"),
        pytest.param({"a": 1, "server": 9}, {"a": 1}, (), id="unmanaged-field-ignored"),
        pytest.param(
            {"s": ["a", "b"]}, {"s": ["a", "b", "c"]}, (add("s", "c"),), id="element-added"
        ),
        pytest.param({"s": ["a", "b"]}, {"s": ["b"]}, (remove("s", "a"),), id="element-removed"),
        pytest.param(
            {"s": ["a", "old"]},
            {"s": ["a", "new"]},
            (remove("s", "old"), add("s", "new")),
            id="one-removed-one-added-is-not-a-changed-element",
        ),
        pytest.param(
            {"s": ["b", "d", "e"]},
            {"s": ["a", "c", "e", "f"]},
            (remove("s", "b"), remove("s", "d"), add("s", "a"), add("s", "c"), add("s", "f")),
            id="removals-then-additions-each-sorted",
        ),
        pytest.param({"s": []}, {"s": ["x"]}, (add("s", "x"),), id="first-element"),
        pytest.param({"s": ["x"]}, {"s": []}, (remove("s", "x"),), id="last-element"),
        pytest.param({"s": [1, 2]}, {"s": [1, 3]}, (remove("s", 2), add("s", 3)), id="numbers"),
        pytest.param({"s": ["b", "a"]}, {"s": ["a", "b"]}, (), id="order-is-not-a-change"),
        pytest.param({"s": None}, {"s": ["x"]}, (fc("s", None, ["x"]),), id="list-from-absent"),
        pytest.param(
            {"l": [{"a": 1}, {"b": 2}]},
            {"l": [{"b": 2}, {"a": 1}]},
            (fc("l", [{"a": 1}, {"b": 2}], [{"b": 2}, {"a": 1}]),),
            id="list-of-mappings-whole-and-ordered",
        ),
        pytest.param(
            {"n": {"x": 1, "y": 2}}, {"n": {"x": 1, "y": 3}}, (fc("n.y", 2, 3),), id="nested"
        ),
        pytest.param(
            {"n": {"x": 1}}, {"n": {"x": 1, "y": 3}}, (fc("n.y", None, 3),), id="nested-new-key"
        ),
        pytest.param(
            {"n": {"s": ["a"]}},
            {"n": {"s": ["a", "b"]}},
            (add("n.s", "b"),),
            id="nested-set-element",
        ),
        pytest.param(
            {"b": 1, "a": 1, "c": 1, "s": ["x"]},
            {"c": 2, "a": 2, "b": 1, "s": ["y"]},
            (fc("a", 1, 2), fc("c", 1, 2), remove("s", "x"), add("s", "y")),
            id="sorted-by-path",
        ),
        pytest.param(
            None,
            {"b": 2, "a": 1, "z": None, "s": ["y", "x"]},
            (fc("a", None, 1), fc("b", None, 2), fc("s", None, ["y", "x"])),
            id="create-whole-values-skips-absent",
        ),
    ],
)
def test_diff_fields(
    observed: dict[str, Any] | None, desired: dict[str, Any], changes: tuple[FieldChange, ...]
) -> None:
    assert diff_fields(observed, desired) == changes


def test_removed_elements_are_redacted_like_old_values() -> None:
    """A removed element is remote text: a token in it never reaches the plan."""
    token = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
    changes = diff_fields({"scopes": ["a", token]}, {"scopes": ["a"]})
    assert len(changes) == 1
    assert changes[0].op == "remove"
    assert token not in str(changes[0].old)


def test_secret_named_nested_field_is_masked() -> None:
    (change,) = diff_fields({"n": {"client_secret": "s3cr3t"}}, {"n": {"client_secret": "new"}})
    assert change.path == ("n", "client_secret")
    assert change.old == SENSITIVE


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"op": "add", "old": "x", "new": "y"}, id="add-with-old"),
        pytest.param({"op": "add"}, id="add-without-element"),
        pytest.param({"op": "remove", "old": "x", "new": "y"}, id="remove-with-new"),
        pytest.param({"op": "remove"}, id="remove-without-element"),
        pytest.param({"op": "replace", "old": "x"}, id="unknown-op"),
    ],
)
def test_field_change_refuses_an_element_that_does_not_fit_its_op(fields: dict[str, Any]) -> None:
    """A tampered plan cannot carry an 'add' that also names an old value, and so on."""
    with pytest.raises(ValidationError):
        FieldChange.model_validate({"path": ["scopes"], **fields})
