"""Hidden markers: found again exactly, never forged by a value."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mpctl.gitops import Marker, parse_marker
from mpctl.gitops.markers import with_marker

_ANY = st.text(min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(_ANY, _ANY, st.dictionaries(st.sampled_from(["head", "steps", "since"]), _ANY))
def test_a_marker_round_trips_whatever_its_values(
    project: str, env: str, data: dict[str, str]
) -> None:
    marker = Marker("plan", project, env, data)
    line = marker.line()
    assert "\n" not in line
    assert line.count("-->") == 1
    assert line.endswith(" -->")
    found = parse_marker(with_marker(marker, "body\n<!-- mpctl:plan project=x env=y -->"))
    assert found == marker
    assert found is not None
    assert found.data == data


def test_only_the_first_line_counts_and_identity_ignores_data() -> None:
    marker = Marker("plan", "313367002/acme-platform", "test", {"head": "abc"})
    assert parse_marker("hello\n" + marker.line()) is None
    assert parse_marker("<!-- mpctl:plan env=test -->") is None
    assert marker.same_place(Marker("plan", "313367002/acme-platform", "test"))
    assert not marker.same_place(Marker("plan", "313367002/acme-platform", "prod"))
    assert not marker.same_place(Marker("apply", "313367002/acme-platform", "test"))
