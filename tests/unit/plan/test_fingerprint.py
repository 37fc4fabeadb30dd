"""`observed_fingerprint`'s canonical form: the definition, spelt faster.

The canonical form is the snapshot with every model dumped to JSON values and every collection
sorted by its items' `canonical_json`, spelt by `canonical_json`. The reference below is that
definition written plainly; hypothesis checks that `_canonical` gives the same text for nested
dicts, lists, tuples, sets and scalars (str subclasses, bools and None included), so saved plans
keep their fingerprints.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from mpctl.plan.fingerprint import _canonical
from mpctl.plan.types import canonical_json


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: int
    tags: tuple[str, ...] = ()


def reference(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict | Mapping):
        return {str(k): reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return sorted((reference(v) for v in value), key=canonical_json)
    if isinstance(value, BaseModel):
        return reference(value.model_dump(mode="json"))
    return value


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.sampled_from(list(Colour)),
)
points = st.builds(Point, x=st.integers(), tags=st.tuples(st.text(max_size=3), st.text(max_size=3)))
hashable = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4))
values = st.recursive(
    st.one_of(scalars, points),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.frozensets(hashable, max_size=4),
        st.dictionaries(st.text(max_size=4), children, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=5), values, max_size=5))
def test_the_canonical_form_is_the_definitions(snapshot: dict[str, Any]) -> None:
    assert canonical_json(_canonical(snapshot)) == canonical_json(reference(snapshot))
