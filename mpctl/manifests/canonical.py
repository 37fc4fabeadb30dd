"""The canonical form of manifest text, for `mpctl fmt`: `canonical_text(text) -> text`.

Owns the layout of each kind (key order: `kind` and `name` first, then the model's field order;
unknown keys kept, after the known ones, for validate to report), quoting of organisation numbers
("313367002", never an unquoted 9-digit int), the indentation (2 spaces, sequences indented
under their key, as the example project writes them) and `null` for empty values. ruamel's
round trip keeps comments, blank lines, flow style and quoting; a comment above a key moves with
the key. Every result is proved before it is returned: mpctl's own YAML loader reads the same
data from it (org numbers as the models read them) and it holds every comment of the input, or
`CanonicalFormError` is raised and the caller keeps the file as it was. Nested blocks whose
order carries meaning for readers (environments, delegations) keep the author's order.

Pure: must not read or write files (the `fmt` command does), and must not validate manifests.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, MarkedYAMLError, YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarint import ScalarInt
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
)
from ruamel.yaml.tokens import CommentToken

from mpctl.manifests.yaml import load_documents
from mpctl.model import Client, ClientOverride, KeyPolicy, Organisation, ProjectConfig, Scope

_ORGNO_TEXT = re.compile(r"^\d{9}$")
_DIGITS = re.compile(r"^\d+$")
_SCALAR_STARTS = frozenset({"", ":", "-", "[", "{", ",", "?"})
"""After these (or at a line's start) a quote opens a quoted scalar; elsewhere it is text."""
_WIDTH = 4096
"""Lines are never re-wrapped (ruamel folds long plain scalars at its default width)."""


class CanonicalFormError(Exception):
    """Why a text has no canonical form: it does not parse, or formatting would change it."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line, self.message = line, message


@dataclass(frozen=True)
class Layout:
    """How one mapping (or each item of a sequence, under `"*"`) is laid out.

    `order` is the key order (empty: the author's order is kept); `children` the layouts of
    values by key (`"*"`: any key, or each item of a sequence); `orgno` marks an org number.
    """

    order: tuple[str, ...] = ()
    children: Mapping[str, Layout] = field(default_factory=dict)
    orgno: bool = False

    def child(self, key: str | int) -> Layout | None:
        return self.children.get(str(key)) or self.children.get("*")


def _field_order(model: type[BaseModel], first: tuple[str, ...] = ()) -> tuple[str, ...]:
    return (*first, *(name for name in model.model_fields if name not in first))


ORGNO = Layout(orgno=True)
ORGNOS = Layout(children={"*": ORGNO})
KEYS = Layout(order=_field_order(KeyPolicy))
DELEGATIONS = Layout(children={"*": Layout(children={"consumer_org": ORGNO})})
CLIENT_ORDER = _field_order(Client, ("kind", "name"))
SCOPE_ORDER = _field_order(Scope, ("kind", "name"))
PROJECT_ORDER = _field_order(ProjectConfig, ("project", "organisation", "default_env", "resources"))
"""The project file: what the project is, where its manifests are, then where it runs."""

_CLIENT_CHILDREN: dict[str, Layout] = {"keys": KEYS, "delegations": DELEGATIONS}
CLIENT_OVERRIDE = Layout(order=_field_order(ClientOverride), children=_CLIENT_CHILDREN)
SCOPE_OVERRIDE = Layout(order=SCOPE_ORDER, children={"consumers": ORGNOS})
CLIENT = Layout(
    order=CLIENT_ORDER,
    children={**_CLIENT_CHILDREN, "overrides": Layout(children={"*": CLIENT_OVERRIDE})},
)
SCOPE = Layout(
    order=SCOPE_ORDER,
    children={"consumers": ORGNOS, "overrides": Layout(children={"*": SCOPE_OVERRIDE})},
)
PROJECT = Layout(
    order=PROJECT_ORDER,
    children={
        "organisation": Layout(order=_field_order(Organisation), children={"orgno": ORGNO}),
        "defaults": Layout(
            order=("client", "scope"),
            children={"client": CLIENT_OVERRIDE, "scope": SCOPE_OVERRIDE},
        ),
    },
)
GENERIC = Layout()
"""A document of no known kind: indentation, `null` and comments only."""
KINDS: Mapping[str, Layout] = {"Client": CLIENT, "Scope": SCOPE}


def canonical_text(text: str, *, project_file: bool = False) -> str:
    """`text` in the canonical form; `project_file` for `mpctl.yaml` (one project document).

    Raises `CanonicalFormError` when the text does not parse as a manifest, or when the
    canonical form could not keep its meaning or its comments.
    """
    before = _plain_documents(text)
    if not before:
        return text  # blank, or comments only: nothing to lay out
    documents = _round_trip_load(text.replace("\r\n", "\n"))  # YAML reads both as one break
    layouts = [_layout(document, project_file=project_file) for document in documents]
    for document, layout in zip(documents, layouts, strict=True):
        widened: dict[int, int] = {}
        _canonicalise(document, layout, widened)
        _shift_end_of_line_comments(document, widened)
    result = _dump(documents)
    _check_same_meaning(before, layouts, result)
    _check_comments_kept(text, result)
    return result


def _plain_documents(text: str) -> list[dict[str, Any]]:
    """What mpctl's loader reads from `text`: mappings only, as every manifest document is."""
    documents, problems = load_documents(text)
    if problems:
        first = min(problems, key=lambda problem: problem.line)
        raise CanonicalFormError(first.line, first.message)
    for document in documents:
        if document.data is None:
            raise CanonicalFormError(
                _marker_line(text, document.line), "an empty document: remove this `---`"
            )
        if not isinstance(document.data, dict):
            kind = "a list" if isinstance(document.data, list) else "a single value"
            raise CanonicalFormError(
                document.line, f"a document that is {kind}, not a mapping (not a manifest)"
            )
    return [document.data for document in documents]


def _marker_line(text: str, line: int) -> int:
    """The line of the last `---` at or before `line` (an empty document starts there)."""
    lines = text.splitlines()[:line]
    starts = [number for number, content in enumerate(lines, 1) if content.startswith("---")]
    return starts[-1] if starts else min(line, max(len(lines), 1))


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = _WIDTH
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.Representer = _Representer
    return yaml


class _Representer(RoundTripRepresenter):
    """Writes an empty value as `null`, wherever it is."""

    def represent_none(self, data: Any) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", "null")


_Representer.add_representer(type(None), _Representer.represent_none)


def _round_trip_load(text: str) -> list[Any]:
    try:
        return list(_yaml().load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise CanonicalFormError(mark.line + 1 if mark else 1, str(exc.problem or exc)) from exc
    except YAMLError as exc:
        raise CanonicalFormError(1, str(exc)) from exc


def _dump(documents: list[Any]) -> str:
    out = io.StringIO()
    _yaml().dump_all(documents, out)
    return out.getvalue().rstrip("\n") + "\n"


def _layout(document: Any, *, project_file: bool) -> Layout:
    if project_file:
        return PROJECT
    if isinstance(document, Mapping):
        return KINDS.get(str(document.get("kind")), GENERIC)
    return GENERIC


def _canonicalise(node: Any, layout: Layout, widened: dict[int, int]) -> None:
    """Reorder and quote in place, from this node down; `widened` counts the characters each
    line (0-based) gains from quotes."""
    if isinstance(node, CommentedMap):
        if layout.order:
            _reorder(node, _wanted_order(list(node), layout.order))
        entries: Iterable[Any] = list(node)
    elif isinstance(node, CommentedSeq):
        entries = range(len(node))
    else:
        return
    for key in entries:
        child = layout.child(key) if isinstance(node, CommentedMap) else layout.child("*")
        if child is None:
            continue
        if child.orgno:
            _quote_at(node, key, widened)
        _canonicalise(node[key], child, widened)


def _quote_at(node: Any, key: Any, widened: dict[int, int]) -> None:
    value = node[key]
    quoted = _quoted(value)
    if quoted is value:
        return
    node[key] = quoted
    line = _value_line(node, key)
    if line is not None and isinstance(value, int):
        widened[line] = widened.get(line, 0) + 2


def _shift_end_of_line_comments(document: Any, widened: dict[int, int]) -> None:
    """An end-of-line comment keeps its distance from a value that gained quotes."""
    seen: set[int] = set()
    for token in _comment_tokens(document):
        line = getattr(token.start_mark, "line", None)  # a moved comment has no line
        if id(token) in seen or line not in widened or not token.value.startswith("#"):
            continue
        seen.add(id(token))
        token.start_mark.column += widened[line]


def _comment_tokens(node: Any) -> Iterable[CommentToken]:
    if not isinstance(node, CommentedMap | CommentedSeq):
        return
    for slots in node.ca.items.values():
        yield from (slot for slot in slots if isinstance(slot, CommentToken))
    if node.ca.comment and isinstance(node.ca.comment[0], CommentToken):
        yield node.ca.comment[0]
    for child in node.values() if isinstance(node, CommentedMap) else node:
        yield from _comment_tokens(child)


def _wanted_order(keys: list[Any], order: tuple[str, ...]) -> list[Any]:
    """Known keys in `order`, then the unknown ones as they were."""
    rank = {name: index for index, name in enumerate(order)}
    known = sorted((key for key in keys if key in rank), key=lambda key: rank[key])
    return [*known, *(key for key in keys if key not in rank)]


def _quoted(value: Any) -> Any:
    """An org number as a double-quoted string; anything else (validate's business) unchanged."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return value
    if isinstance(value, int):
        width = getattr(value, "_width", None) if isinstance(value, ScalarInt) else None
        written = f"{value:0{width}d}" if width and value >= 0 else str(value)
        return DoubleQuotedScalarString(written) if _ORGNO_TEXT.match(written) else value
    return DoubleQuotedScalarString(value) if _DIGITS.match(value) else value


# Comments: ruamel keeps a comment above a key in the slot of whatever ends the entry before
# it (that entry's deepest last value). Reordering moves keys, not those slots, so the lines
# above each key are cut from where they are and put back above the key in its new place.


def _reorder(node: CommentedMap, wanted: list[Any]) -> None:
    keys = list(node)
    if keys == wanted:
        return
    column = _key_column(node)
    above = dict.fromkeys(keys, "")
    above[keys[0]] = _cut_from_head(node)
    trailing = ""
    for index, key in enumerate(keys):
        lines_after = _cut_lines_after(node, key, column)
        if index + 1 < len(keys):
            above[keys[index + 1]] = lines_after
        else:
            trailing = lines_after
    for key in wanted:
        node.move_to_end(key)
    _append_to_head(node, above[wanted[0]])
    _drop_leading_blank_lines(node, wanted[0])
    for index, key in enumerate(wanted):
        after = above[wanted[index + 1]] if index + 1 < len(wanted) else trailing
        _append_lines_after(node, key, after)


def _key_column(node: CommentedMap) -> int:
    first = next(iter(node))
    return int(node.lc.key(first)[1]) if node.lc.data else 0


def _tail_slot(container: Any, key: Any) -> tuple[Any, Any, int]:
    """Where the comment after entry `key` lives: (container, key, slot index) at its end."""
    value = container[key]
    if isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        last = next(reversed(value)) if isinstance(value, CommentedMap) else len(value) - 1
        return _tail_slot(value, last)
    return container, key, 2 if isinstance(container, CommentedMap) else 0


def _value_line(container: Any, key: Any) -> int | None:
    if not container.lc.data or key not in container.lc.data:
        return None
    position = container.lc.value(key) if isinstance(container, CommentedMap) else None
    if position is None:
        position = container.lc.item(key)
    return int(position[0])


def _cut_lines_after(node: CommentedMap, key: Any, column: int) -> str:
    """Remove and return the lines after entry `key` that stand above the next key.

    Those are the blank lines and the comment lines from the first one not indented deeper than
    the mapping's keys; an end-of-line comment and deeper comments stay with the entry. The
    lines are returned whole, each with its own indentation.
    """
    container, slot_key, index = _tail_slot(node, key)
    slots = container.ca.items.get(slot_key)
    token = slots[index] if slots and len(slots) > index else None
    if not isinstance(token, CommentToken):
        return ""
    head, full = _end_of_value_line(token, container, slot_key)
    kept = 0
    while kept < len(full) and full[kept].strip() and _indent(full[kept]) > column:
        kept += 1
    cut = "".join(full[kept:])
    if not cut:
        return ""
    remaining = head + "".join(full[:kept])
    if not remaining.strip():
        slots[index] = None
        _forget(container[slot_key], token)
    else:
        if not head:
            token.start_mark.column = _indent(remaining)
            remaining = remaining.lstrip(" ")
        token.value = remaining
    return cut


def _end_of_value_line(token: CommentToken, container: Any, key: Any) -> tuple[str, list[str]]:
    """Split a comment token into the end of the value's own line (a line break, or an
    end-of-line comment) and the whole lines after it, each with its indentation."""
    lines = token.value.splitlines(keepends=True)
    if not _ends_with_line_break(container[key]) and (
        token.value.startswith("\n") or token.start_mark.line == _value_line(container, key)
    ):
        return lines[0], lines[1:]
    if lines and lines[0].startswith("#"):
        lines[0] = " " * token.column + lines[0]
    return "", lines


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _append_lines_after(node: CommentedMap, key: Any, lines: str) -> None:
    """Put whole `lines` after entry `key`, after whatever comment already follows it."""
    if not lines:
        return
    container, slot_key, index = _tail_slot(node, key)
    slots = container.ca.items.setdefault(slot_key, [None, None, None, None])
    token = slots[index]
    if isinstance(token, CommentToken):
        token.value = token.value + lines
    elif _ends_with_line_break(container[slot_key]):
        slots[index] = CommentToken(lines.lstrip(" "), CommentMark(_indent(lines)))
    else:
        slots[index] = CommentToken("\n" + lines, CommentMark(0))


def _cut_from_head(node: CommentedMap) -> str:
    """The comment lines above the first key after the head's last blank line: they are about
    that key and move with it (a head without a blank line stays: it is about the block)."""
    head = node.ca.comment[1] if node.ca.comment and len(node.ca.comment) > 1 else None
    if not head:
        return ""
    blank = [i for i, token in enumerate(head) if token.value.endswith("\n\n")]
    if not blank or blank[-1] + 1 == len(head):
        return ""
    moved = head[blank[-1] + 1 :]
    del head[blank[-1] + 1 :]
    return "".join(" " * token.column + token.value for token in moved)


def _append_to_head(node: CommentedMap, lines: str) -> None:
    """Comment lines that stood above a key now first in its block: below the block's head (a
    document's head comments stay at the top of the document)."""
    if not node.ca.comment or not node.ca.comment[1]:
        lines = _without_leading_blank_lines(lines)  # a block does not start with one
    if not lines:
        return
    token = CommentToken(lines.lstrip(" "), CommentMark(_indent(lines)))
    if node.ca.comment is None:
        node.ca.comment = [None, None]
    if node.ca.comment[1] is None:
        node.ca.comment[1] = []
    node.ca.comment[1].append(token)


def _drop_leading_blank_lines(node: CommentedMap, first: Any) -> None:
    """Blank lines kept before the key now first (after a flow collection ruamel keeps them
    with the next key) would open the block: dropped when nothing stands above them."""
    if node.ca.comment and node.ca.comment[1]:
        return
    before = node.ca.items.get(first)
    tokens = before[1] if before and len(before) > 1 and isinstance(before[1], list) else None
    while tokens and not tokens[0].value.strip():
        tokens.pop(0)


def _without_leading_blank_lines(lines: str) -> str:
    kept = lines.splitlines(keepends=True)
    while kept and not kept[0].strip():
        kept.pop(0)
    return "".join(kept)


def _forget(value: Any, token: CommentToken) -> None:
    """A flow collection holds its end-of-line comment too: drop it there as well."""
    comment = getattr(getattr(value, "ca", None), "comment", None)
    if comment and comment[0] is token:
        comment[0] = None


def _ends_with_line_break(value: Any) -> bool:
    """A block scalar (`|`, `>`) ends its own last line: what follows starts a new one."""
    return isinstance(value, LiteralScalarString | FoldedScalarString)


def _check_same_meaning(before: list[dict[str, Any]], layouts: list[Layout], result: str) -> None:
    expected = [_as_models_read(data, layout) for data, layout in zip(before, layouts, strict=True)]
    try:
        after = _plain_documents(result)
    except CanonicalFormError as exc:
        raise CanonicalFormError(1, f"the canonical form would not parse ({exc.message})") from exc
    if after != expected:
        raise CanonicalFormError(1, "the canonical form would change what the file means")


def _as_models_read(data: Any, layout: Layout | None) -> Any:
    """Plain loaded data with org numbers as the models read them (9-digit ints as text)."""
    if layout is None:
        return data
    if layout.orgno and isinstance(data, int) and not isinstance(data, bool):
        return str(data) if _ORGNO_TEXT.match(str(data)) else data
    if isinstance(data, dict):
        return {key: _as_models_read(value, layout.child(key)) for key, value in data.items()}
    if isinstance(data, list):
        return [_as_models_read(item, layout.child("*")) for item in data]
    return data


def _check_comments_kept(before: str, after: str) -> None:
    if sorted(_comments(before)) != sorted(_comments(after)):
        raise CanonicalFormError(1, "the canonical form would lose or repeat a comment")


def _comments(text: str) -> Iterable[str]:
    for line in text.splitlines():
        start = _comment_start(line)
        if start is not None:
            yield line[start:].rstrip()


def _comment_start(line: str) -> int | None:
    """Where the line's comment starts: a '#' at the start or after a space, outside a quoted
    scalar (one opens only where a scalar can begin: after ': ', '- ', '[', '{' or ',')."""
    quote: str | None = None
    previous = ""
    index = 0
    while index < len(line):
        char = line[index]
        if quote == '"' and char == "\\":
            index += 2
            continue
        if quote is not None:
            if char == quote and quote == "'" and line[index + 1 : index + 2] == "'":
                index += 2
                continue
            quote = None if char == quote else quote
        elif char in "'\"" and previous in _SCALAR_STARTS:
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return index
        if not char.isspace():
            previous = char
        index += 1
    return None
