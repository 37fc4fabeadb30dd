"""Safe YAML loading that remembers where every value came from.

Owns turning text into plain Python data (dict, list, str, int, float, bool, None) plus a line
index `path → line`. libyaml's C parser (through PyYAML) reads the text into events; this module
composes them into nodes with an explicit stack, so no text can recurse deep, and resolves plain
scalars by YAML 1.2's core schema (ruamel's table), so `no`, `on` and `yes` stay strings.
Rejected with a located problem: any explicit non-core tag (e.g. `!!python/object`), duplicate
keys, merge keys, alias expansions, nesting or node counts beyond fixed bounds. The bounds hold
while composing, at the event that crosses them, so a hostile text is refused in milliseconds.
Must not read files or know about manifests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal

import yaml
from ruamel.yaml.resolver import VersionedResolver

Path = tuple[str | int, ...]
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64
MAX_NODES = 100_000
_TOO_DEEP = (
    f"nesting deeper than {MAX_DEPTH} levels",
    "flatten the structure; manifests need only a few levels",
)
_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {f"{_CORE}{t}" for t in ("map", "seq", "str", "int", "float", "bool", "null")}
_TRUE = frozenset({"true", "yes", "on"})  # `yes` and `on` are booleans only under `%YAML 1.1`
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9_]+$")
PARSER: Final = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # libyaml when PyYAML has it
_LIBYAML_TOO_DEEP = "maximum nesting depth"  # libyaml's own bound (1,000) met while scanning


class YamlProblemError(Exception):
    """A located reason a YAML text is refused; `code` is a validate code (MPL00x)."""

    def __init__(self, code: str, line: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code, self.line, self.message, self.hint = code, line, message, hint


class _StreamRefusedError(Exception):
    """A problem no document of the stream survives: syntax, or a bound crossed."""

    def __init__(self, problem: YamlProblemError) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(slots=True, eq=False)
class _Node:
    """A composed node: a scalar's text, a sequence's items or a mapping's (key, value) pairs.
    An alias is the anchored node itself, as YAML defines it."""

    kind: Literal["scalar", "sequence", "mapping"]
    tag: str
    line: int
    value: Any
    pending_key: _Node | None = None  # a mapping's key whose value has not come yet


@dataclass
class YamlDocument:
    """One document of a stream: its data, its first line, and where each path starts."""

    data: Any
    line: int
    lines: dict[Path, int] = field(default_factory=dict)


def load_documents(text: str) -> tuple[list[YamlDocument], list[YamlProblemError]]:
    """Parse every document in `text`: the good ones, and one problem per refused document.

    A syntax error or a crossed bound stops the whole stream (nothing after it can be trusted);
    a refused construct (tag, duplicate key, alias bomb) only drops its own document.
    """
    try:
        roots = _compose_all(text)
    except _StreamRefusedError as refused:
        return [], [refused.problem]
    documents: list[YamlDocument] = []
    problems: list[YamlProblemError] = []
    for root in roots:
        try:
            documents.append(_document(root))
        except YamlProblemError as problem:
            problems.append(problem)
    return documents, problems


def _compose_all(text: str) -> list[_Node]:
    """The root node of every document, composed from libyaml's events without recursion."""
    parser = PARSER(text)
    composer = _Composer()
    try:
        while parser.check_event():
            composer.take(parser.get_event())
    except yaml.MarkedYAMLError as exc:
        raise _StreamRefusedError(_syntax_problem(exc, text)) from None
    except yaml.YAMLError as exc:
        raise _StreamRefusedError(YamlProblemError("MPL001", 1, f"YAML syntax: {exc}")) from None
    finally:
        parser.dispose()
    return composer.roots


class _Composer:
    """Builds nodes from a stream's events, checking the bounds at the event crossing them."""

    def __init__(self) -> None:
        self.roots: list[_Node] = []
        self._open: list[_Node] = []  # the collections being composed, innermost last
        self._anchors: dict[str, _Node] = {}
        self._count = 0
        self._version: tuple[int, int] = (1, 2)

    def take(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.CollectionEndEvent):
            self._open.pop()
        elif isinstance(event, yaml.DocumentStartEvent):
            self._anchors = {}  # an anchor names a node within its own document only
            self._version = event.version or (1, 2)  # `%YAML 1.1` keeps 1.1's `yes`/`no`
        elif isinstance(event, yaml.NodeEvent):
            self._take_node(event)

    def _take_node(self, event: yaml.NodeEvent) -> None:
        self._count += 1
        line = event.start_mark.line + 1
        _check_bounds(self._count, len(self._open) + 1, line)
        node = self._node(event, line)
        _attach(node, self._open[-1] if self._open else None, self.roots)
        if isinstance(event, yaml.CollectionStartEvent):
            self._open.append(node)

    def _node(self, event: yaml.NodeEvent, line: int) -> _Node:
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self._anchors:
                message = f"YAML syntax: found undefined alias {event.anchor!r}"
                raise _StreamRefusedError(YamlProblemError("MPL001", line, message))
            return self._anchors[event.anchor]
        if isinstance(event, yaml.ScalarEvent):
            node = _Node("scalar", self._scalar_tag(event), line, event.value)
        elif isinstance(event, yaml.SequenceStartEvent):
            node = _Node("sequence", event.tag or f"{_CORE}seq", line, [])
        else:
            node = _Node("mapping", event.tag or f"{_CORE}map", line, [])
        if event.anchor is not None:
            self._anchors[event.anchor] = node  # before its children: an alias in it recurses
        return node

    def _scalar_tag(self, event: yaml.ScalarEvent) -> str:
        """The explicit tag, else the implicit type of a plain scalar (also under the
        non-specific `!`), else str."""
        if event.tag == "!" or (event.tag is None and event.implicit[0]):
            return _resolve_plain(event.value, self._version)
        return str(event.tag or f"{_CORE}str")


def _check_bounds(count: int, depth: int, line: int) -> None:
    if count > MAX_NODES:
        raise _StreamRefusedError(
            YamlProblemError(
                "MPL004",
                line,
                f"more than {MAX_NODES} YAML nodes in one file",
                "split the file into several smaller ones",
            )
        )
    if depth > MAX_DEPTH:
        raise _StreamRefusedError(_too_deep(line))


@cache
def _implicit_types(version: tuple[int, int]) -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """The implicit types of plain scalars in YAML `version` (1.2's core schema unless a
    document says `%YAML 1.1`), by first character: ruamel's table."""
    table = VersionedResolver(version=version).versioned_resolver
    return {first: [(str(tag), regex) for tag, regex in pairs] for first, pairs in table.items()}


def _resolve_plain(value: str, version: tuple[int, int]) -> str:
    for tag, regex in _implicit_types(version).get(value[:1], ()):
        if regex.match(value):
            return tag
    return f"{_CORE}str"


def _attach(node: _Node, parent: _Node | None, roots: list[_Node]) -> None:
    if parent is None:
        roots.append(node)
    elif parent.kind == "sequence":
        parent.value.append(node)
    elif parent.pending_key is None:
        parent.pending_key = node
    else:
        parent.value.append((parent.pending_key, node))
        parent.pending_key = None


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> YamlProblemError:
    mark = exc.problem_mark or exc.context_mark
    line = min(mark.line + 1, text.count("\n") + 1) if mark else 1  # libyaml ends past the text
    if _LIBYAML_TOO_DEEP in str(exc.problem):
        return _too_deep(line)
    return YamlProblemError("MPL001", line, f"YAML syntax: {exc.problem or exc}")


def _too_deep(line: int) -> YamlProblemError:
    return YamlProblemError("MPL004", line, *_TOO_DEEP)


def _document(root: _Node) -> YamlDocument:
    _check_expansion(root)
    doc = YamlDocument(data=None, line=root.line)
    doc.data = _construct(root, (), doc.lines, depth=0)
    return doc


def _check_expansion(root: _Node) -> None:
    sizes: dict[int, int] = {}

    def size(node: _Node, active: frozenset[int]) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise YamlProblemError("MPL004", node.line, "recursive alias")
        if len(active) > MAX_DEPTH:  # aliases can chain nodes deeper than the text nests
            raise _too_deep(node.line)
        total = 1 + sum(size(child, active | {id(node)}) for child in _children(node))
        if total > MAX_EXPANDED_NODES:
            raise YamlProblemError(
                "MPL004",
                node.line,
                f"aliases expand to more than {MAX_EXPANDED_NODES} values",
                "write the values out, or use a Jinja loop",
            )
        sizes[id(node)] = total
        return total

    size(root, frozenset())


def _children(node: _Node) -> Iterator[_Node]:
    if node.kind == "mapping":
        for key, value in node.value:
            yield key
            yield value
    elif node.kind == "sequence":
        yield from node.value


def _construct(node: _Node, path: Path, lines: dict[Path, int], depth: int) -> Any:
    lines.setdefault(path, node.line)
    if depth > MAX_DEPTH:
        raise _too_deep(node.line)
    if node.tag not in _ALLOWED_TAGS:
        raise YamlProblemError(
            "MPL003",
            node.line,
            f"tag {node.tag!r} is not allowed",
            "manifests are plain data: remove the tag",
        )
    if node.kind == "mapping":
        return _construct_mapping(node, path, lines, depth)
    if node.kind == "sequence":
        return [_construct(item, (*path, i), lines, depth + 1) for i, item in enumerate(node.value)]
    return _scalar(node)


def _construct_mapping(
    node: _Node, path: Path, lines: dict[Path, int], depth: int
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == f"{_CORE}merge":
            raise YamlProblemError(
                "MPL003", key_node.line, "merge keys (<<) are not supported", "write the keys out"
            )
        key = _construct(key_node, (), {}, depth + 1)
        if not isinstance(key, str):
            raise YamlProblemError("MPL005", key_node.line, f"mapping key {key!r} must be a string")
        if key in result:
            first = lines.get((*path, key), key_node.line)
            raise YamlProblemError(
                "MPL002",
                key_node.line,
                f"duplicate key {key!r} (first at line {first})",
                "keep one of them",
            )
        lines[(*path, key)] = key_node.line
        result[key] = _construct(value_node, (*path, key), lines, depth + 1)
    return result


def _scalar(node: _Node) -> Any:
    value: str = node.value
    kind = node.tag.removeprefix(_CORE)
    if kind == "null":
        return None
    if kind == "bool":
        return value.lower() in _TRUE
    if kind == "int":
        return value if _LEADING_ZERO.match(value) else int(value.replace("_", ""), 0)
    if kind == "float":
        return _float(value)
    return value


def _float(value: str) -> float:
    lowered = value.lower().replace("_", "")
    specials = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf")}
    if lowered in specials:
        return specials[lowered]
    if lowered == ".nan":
        return float("nan")
    return float(lowered)
