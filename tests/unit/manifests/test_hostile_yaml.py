"""Hostile YAML is refused as a located problem, never a RecursionError or a long parse."""

from __future__ import annotations

from pathlib import Path

import pytest

import mpctl.manifests.yaml
from mpctl.manifests import load
from mpctl.manifests.yaml import MAX_DEPTH, MAX_NODES, load_documents
from tests.conftest import ProjectFactory


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("kind: Client\nname: " + "[" * 600 + "]" * 600 + "\n", 2),
        ("a: " + "[" * 3000 + "]" * 3000 + "\n", 1),
        ("a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n", 1),
        ("".join(" " * i + f"k{i}:\n" for i in range(600)) + " " * 600 + "x: 1\n", MAX_DEPTH),
        ("".join(" " * i + "-\n" for i in range(600)) + " " * 600 + "- 1\n", MAX_DEPTH + 1),
        ("a:\n" + "- " * 600 + "x\n", 2),
    ],
    ids=[
        "flow-600",
        "flow-3000",
        "flow-mapping-3000",
        "block-mapping",
        "block-sequence",
        "compact",
    ],
)
def test_deep_nesting_is_mpl004_at_its_line(text: str, line: int) -> None:
    documents, problems = load_documents(text)
    assert documents == []
    assert [(p.code, p.line) for p in problems] == [("MPL004", line)]
    assert f"deeper than {MAX_DEPTH}" in problems[0].message


def test_aliases_chained_deeper_than_the_text_nests_are_refused() -> None:
    text = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 2000))
    documents, problems = load_documents(text)
    assert documents == []
    assert [p.code for p in problems] == ["MPL004"]


def test_too_many_tokens_is_refused_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    limit = 5_000  # the rule, not the size: a smaller limit keeps the test quick
    assert limit < MAX_NODES
    monkeypatch.setattr(mpctl.manifests.yaml, "MAX_NODES", limit)
    text = "kind: Client\nscopes: [" + ", ".join(["acme:x"] * limit) + "]\n"
    documents, problems = load_documents(text)
    assert documents == []
    assert problems[0].code == "MPL004"
    assert f"more than {limit} YAML nodes" in problems[0].message
    assert "split" in problems[0].hint


def test_nesting_within_the_limit_still_loads() -> None:
    documents, problems = load_documents("a: " + "[" * 30 + "1" + "]" * 30 + "\n")
    assert problems == []
    value = documents[0].data["a"]
    for _ in range(29):
        value = value[0]
    assert value == [1]


def test_deeply_nested_manifest_is_located_in_its_file(make_project: ProjectFactory) -> None:
    directory = make_project({"deep.yaml": "kind: Client\nname: x\nscopes: " + "[" * 5000})
    result = load(directory, "test")
    assert [(Path(d.file).name, d.line, d.code) for d in result.errors] == [
        ("deep.yaml", 3, "MPL004")
    ]
