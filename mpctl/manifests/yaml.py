"""Safe YAML loading that remembers where every value came from.

Owns turning text into plain Python data (dict, list, str, int, float, bool, None) plus a line
index `path → line`. YAML 1.2 rules apply, so `no`, `on` and `yes` stay strings. Rejected with a
located problem: any explicit non-core tag (e.g. `!!python/object`), duplicate keys, merge keys,
alias expansions or nesting beyond fixed bounds. Nesting is bounded while composing (ruamel's
`max_depth`), before any recursion can run deep, so a deeply nested text is refused in
milliseconds instead of exhausting Python's stack. Must not read files or know about manifests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scanner import Scanner

Path = tuple[str | int, ...]
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64
MAX_TOKENS = 20_000
_TOO_DEEP = (
    f"nesting deeper than {MAX_DEPTH} levels",
    "flatten the structure; manifests need only a few levels",
)
_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {f"{_CORE}{t}" for t in ("map", "seq", "str", "int", "float", "bool", "null")}
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9_]+$")


class YamlProblemError(Exception):
    """A located reason a YAML text is refused; `code` is a validate code (MPL00x)."""

    def __init__(self, code: str, line: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code, self.line, self.message, self.hint = code, line, message, hint


class _TooComplexError(MarkedYAMLError):
    """Raised by the scanner itself, before a text can cost more than a bounded amount of work."""

    def __init__(self, code: str, message: str, hint: str, mark: Any) -> None:
        super().__init__(problem=message, problem_mark=mark)
        self.code, self.message, self.hint = code, message, hint


class _BoundedScanner(Scanner):
    """ruamel's scanner with two bounds that hold while scanning, not after.

    Flow collections nested deeper than `MAX_DEPTH` are refused at the opening bracket: ruamel
    scans a flow collection ahead (it may be a simple key) at a cost growing with the square of
    its depth. Texts of more than `MAX_TOKENS` tokens are refused at the token that crosses the
    bound: the pure-Python parser spends tens of microseconds on each.
    """

    def fetch_more_tokens(self) -> Any:
        if self.tokens_taken + len(self.tokens) >= MAX_TOKENS:
            raise _TooComplexError(
                "MPL004",
                f"more than {MAX_TOKENS} YAML tokens in one file",
                "split the file into several smaller ones",
                self.reader.get_mark(),
            )
        return super().fetch_more_tokens()

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:  # noqa: N803
        if len(self.flow_context) >= MAX_DEPTH:
            raise _TooComplexError("MPL004", *_TOO_DEEP, self.reader.get_mark())
        super().fetch_flow_collection_start(TokenClass, to_push)


@dataclass
class YamlDocument:
    """One document of a stream: its data, its first line, and where each path starts."""

    data: Any
    line: int
    lines: dict[Path, int] = field(default_factory=dict)


def load_documents(text: str) -> tuple[list[YamlDocument], list[YamlProblemError]]:
    """Parse every document in `text`: the good ones, and one problem per refused document.

    A syntax error stops the whole stream (nothing after it can be trusted); a refused construct
    (tag, duplicate key, alias bomb) only drops its own document.
    """
    yaml = YAML(typ="safe", pure=True)
    yaml.max_depth = MAX_DEPTH
    yaml.Scanner = _BoundedScanner
    try:
        nodes = list(yaml.compose_all(text))
    except MaxDepthExceededError as exc:
        return [], [_too_deep(_line(exc))]
    except _TooComplexError as exc:
        return [], [YamlProblemError(exc.code, _line(exc), exc.message, exc.hint)]
    except MarkedYAMLError as exc:
        return [], [YamlProblemError("MPL001", _line(exc), f"YAML syntax: {exc.problem or exc}")]
    except YAMLError as exc:
        return [], [YamlProblemError("MPL001", 1, f"YAML syntax: {exc}")]
    documents: list[YamlDocument] = []
    problems: list[YamlProblemError] = []
    for node in nodes:
        try:
            documents.append(_document(node))
        except YamlProblemError as problem:
            problems.append(problem)
    return documents, problems


def _line(exc: MarkedYAMLError) -> int:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark else 1


def _too_deep(line: int) -> YamlProblemError:
    return YamlProblemError("MPL004", line, *_TOO_DEEP)


def _document(root: Node) -> YamlDocument:
    _check_expansion(root)
    doc = YamlDocument(data=None, line=root.start_mark.line + 1)
    doc.data = _construct(root, (), doc.lines, depth=0)
    return doc


def _check_expansion(root: Node) -> None:
    sizes: dict[int, int] = {}

    def size(node: Node, active: frozenset[int]) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise YamlProblemError("MPL004", node.start_mark.line + 1, "recursive alias")
        if len(active) > MAX_DEPTH:  # aliases can chain nodes deeper than the text nests
            raise _too_deep(node.start_mark.line + 1)
        total = 1 + sum(size(child, active | {id(node)}) for child in _children(node))
        if total > MAX_EXPANDED_NODES:
            raise YamlProblemError(
                "MPL004",
                node.start_mark.line + 1,
                f"aliases expand to more than {MAX_EXPANDED_NODES} values",
                "write the values out, or use a Jinja loop",
            )
        sizes[id(node)] = total
        return total

    size(root, frozenset())


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value


def _construct(node: Node, path: Path, lines: dict[Path, int], depth: int) -> Any:
    line = node.start_mark.line + 1
    lines.setdefault(path, line)
    if depth > MAX_DEPTH:
        raise _too_deep(line)
    if node.tag not in _ALLOWED_TAGS:
        raise YamlProblemError(
            "MPL003",
            line,
            f"tag {node.tag!r} is not allowed",
            "manifests are plain data: remove the tag",
        )
    if isinstance(node, MappingNode):
        return _construct_mapping(node, path, lines, depth)
    if isinstance(node, SequenceNode):
        return [_construct(item, (*path, i), lines, depth + 1) for i, item in enumerate(node.value)]
    return _scalar(node)


def _construct_mapping(
    node: MappingNode, path: Path, lines: dict[Path, int], depth: int
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if key_node.tag == f"{_CORE}merge":
            raise YamlProblemError(
                "MPL003", key_line, "merge keys (<<) are not supported", "write the keys out"
            )
        key = _construct(key_node, (), {}, depth + 1)
        if not isinstance(key, str):
            raise YamlProblemError("MPL005", key_line, f"mapping key {key!r} must be a string")
        if key in result:
            first = lines.get((*path, key), key_line)
            raise YamlProblemError(
                "MPL002",
                key_line,
                f"duplicate key {key!r} (first at line {first})",
                "keep one of them",
            )
        lines[(*path, key)] = key_line
        result[key] = _construct(value_node, (*path, key), lines, depth + 1)
    return result


def _scalar(node: Node) -> Any:
    assert isinstance(node, ScalarNode)
    value: str = node.value
    kind = str(node.tag).removeprefix(_CORE)
    if kind == "null":
        return None
    if kind == "bool":
        return value.lower() == "true"
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
