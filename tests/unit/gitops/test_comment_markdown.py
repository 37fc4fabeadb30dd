"""Markdown that renders exactly as written, and still reads as written in the raw text."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from mpctl.gitops.markdown import code, fence, one_line, text

_MD = MarkdownIt("commonmark").enable(["strikethrough", "table"])
_PARAGRAPH = re.compile(r"^<p>(.*)</p>\n$", re.DOTALL)
_ZWSP = "\u200b"
_VALUES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=60
)


def _rendered_text(markdown: str) -> str:
    """The text a reader sees: the one paragraph's content with tags of code spans removed."""
    found = _PARAGRAPH.match(_MD.render(markdown))
    assert found is not None, _MD.render(markdown)
    inner = found.group(1)
    assert "<" not in inner.replace("<code>", "").replace("</code>", ""), inner
    return html.unescape(inner.replace("<code>", "").replace("</code>", ""))


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_prose_renders_as_written(value: str) -> None:
    shown = _rendered_text("x " + text(value)).replace(_ZWSP, "")
    expected = ("x " + one_line(value)).rstrip(" ")
    # a pair of backticks is shown as a code span: CommonMark drops one space at each end of it
    assert _squash_code_padding(shown) == _squash_code_padding(expected)


def _squash_code_padding(value: str) -> str:
    return re.sub(r" +", " ", value.replace("`", "")).strip()


@settings(max_examples=300, deadline=None)
@given(_VALUES.filter(lambda v: v.strip(" ")))
def test_a_code_span_holds_any_value(value: str) -> None:
    rendered = _MD.render("x " + code(value))
    assert rendered.count("<code>") == 1, rendered
    inner = rendered.split("<code>", 1)[1].split("</code>", 1)[0]
    assert html.unescape(inner) == one_line(value)


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, min_size=1, max_size=5))
def test_nothing_inside_a_fence_can_close_it(lines: list[str]) -> None:
    rendered = _MD.render(fence(lines, "diff") + "\n\nafter")
    assert rendered.count("<pre>") == 1
    inner = rendered.split("<code", 1)[1].split(">", 1)[1].split("</code></pre>", 1)[0]
    assert html.unescape(inner) == "\n".join(one_line(line) for line in lines) + "\n"
    assert rendered.endswith("<p>after</p>\n")


@pytest.mark.parametrize(
    ("raw", "markdown"),
    [
        ("delete of client/old needs allow_delete", "delete of client/old needs allow_delete"),
        ("run `mpctl validate -e test`", "run `mpctl validate -e test`"),
        (
            "acme:invoices.read is granted to 910753614",
            "acme:invoices.read is granted to 910753614",
        ),
        ("key *rotated* <b>now</b>", "key \\*rotated\\* \\<b>now\\</b>"),
        ("# not a heading", "\\# not a heading"),
        ("1. not a list", "1\\. not a list"),
        ("AT&T &amp; co", "AT&T \\&amp; co"),
    ],
)
def test_only_what_must_be_escaped_is(raw: str, markdown: str) -> None:
    assert text(raw) == markdown


def test_mentions_and_issue_references_are_broken_invisibly() -> None:
    escaped = text("ask @octocat and @acme/platform about #12, not a@b.no or #x")
    assert "@octocat" not in escaped
    assert "@acme/platform" not in escaped
    assert "#12" not in escaped
    assert "a@b.no" in escaped
    assert "#x" in escaped
    assert (
        escaped.replace(_ZWSP, "") == "ask @octocat and @acme/platform about #12, not a@b.no or #x"
    )


def test_a_value_stays_on_one_line_and_control_characters_are_spelled() -> None:
    assert one_line("a\nb\r\nc\rd\x07e\u202ef") == "a b c d\\u0007e\\u202ef"
    assert "\n" not in text("line\n# heading")
    assert "\n" not in code("a\n```")
