"""A plan as a pull-request comment: summary table, then one collapsible block per resource.

Owns the Markdown layout and its two safety rules. (1) Every dynamic string is escaped: HTML
and Markdown punctuation become character references and newlines become spaces, so a remote
value can neither inject markup or math (`$`), mention people (`@`), autolink or make emoji
(`:`), nor break the table (`|`).
(2) The comment stays under GitHub's 65,536-character limit: blocks are added in order while
they fit and the rest is replaced by a truncation notice. Must not do I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from mpctl.plan import Diagnostic, UnmanagedObject
from mpctl.render.document import ChangeLine, PlanDocument, StepView
from mpctl.render.human import GLYPHS, change_glyph

GITHUB_COMMENT_LIMIT = 65_536
DEFAULT_MAX_CHARS = 65_000
_MAX_LISTED = 100
_ESCAPES = {ch: f"&#{ord(ch)};" for ch in "&<>`|*_[]\\~@:$"}
_TRUNCATED = (
    "\n**Truncated:** {omitted} of {total} sections are not shown, to stay under GitHub's "
    "65,536-character comment limit. Run `mpctl plan` to see the whole plan.\n"
)


def render_markdown(document: PlanDocument, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The plan as GitHub-flavoured Markdown of at most `max_chars` characters."""
    head = _header(document)
    blocks = [
        *_diagnostics_block(document.diagnostics),
        *(_step_block(step) for step in document.steps),
        *_unmanaged_block(document.unmanaged),
    ]
    return _fit(head, blocks, max_chars)


def escape(text: str) -> str:
    """`text` safe inside Markdown and inline HTML, on one line."""
    for raw, safe in (("\r\n", " "), ("\n", " "), ("\r", " ")):
        text = text.replace(raw, safe)
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _code(text: str) -> str:
    return f"<code>{escape(text)}</code>"


def _header(document: PlanDocument) -> str:
    summary = document.summary
    keys = document.key_counts
    rows = [
        ("create", summary.create),
        ("adopt", summary.adopt),
        ("update", summary.update),
        ("replace", summary.replace),
        ("delete", summary.delete),
        ("new keys", keys.new),
        ("key rotations", keys.rotations),
        ("key steps of rotations under way", keys.continuing),
        ("key revocations", keys.revocations),
        ("unchanged", summary.unchanged),
    ]
    table = "\n".join(f"| {name} | {count} |" for name, count in rows)
    lines = [
        f"### mpctl plan for {_code(document.env_name)}",
        "",
        f"**{escape(document.summary_line)}**",
        "",
        "| Action | Count |",
        "|:--|--:|",
        table,
        "",
    ]
    if document.error_verdict:
        lines += [f"> **{escape(document.error_verdict)}**", ""]
    return "\n".join(lines)


def _diagnostics_block(diagnostics: Sequence[Diagnostic]) -> list[str]:
    if not diagnostics:
        return []
    lines = [
        f"- **{found.severity.value}** {_code(found.code)}"
        + (f" {_code(str(found.address))}" if found.address else "")
        + f": {escape(found.message)}"
        for found in diagnostics[:_MAX_LISTED]
    ]
    lines += _more(len(diagnostics), "diagnostics")
    return ["#### Diagnostics\n\n" + "\n".join(lines) + "\n"]


def _step_block(step: StepView) -> str:
    blocked = " **(held back)**" if step.blocked else ""
    summary = f"{_code(f'{GLYPHS[step.action]} {step.address}')} {escape(step.headline)}"
    lines = [f"<details><summary>{summary}{blocked}</summary>", ""]
    if step.reason:
        lines += [f"_{escape(step.reason)}_", ""]
    if step.phases:
        lines += [f"Phases: {escape(' → '.join(step.phases))}", ""]
    if step.changes:
        lines += ["|  | Field | Old | New |", "|---|---|---|---|"]
        lines += [_change_row(change) for change in step.changes]
        lines.append("")
    lines.append("</details>\n")
    return "\n".join(lines)


def _change_row(change: ChangeLine) -> str:
    """`+` and `-` rows carry one list element (or a field set from or to absent), `~` rows a
    value changed from Old to New; the glyphs are the terminal's."""
    old = _code(change.old) if change.old is not None else ""
    new = _code(change.new) if change.new is not None else ""
    return f"| {_code(change_glyph(change))} | {_code(change.path)} | {old} | {new} |"


def _unmanaged_block(unmanaged: Sequence[UnmanagedObject]) -> list[str]:
    if not unmanaged:
        return []
    lines = [
        f"- {escape(item.kind)} {_code(item.remote_id)}"
        + (f" ({escape(item.name)})" if item.name else "")
        + f": {escape(item.reason)}"
        for item in unmanaged[:_MAX_LISTED]
    ]
    lines += _more(len(unmanaged), "objects")
    title = f"{len(unmanaged)} remote object(s) not managed by mpctl (listed, never changed)"
    return [f"<details><summary>{title}</summary>\n\n" + "\n".join(lines) + "\n\n</details>\n"]


def _more(count: int, what: str) -> list[str]:
    return [f"- … and {count - _MAX_LISTED} more {what}"] if count > _MAX_LISTED else []


def _fit(head: str, blocks: Sequence[str], max_chars: int) -> str:
    """`head` and as many leading blocks as fit, then a notice counting the rest."""
    whole = "\n".join([head, *blocks])
    if len(whole) <= max_chars:
        return whole
    budget = max_chars - len(_TRUNCATED.format(omitted=len(blocks), total=len(blocks)))
    parts, used = [head], len(head)
    for block in blocks:
        if used + 1 + len(block) > budget:
            break
        parts.append(block)
        used += 1 + len(block)
    notice = _TRUNCATED.format(omitted=len(blocks) - len(parts) + 1, total=len(blocks))
    return ("\n".join(parts) + notice)[:max_chars]
