"""The dependency graph: nodes and edges as apply's scheduler reads them, stable ids, and labels
that survive quoting in Mermaid and DOT (read back by small parsers of each language's rules)."""

from __future__ import annotations

import re

import pytest

from mpctl.model import KeyPolicy
from mpctl.plan.types import (
    Action,
    ClientStep,
    KeyChange,
    KeyStep,
    Plan,
    PlanSummary,
    ScopeStep,
    Step,
)
from mpctl.render import build_document
from mpctl.render.document import safe_text
from mpctl.render.graph import render_dot, render_mermaid, step_graph
from tests.unit.plan import scenario

_ID = r"s[0-9a-f]{12}"
_MERMAID_NODE = re.compile(rf'^  ({_ID})\["([^"\n]*)"\]$')
_MERMAID_EDGE = re.compile(rf"^  ({_ID}) --> ({_ID})$")
_DOT_NODE = re.compile(rf'^  ({_ID}) \[label="((?:[^"\\\n]|\\.)*)"(, style=dashed)?\];$')
_DOT_EDGE = re.compile(rf"^  ({_ID}) -> ({_ID});$")
_DOT_HEADER = ["digraph plan {", "  rankdir=TB;", '  node [shape=box, fontname="monospace"];']

WEIRD_NAMES = (
    'we"ird[x]<b>#1;',
    "blåbær-æøå",
    "tab\there\nnewline",
    "back\\slash {braces} (parens) |pipe| `tick` %%",
    "emoji-🔑-end",
    "rtl\u202eevil",
)


def _plan(*steps: Step) -> Plan:
    return Plan(
        project="910753614",
        env_name="test",
        observed_fingerprint="o",
        manifests_fingerprint="m",
        steps=steps,
        summary=PlanSummary.of(steps, (), unchanged=0),
    )


def _client(name: str, *depends_on: str, blocked: bool = False) -> ClientStep:
    return ClientStep(
        address=f"client/{name}", action=Action.CREATE, depends_on=depends_on, blocked=blocked
    )


def _key(name: str) -> KeyStep:
    return KeyStep(
        address=f"client/{name}/key",
        action=Action.CREATE_KEY,
        depends_on=(f"client/{name}",),
        key=KeyChange(client=name, phases=(), policy=KeyPolicy()),
    )


def _mermaid_graph(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Node id → label text (entities and <br/> decoded) and the edges; any other line fails."""
    lines = text.split("\n")
    assert lines[0] == "flowchart TD", text
    assert lines[-1] == "", text
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if node := _MERMAID_NODE.match(line):
            label = node[2].replace("<br/>", "\n")
            assert not {"<", ">"} & set(label), line
            nodes[node[1]] = re.sub(r"#(\d+);", lambda m: chr(int(m[1])), label)
        elif edge := _MERMAID_EDGE.match(line):
            edges.append((edge[1], edge[2]))
        else:
            assert line.startswith(("  classDef held ", "  class ")), line
    return nodes, edges


def _dot_graph(text: str) -> tuple[dict[str, tuple[str, bool]], list[tuple[str, str]]]:
    """Node id → (label with DOT's escapes read back, dashed) and the edges."""
    lines = text.split("\n")
    assert lines[:3] == _DOT_HEADER, text
    assert lines[-2:] == ["}", ""], text
    nodes: dict[str, tuple[str, bool]] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[3:-2]:
        if node := _DOT_NODE.match(line):
            label = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], node[2])
            nodes[node[1]] = (label, bool(node[3]))
        elif edge := _DOT_EDGE.match(line):
            edges.append((edge[1], edge[2]))
        else:
            pytest.fail(f"not a DOT statement this renderer writes: {line!r}")
    return nodes, edges


def test_nodes_are_the_steps_and_edges_run_from_a_dependency_to_its_dependent() -> None:
    plan = _plan(
        ScopeStep(address="scope/acme:a", action=Action.CREATE),
        _client("billing", "scope/acme:a", "scope/acme:left-out"),
        _key("billing"),
    )
    graph = step_graph(build_document(plan))
    by_id = {node.id: node.address for node in graph.nodes}
    assert [node.address for node in graph.nodes] == [
        "client/billing",
        "client/billing/key",
        "scope/acme:a",
    ]
    assert [(by_id[a], by_id[b]) for a, b in graph.edges] == [
        ("client/billing", "client/billing/key"),
        ("scope/acme:a", "client/billing"),
    ]  # the dependency on a step outside the plan is dropped, as apply drops it
    assert [node.lines for node in graph.nodes][1] == ("client/billing/key", "create_key")


def test_the_graph_of_a_whole_plan_follows_its_order_and_marks_held_steps() -> None:
    plan = scenario.plan()
    graph = step_graph(build_document(plan))
    position = {str(step.address): index for index, step in enumerate(plan.steps)}
    address = {node.id: node.address for node in graph.nodes}
    expected = {
        (str(dependency), str(step.address))
        for step in plan.steps
        for dependency in step.depends_on
        if str(dependency) in position
    }
    assert {(address[a], address[b]) for a, b in graph.edges} == expected
    assert all(position[address[a]] < position[address[b]] for a, b in graph.edges)
    held = {node.address for node in graph.nodes if node.held}
    assert held == {str(step.address) for step in plan.steps if step.blocked}
    assert held  # the scenario holds steps back


def test_ids_come_from_the_address_alone_and_the_output_from_nothing_else() -> None:
    steps = (_client("a"), _key("a"), _client("b", "client/a"))
    one = build_document(_plan(*steps))
    other = build_document(_plan(*reversed(steps)))
    assert render_mermaid(one) == render_mermaid(other)
    assert render_dot(one) == render_dot(other)
    smaller = step_graph(build_document(_plan(_client("a"), _client("c"))))
    ids = {node.address: node.id for node in step_graph(one).nodes}
    assert {node.address: node.id for node in smaller.nodes}["client/a"] == ids["client/a"]
    assert len(set(ids.values())) == 3
    assert all(re.fullmatch(_ID, node_id) for node_id in ids.values())


@pytest.mark.parametrize("name", WEIRD_NAMES)
def test_mermaid_labels_read_back_as_the_address(name: str) -> None:
    plan = _plan(_client(name, blocked=True), _key(name))
    nodes, edges = _mermaid_graph(render_mermaid(build_document(plan)))
    address = safe_text(f"client/{name}")
    assert sorted(nodes.values()) == [
        f"{address}\ncreate (held back)",
        f"{address}/key\ncreate_key",
    ]
    assert len(edges) == 1


@pytest.mark.parametrize("name", WEIRD_NAMES)
def test_dot_labels_read_back_as_the_address(name: str) -> None:
    plan = _plan(_client(name, blocked=True), _key(name))
    nodes, edges = _dot_graph(render_dot(build_document(plan)))
    address = safe_text(f"client/{name}")
    assert sorted(nodes.values()) == [
        (f"{address}\ncreate (held back)", True),
        (f"{address}/key\ncreate_key", False),
    ]
    assert len(edges) == 1


def test_control_and_bidi_characters_never_reach_a_label() -> None:
    text = render_mermaid(build_document(_plan(_client("a\x1b[2J\u202eb"))))
    dot = render_dot(build_document(_plan(_client("a\x1b[2J\u202eb"))))
    for output in (text, dot):
        assert not {"\x1b", "\u202e"} & set(output)


def test_held_steps_are_dashed_in_both_languages() -> None:
    document = build_document(_plan(_client("a", blocked=True), _client("b")))
    ids = {node.address: node.id for node in step_graph(document).nodes}
    mermaid = render_mermaid(document)
    assert mermaid.endswith(
        f"  classDef held stroke-dasharray: 5 5\n  class {ids['client/a']} held\n"
    )
    dot_nodes, _ = _dot_graph(render_dot(document))
    assert dot_nodes[ids["client/a"]][1]
    assert not dot_nodes[ids["client/b"]][1]


def test_an_empty_plan_draws_one_note_saying_so() -> None:
    document = build_document(_plan())
    assert render_mermaid(document) == 'flowchart TD\n  empty["No changes."]\n'
    assert render_dot(document).split("\n")[3] == '  empty [label="No changes.", shape=plaintext];'
