"""Markdown for GitHub comments and issues that also reads well as raw text.

GitHub e-mail notifications and `gh pr view` show the raw body, so this escapes only what GitHub
would otherwise act on, and says why for each rule:

- prose (`text`): a pair of single backticks stays a code span (mpctl's messages quote
  commands that way); elsewhere `\\`, `` ` ``, `*`, `[`, `<`, `$` and `~` get a backslash
  (code, emphasis, links, HTML, math, strikethrough); `_` only at a word's edge (GitHub
  ignores it inside words, so `allow_delete` stays as written); `&` only where it would
  spell an entity; a leading `#`, `>`, `+`, `-`, `=`, `|` or `1.` (a heading, quote, list or
  table); `@` before a name and `#` before a number get an invisible U+200B after them,
  because a backslash does not stop a mention or a cross-reference (both notify people or
  other issues). Emoji shortcodes (`:x:`) and bare URLs are left alone: they change how text
  looks, not what it does.
- code (`code`, `fence`): nothing inside is escaped; the backtick fence is made longer than
  any run of backticks in the content, so the content can never close it.

Every dynamic string is put on one line (newlines become spaces; other control characters and
bidirectional overrides become `\\uXXXX`), so a value can never start a new block.
Owns `GITHUB_BODY_LIMIT` and the budget comments are fitted to. Must not do I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

GITHUB_BODY_LIMIT = 65_536
"""GitHub refuses a comment, issue or pull-request body longer than this (characters)."""

DEFAULT_BUDGET = 64_000
"""What composers fit a body to: the limit less room for the markers and the notice."""

_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_ALWAYS = frozenset("\\`*[<$~")
_LINE_START = frozenset("#>+-=|")
_ORDERED_ITEM = re.compile(r"^(\d{1,9})([.)])")
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_MENTION = re.compile(r"(?<![0-9A-Za-z])@(?=[0-9A-Za-z])")
_ISSUE_REFERENCE = re.compile(r"(?<![0-9A-Za-z&])#(?=[0-9])")
_BACKTICK_RUN = re.compile(r"`+")
_CODE_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_WORD_BREAK = "\u200b"


def one_line(value: str) -> str:
    """`value` on one line: line breaks become spaces, other controls `\\uXXXX` escapes."""
    value = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return "".join(_escaped_control(ch) if _is_control(ch) else ch for ch in value)


def text(value: str) -> str:
    """`value` as Markdown prose that renders exactly as written (see the module rules); a
    pair of backticks stays a code span, as mpctl's messages write commands."""
    line = one_line(value)
    parts = _CODE_SPAN.split(line)
    spans = [
        code(part) if index % 2 else _prose(part, first=index == 0)
        for index, part in enumerate(parts)
    ]
    return "".join(spans)


def _prose(line: str, *, first: bool) -> str:
    out: list[str] = []
    for index, ch in enumerate(line):
        at_start = first and index == 0
        if ch in _ALWAYS or (at_start and ch in _LINE_START) or _is_edge_underscore(line, index):
            out.append("\\")
        out.append(ch)
    escaped = "".join(out)
    if first:
        escaped = _ORDERED_ITEM.sub(r"\1\\\2", escaped)
    escaped = _ENTITY.sub(r"\\&", escaped)
    escaped = _MENTION.sub("@" + _WORD_BREAK, escaped)
    return _ISSUE_REFERENCE.sub("#" + _WORD_BREAK, escaped)


def code(value: str) -> str:
    """`value` as an inline code span (no escaping needed inside)."""
    line = one_line(value)
    ticks = "`" * (_longest_backtick_run(line) + 1)
    edges = line.startswith(("`", " ")) or line.endswith(("`", " "))
    padded = f" {line} " if edges and line.strip(" ") else line
    return f"{ticks}{padded}{ticks}"


def fence(lines: Iterable[str], info: str = "") -> str:
    """A fenced code block of `lines` (each made one line), which nothing inside can close."""
    body = [one_line(line) for line in lines]
    ticks = "`" * max(3, max((_longest_backtick_run(line) for line in body), default=0) + 1)
    return "\n".join([f"{ticks}{info}", *body, ticks])


def details(summary: str, content: str) -> str:
    """A collapsed section; `summary` must already be Markdown-safe (use `text`/`code`)."""
    return f"<details><summary>{summary}</summary>\n\n{content}\n\n</details>"


def shorten(value: str, limit: int) -> str:
    """`value` cut to at most `limit` characters, ending with `…` when cut."""
    return value if len(value) <= limit else value[: max(limit - 1, 0)] + "…"


def _longest_backtick_run(line: str) -> int:
    return max((len(run) for run in _BACKTICK_RUN.findall(line)), default=0)


def _is_edge_underscore(line: str, index: int) -> bool:
    if line[index] != "_":
        return False
    before = line[index - 1] if index > 0 else " "
    after = line[index + 1] if index + 1 < len(line) else " "
    return not (before.isalnum() and after.isalnum())


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS


def _escaped_control(ch: str) -> str:
    return f"\\u{ord(ch):04x}"
