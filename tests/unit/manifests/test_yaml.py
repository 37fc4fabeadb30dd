"""Safe YAML: plain data, line index, and every hostile construct refused with its line."""

from __future__ import annotations

import pytest
import yaml

import mpctl.manifests.yaml
from mpctl.manifests.yaml import MAX_DEPTH, load_documents


def _one(text: str) -> object:
    documents, problems = load_documents(text)
    assert problems == []
    return documents[0].data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: no", {"a": "no"}),
        ("a: on", {"a": "on"}),
        ("a: yes", {"a": "yes"}),
        ("a: true", {"a": True}),
        ("a: 313367002", {"a": 313367002}),
        ("a: 012345678", {"a": "012345678"}),
        ("a: ~", {"a": None}),
        ("a: 1.5", {"a": 1.5}),
        ("a: 0x10", {"a": 16}),
        ("a: [x, 'y']", {"a": ["x", "y"]}),
        ("a: !!str 12", {"a": "12"}),
    ],
)
def test_scalars_follow_yaml_1_2(text: str, expected: object) -> None:
    assert _one(text) == expected


def test_line_index_records_keys_and_items() -> None:
    documents, _ = load_documents("kind: Client\nscopes:\n  - a:b\n  - c:d\n")
    lines = documents[0].lines
    assert lines[("kind",)] == 1
    assert lines[("scopes",)] == 2
    assert lines[("scopes", 1)] == 4


def test_multiple_documents_keep_their_own_lines() -> None:
    documents, problems = load_documents("a: 1\n---\nb: 2\n")
    assert problems == []
    assert [d.data for d in documents] == [{"a": 1}, {"b": 2}]
    assert documents[1].lines[("b",)] == 3


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ("a: 1\nb: 2\na: 3\n", "MPL002", 3),
        ("a: !!python/object/apply:os.system ['ls']\n", "MPL003", 1),
        ("a: !!python/name:os.system\n", "MPL003", 1),
        ("a: !custom x\n", "MPL003", 1),
        ("x: &x {a: 1}\ny:\n  <<: *x\n", "MPL003", 3),
        ("a: [1, 2\nb: 3\n", "MPL001", 2),
        ("a: &a [*a]\n", "MPL004", 1),
    ],
)
def test_hostile_or_broken_yaml_is_refused_with_a_line(text: str, code: str, line: int) -> None:
    _, problems = load_documents(text)
    assert [(p.code, p.line) for p in problems] == [(code, line)]


def test_alias_bomb_is_refused_before_it_is_expanded() -> None:
    layers = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
    for name, previous in zip("bcdefgh", "abcdefg", strict=True):
        layers.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 10) + "]")
    _, problems = load_documents("\n".join(layers) + "\n")
    assert [p.code for p in problems] == ["MPL004"]


def test_deep_nesting_is_refused() -> None:
    text = "a: " + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "\n"
    _, problems = load_documents(text)
    assert [p.code for p in problems] == ["MPL004"]


def test_one_refused_document_does_not_hide_the_others() -> None:
    documents, problems = load_documents("a: 1\n---\nb: 1\nb: 2\n---\nc: 3\n")
    assert [d.data for d in documents] == [{"a": 1}, {"c": 3}]
    assert [(p.code, p.line) for p in problems] == [("MPL002", 4)]


def test_an_alias_loads_the_anchored_value_where_it_is_used() -> None:
    documents, problems = load_documents("a: &shared [x, {b: 1}]\nc: *shared\n")
    assert problems == []
    assert documents[0].data == {"a": ["x", {"b": 1}], "c": ["x", {"b": 1}]}
    assert documents[0].lines[("c",)] == 2


def test_an_undefined_alias_is_a_syntax_error_at_its_line() -> None:
    _, problems = load_documents("a: 1\nb: *nowhere\n")
    assert [(p.code, p.line) for p in problems] == [("MPL001", 2)]
    assert "nowhere" in problems[0].message


def test_a_document_that_declares_yaml_1_1_keeps_its_booleans() -> None:
    documents, problems = load_documents("%YAML 1.1\n---\na: yes\n---\nb: yes\n")
    assert problems == []
    assert [d.data for d in documents] == [{"a": True}, {"b": "yes"}]


def test_a_tab_may_separate_a_key_from_its_value() -> None:
    assert _one("a:\tb\n") == {"a": "b"}


def test_a_syntax_error_at_the_end_of_an_unterminated_text_is_on_its_last_line() -> None:
    _, problems = load_documents("a: 1\nb: [")
    assert [(p.code, p.line) for p in problems] == [("MPL001", 2)]


def test_manifests_are_parsed_by_libyaml() -> None:
    # The pure-Python fallback means the same but is about 10x slower; the PyYAML wheels
    # carry libyaml on every platform mpctl supports.
    assert mpctl.manifests.yaml.PARSER is yaml.CBaseLoader
