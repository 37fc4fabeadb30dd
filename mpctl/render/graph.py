"""The plan's step dependencies as a graph: Mermaid (GitHub renders it) and Graphviz DOT.

Owns `step_graph` (the graph as data) and its two spellings, `render_mermaid` and `render_dot`.
Nodes are the plan's steps (address, action, held-back mark); edges are its `depends_on` within
the plan, as apply's scheduler reads them: an arrow A → B means A runs before B. Output is
deterministic: nodes sorted by address, edges by (from, to) address, and a node's id comes from
its address alone, so a step keeps its id from one plan to the next. Every label is escaped for
its language (quotes, brackets, backslashes, newlines); control and bidi characters are already
escaped by `build_document`. Reads a `PlanDocument` (redacted) like every renderer; must not
do I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mpctl.render.document import PlanDocument, safe_text

_ID_LENGTHS = (12, 16, 24, 64)
_EMPTY_LABEL = "No changes."
_MERMAID_PLAIN = frozenset(" /:.,_-+=@")
_HELD_STYLE = "stroke-dasharray: 5 5"


@dataclass(frozen=True)
class GraphNode:
    """One step: `id` is safe as a bare identifier in both languages."""

    id: str
    address: str
    action: str
    held: bool

    @property
    def lines(self) -> tuple[str, str]:
        """The label's two lines: the address, then the action (and whether it is held)."""
        return self.address, self.action + (" (held back)" if self.held else "")


@dataclass(frozen=True)
class StepGraph:
    nodes: tuple[GraphNode, ...]
    """Sorted by address."""
    edges: tuple[tuple[str, str], ...]
    """(dependency id, dependent id): the dependency runs first; sorted by their addresses."""


def step_graph(document: PlanDocument) -> StepGraph:
    """The steps of `document` and the dependencies between them (others are dropped)."""
    steps = sorted(document.plan.steps, key=lambda step: step.address)
    addresses = [str(step.address) for step in steps]
    ids = _node_ids(addresses)
    nodes = tuple(
        GraphNode(
            id=ids[str(step.address)],
            address=safe_text(str(step.address)),
            action=step.action.value,
            held=step.blocked,
        )
        for step in steps
    )
    edges = sorted(
        (str(dependency), str(step.address))
        for step in steps
        for dependency in set(step.depends_on)
        if str(dependency) in ids
    )
    return StepGraph(nodes=nodes, edges=tuple((ids[a], ids[b]) for a, b in edges))


def render_mermaid(document: PlanDocument) -> str:
    """A Mermaid flowchart, top to bottom, ending with a newline; held-back steps dashed."""
    graph = step_graph(document)
    lines = ["flowchart TD"]
    lines += [f'  {node.id}["{_mermaid_label(node.lines)}"]' for node in graph.nodes]
    if not graph.nodes:
        lines.append(f'  empty["{_mermaid_text(_EMPTY_LABEL)}"]')
    lines += [f"  {dependency} --> {dependent}" for dependency, dependent in graph.edges]
    held = [node.id for node in graph.nodes if node.held]
    if held:
        lines += [f"  classDef held {_HELD_STYLE}", f"  class {','.join(held)} held"]
    return "\n".join(lines) + "\n"


def render_dot(document: PlanDocument) -> str:
    """A Graphviz digraph, top to bottom, ending with a newline; held-back steps dashed."""
    graph = step_graph(document)
    lines = ["digraph plan {", "  rankdir=TB;", '  node [shape=box, fontname="monospace"];']
    for node in graph.nodes:
        style = ", style=dashed" if node.held else ""
        lines.append(f"  {node.id} [label={_dot_label(node.lines)}{style}];")
    if not graph.nodes:
        lines.append(f"  empty [label={_dot_quote(_EMPTY_LABEL)}, shape=plaintext];")
    lines += [f"  {a} -> {b};" for a, b in graph.edges]  # ids: 's' and hex digits
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_ids(addresses: list[str]) -> dict[str, str]:
    """Address → 's' + a prefix of its SHA-256, the shortest of `_ID_LENGTHS` unique here."""
    digests = {a: hashlib.sha256(a.encode("utf-8")).hexdigest() for a in addresses}
    for length in _ID_LENGTHS:
        ids = {a: "s" + digest[:length] for a, digest in digests.items()}
        if len(set(ids.values())) == len(ids):
            return ids
    raise ValueError("two steps share an address")  # equal digests: the same address twice


def _mermaid_label(lines: tuple[str, ...]) -> str:
    return "<br/>".join(_mermaid_text(line) for line in lines)


def _mermaid_text(text: str) -> str:
    """`text` inside a quoted Mermaid label: anything but letters, digits and plain punctuation
    becomes an entity code (`#34;`), so no quote, bracket, `<`, `#`, `;` or newline can end
    the label or open markup."""
    return "".join(ch if ch.isalnum() or ch in _MERMAID_PLAIN else f"#{ord(ch)};" for ch in text)


def _dot_label(lines: tuple[str, ...]) -> str:
    return _dot_quote("\n".join(lines))


def _dot_quote(text: str) -> str:
    """`text` as a quoted DOT string: backslashes and quotes escaped, a newline as the label's
    line break (`\\n`), a carriage return dropped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'
