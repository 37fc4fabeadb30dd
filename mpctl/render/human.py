"""Terminal text for a plan: Terraform-style glyphs, per-field changes, a summary line.

Owns the glyphs (`+` create, `<~` adopt, `~` update, `-/+` replace, `-` delete; key steps
show their effect on the JWKS; a field change is `~ path = old → new`, or `+`/`- path = value`
for an element added to or removed from a list or a field set from or to absent) and the
layout. Colour is ANSI and only when `color=True`: the CLI decides it (NO_COLOR, TTY). Every
dynamic string comes from the `PlanDocument`, already redacted and escaped. Returns a string;
must not print or touch a console.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mpctl.plan import Action, Diagnostic, Severity, UnmanagedObject
from mpctl.render.document import ChangeLine, PlanDocument, StepView

GLYPHS = {
    Action.CREATE: "+",
    Action.ADOPT: "<~",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
    Action.NOOP: " ",
    Action.CREATE_KEY: "+",
    Action.ROTATE_KEY: "~",
    Action.REGISTER_KEY: "+",
    Action.PROMOTE_KEY: "~",
    Action.REREGISTER_KEY: "+",
    Action.RETIRE_KEY: "-",
    Action.REVOKE_KEY: "-",
}
_COLOURS = {"+": "32", "~": "33", "<~": "36", "-": "31", "-/+": "35", " ": "0"}
_SEVERITY_COLOURS = {Severity.ERROR: "1;31", Severity.WARNING: "33", Severity.NOTE: "36"}

Paint = Callable[[str, str], str]


def render_human(document: PlanDocument, *, color: bool = False) -> str:
    """The plan as terminal text, ending with a newline."""
    paint = _ansi if color else _plain
    lines = [f"mpctl plan for environment {document.env_name}", ""]
    if document.steps:
        lines += ["Symbols: + create   <~ adopt   ~ update   -/+ replace   - delete", ""]
    for step in document.steps:
        lines += [*_step_lines(step, paint), ""]
    lines += _diagnostic_lines(document.diagnostics, paint)
    lines += _unmanaged_lines(document.unmanaged)
    lines.append(paint(document.summary_line, "1"))
    if document.error_verdict:
        lines.append(paint(document.error_verdict, "1;31"))
    return "\n".join(lines) + "\n"


def _step_lines(step: StepView, paint: Paint) -> list[str]:
    glyph = GLYPHS[step.action]
    blocked = " (HELD BACK: see diagnostics)" if step.blocked else ""
    lines = [paint(f"  # {step.address} {step.headline}{blocked}", "1")]
    if step.reason:
        lines.append(f"  #   {step.reason}")
    lines.append(paint(f"  {glyph} {step.address}", _COLOURS[glyph]))
    if step.phases:
        lines.append(f"      phases: {' → '.join(step.phases)}")
    width = max((len(c.path) for c in step.changes), default=0)
    lines += [_change(c, width, paint) for c in step.changes]
    return lines


def _change(change: ChangeLine, width: int, paint: Paint) -> str:
    """`+ path = new` (an element added, or a field set from absent), `- path = old` (an
    element removed, or a field cleared), else `~ path = old → new`."""
    glyph, text = change_glyph(change), _value(change)
    return paint(f"      {glyph} {change.path.ljust(width)} = {text}", _COLOURS[glyph])


def change_glyph(change: ChangeLine) -> str:
    """`+`, `-` or `~` for one field change."""
    if change.op == "add" or (change.op == "set" and change.old is None):
        return "+"
    if change.op == "remove" or (change.op == "set" and change.new is None):
        return "-"
    return "~"


def _value(change: ChangeLine) -> str:
    """What follows `path =`: the element or value added or removed, or `old → new`."""
    glyph = change_glyph(change)
    if glyph == "+":
        return str(change.new)
    if glyph == "-":
        return str(change.old)
    return f"{change.old} → {change.new}"


def _diagnostic_lines(diagnostics: Iterable[Diagnostic], paint: Paint) -> list[str]:
    lines = []
    for found in diagnostics:
        where = f" {found.address}:" if found.address else ""
        label = paint(f"{found.severity.value}:", _SEVERITY_COLOURS[found.severity])
        lines.append(f"  {label} [{found.code}]{where} {found.message}")
    return ["Diagnostics:", *lines, ""] if lines else []


def _unmanaged_lines(unmanaged: Iterable[UnmanagedObject]) -> list[str]:
    lines = []
    for item in unmanaged:
        name = f" ({item.name})" if item.name else ""
        lines.append(f"  {item.kind} {item.remote_id}{name}: {item.reason}")
    return ["Not managed by mpctl (listed, never changed):", *lines, ""] if lines else []


def _plain(text: str, _style: str) -> str:
    return text


def _ansi(text: str, style: str) -> str:
    return f"\x1b[{style}m{text}\x1b[0m"
