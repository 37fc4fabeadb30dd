"""A plan's steps as Markdown: one summary line each, and collapsed details that fit a budget.

Owns the step vocabulary every GitOps body shares: the terminal's glyphs (`+` create, `<~`
adopt, `~` update, `-/+` replace, `-` delete; key steps by their effect on the JWKS), a
summary item per step (`` - `+ client/x` will be created ``), and the details: one fenced
`diff` block (GitHub colours `+` and `-` lines; raw text reads as `mpctl plan` prints) with
each step's headline, phases and field changes. Every string comes from a redacted
`StepView` (`mpctl.render.build_document`). Details that do not fit the budget end with a count
of the steps left out and where the whole plan is. Must not do I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from mpctl.gitops.markdown import code, details, fence, text
from mpctl.plan import Action
from mpctl.render import GLYPHS, ChangeLine, PlanDocument, change_glyph

MAX_LISTED = 50
"""Summary items and diagnostics listed before "… and N more"."""


def glyph(action: Action) -> str:
    return GLYPHS[action]


def summary_items(document: PlanDocument, *, notes: dict[str, str] | None = None) -> list[str]:
    """One list item per step (the first `MAX_LISTED`), with an optional note per address."""
    notes = notes or {}
    items = [
        f"- {code(f'{glyph(step.action)} {step.address}')} {text(step.headline)}"
        + (f" ({text(notes[step.address])})" if step.address in notes else "")
        + (" **held back**" if step.blocked and step.address not in notes else "")
        for step in document.steps[:MAX_LISTED]
    ]
    return items + more(len(document.steps), "steps", "see the details below")


def more(count: int, noun: str, where: str) -> list[str]:
    """'- … and N more NOUN (WHERE)' when `count` is over `MAX_LISTED`."""
    return [f"- … and {count - MAX_LISTED} more {noun} ({where})"] if count > MAX_LISTED else []


def step_chunks(document: PlanDocument) -> list[list[str]]:
    """Each step's lines for the details block (plain text; `fence` makes them safe)."""
    chunks = []
    for step in document.steps:
        held = " (held back)" if step.blocked else ""
        lines = [f"# {step.address} {step.headline}{held}"]
        if step.reason:
            lines.append(f"#   {step.reason}")
        lines.append(f"{glyph(step.action)} {step.address}")
        if step.phases:
            lines.append(f"    phases: {' → '.join(step.phases)}")
        lines += [_change_line(change) for change in step.changes]
        chunks.append(lines)
    return chunks


def fitted_details(title: str, chunks: Sequence[Sequence[str]], budget: int, whole: str) -> str:
    """A collapsed `diff` block of as many leading chunks as fit in `budget` characters, and,
    when some are left out, a line saying how many and `whole` (where the whole plan is).
    `title` and `whole` must already be Markdown-safe."""
    shown = len(chunks)
    while True:
        block = _details(title, chunks[:shown])
        if shown < len(chunks):
            block += (
                f"\n\n**Truncated:** {len(chunks) - shown} of {len(chunks)} steps are not "
                f"shown, to stay under GitHub's 65,536-character limit. {whole}"
            )
        if len(block) <= budget or shown == 0:
            return block if len(block) <= budget else ""
        shown = _fewer(shown, len(block), budget)


def _details(title: str, chunks: Sequence[Sequence[str]]) -> str:
    lines: list[str] = []
    for chunk in chunks:
        lines += [*chunk, ""]
    return details(title, fence(lines[:-1], "diff")) if lines else details(title, "(none shown)")


def _fewer(shown: int, length: int, budget: int) -> int:
    """Fewer chunks, roughly in proportion to the overshoot (at least one fewer)."""
    estimate = int(shown * budget / length) if length else shown - 1
    return max(0, min(shown - 1, estimate))


def _change_line(change: ChangeLine) -> str:
    """`+`/`-` an element added or removed (or a field set from or to absent), `~` a value:
    the glyphs of `mpctl plan` (`mpctl.render.change_glyph`)."""
    mark = change_glyph(change)
    if mark == "~":
        return f"~   {change.path} = {change.old} → {change.new}"
    return f"{mark}   {change.path} = {change.new if mark == '+' else change.old}"
