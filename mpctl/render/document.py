"""`PlanDocument`: the one view of a plan that every renderer reads.

Owns turning a `Plan` into display-ready, redacted data: the redacted plan itself (which the
JSON renderer prints, so `--format json` follows the published plan schema), one `StepView`
per step with its headline and its field changes as display text, and the summary line.
Display text is JSON-spelled and has control and bidirectional-override characters escaped, so
a remote value can neither break a terminal nor hide text. Must not do I/O or pick colours.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

from pydantic import JsonValue

from mpctl.plan import (
    AccessStep,
    Action,
    Diagnostic,
    FieldChange,
    KeyStep,
    Plan,
    PlanSummary,
    Step,
    UnmanagedObject,
)
from mpctl.render.redact import redact_plan

_HEADLINES = {
    Action.CREATE: "will be created",
    Action.ADOPT: "will be adopted: mpctl's marker is written, nothing is created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "must be replaced (deleted, then created again)",
    Action.DELETE: "will be deleted",
    Action.NOOP: "is unchanged",
    Action.CREATE_KEY: "will get its first key",
    Action.ROTATE_KEY: "will rotate to a new key",
    Action.REGISTER_KEY: "will register pending key {kid}",
    Action.PROMOTE_KEY: "will test and promote pending key {kid}",
    Action.REREGISTER_KEY: "will register key {kid} again",
    Action.RETIRE_KEY: "will retire key {kid}",
    Action.REVOKE_KEY: "will revoke key {kid} now (removed from Digdir, grace or not)",
}
_Model = TypeVar("_Model", Diagnostic, UnmanagedObject)
_ACCESS_HEADLINES = {Action.CREATE: "will be granted", Action.DELETE: "will be revoked"}
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


@dataclass(frozen=True)
class ChangeLine:
    """One field change as display text; `old`/`new` are None when the value is absent.

    `op` is the `FieldChange` op: "set" (old → new), "add" (`new` is the element added to the
    list at `path`) or "remove" (`old` is the element removed from it).
    """

    path: str
    old: str | None
    new: str | None
    op: Literal["set", "add", "remove"] = "set"


@dataclass(frozen=True)
class StepView:
    address: str
    action: Action
    headline: str
    reason: str
    blocked: bool
    changes: tuple[ChangeLine, ...]
    phases: tuple[str, ...]


@dataclass(frozen=True)
class PlanDocument:
    """A redacted plan plus its display data. Build it with `build_document`."""

    plan: Plan
    """The redacted plan; what `--format json` prints."""
    steps: tuple[StepView, ...]
    diagnostics: tuple[Diagnostic, ...]
    """Redacted, with text made safe to print."""
    unmanaged: tuple[UnmanagedObject, ...]
    """Redacted, with text made safe to print."""
    summary_line: str

    @property
    def env_name(self) -> str:
        return safe_text(self.plan.env_name)

    @property
    def summary(self) -> PlanSummary:
        return self.plan.summary

    @property
    def key_counts(self) -> KeyCounts:
        return KeyCounts.of(step.action for step in self.plan.steps)

    @property
    def error_verdict(self) -> str | None:
        """What apply does about the plan's errors, for people; None without errors."""
        errors = self.summary.errors
        if not errors:
            return None
        noun = "error" if errors == 1 else "errors"
        if not self.plan.applyable:
            return f"This plan has {errors} {noun}: apply will refuse it."
        held = self.summary.blocked
        if held == len(self.plan.steps):
            return (
                f"This plan has {errors} {noun}: apply holds back every step, so applying it "
                "changes nothing."
            )
        return (
            f"This plan has {errors} {noun}: apply holds back the {held} step(s) of the "
            "clients and scopes they name (and what depends on them) and applies the rest."
        )


def build_document(plan: Plan) -> PlanDocument:
    """Redact `plan` and derive its display data."""
    safe = redact_plan(plan)
    return PlanDocument(
        plan=safe,
        steps=tuple(_view(step) for step in safe.steps),
        diagnostics=tuple(_safe_strings(d) for d in safe.diagnostics),
        unmanaged=tuple(_safe_strings(u) for u in safe.unmanaged),
        summary_line=summary_line(
            safe.summary, (step.action for step in safe.steps), drift=safe.has_drift
        ),
    )


DRIFT_ONLY = "Nothing to apply, but Digdir differs from the manifests: see the drift above."
"""The summary of a plan with no step and drift no step undoes (never "No changes.")."""


@dataclass(frozen=True)
class KeyCounts:
    """A plan's key steps by what they mean to a reader: a first key is not a rotation."""

    new: int = 0
    """First keys of clients that have none (`create_key`)."""
    rotations: int = 0
    """Rotations that start now (`rotate_key`)."""
    continuing: int = 0
    """Steps of rotations already under way: register, promote, retire, re-register."""
    revocations: int = 0

    @classmethod
    def of(cls, actions: Iterable[Action]) -> KeyCounts:
        counted = Counter(action for action in actions if action.is_key_action)
        new, rotations = counted.pop(Action.CREATE_KEY, 0), counted.pop(Action.ROTATE_KEY, 0)
        revocations = counted.pop(Action.REVOKE_KEY, 0)
        return cls(new, rotations, sum(counted.values()), revocations)


def summary_line(
    summary: PlanSummary, actions: Iterable[Action] = (), *, drift: bool = False
) -> str:
    """'Plan: N to create, M to update, K to delete, R key rotations[, F new keys][, C key steps
    of rotations under way][, V key revocations].' or 'No changes.'.

    A replacement counts as one create and one delete, as in Terraform. `actions` are the plan's
    step actions, which tell a first key from a rotation. With no step but `drift` (remote
    changes no step undoes; `plan --detailed-exitcode` exits 2) it never says "No changes.".
    """
    steps = (
        summary.create
        + summary.adopt
        + summary.update
        + summary.replace
        + summary.delete
        + summary.key
    )
    if steps == 0:
        return DRIFT_ONLY if drift else "No changes."
    keys = KeyCounts.of(actions)
    adopt = f"{summary.adopt} to adopt, " if summary.adopt else ""
    extra = [
        _counted(keys.new, "new key", "new keys"),
        _counted(
            keys.continuing, "key step of a rotation under way", "key steps of rotations under way"
        ),
        _counted(keys.revocations, "key revocation", "key revocations"),
    ]
    tail = "".join(f", {part}" for part in extra if part)
    return (
        f"Plan: {summary.create + summary.replace} to create, {adopt}{summary.update} to "
        f"update, {summary.delete + summary.replace} to delete, "
        f"{_counted(keys.rotations, 'key rotation', 'key rotations', zero=True)}{tail}."
    )


def _counted(count: int, one: str, many: str, *, zero: bool = False) -> str:
    if count == 0 and not zero:
        return ""
    return f"{count} {one if count == 1 else many}"


def display_value(value: JsonValue) -> str:
    """A value spelled as compact JSON, safe to print anywhere."""
    return safe_text(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": ")))


def safe_text(text: str) -> str:
    """`text` with control and bidi-override characters written as \\uXXXX escapes."""
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)


def _view(step: Step) -> StepView:
    return StepView(
        address=safe_text(str(step.address)),
        action=step.action,
        headline=safe_text(_headline(step)),
        reason=safe_text(step.reason),
        blocked=step.blocked,
        changes=tuple(_change_line(c) for c in step.changes),
        phases=tuple(p.value for p in step.key.phases) if isinstance(step, KeyStep) else (),
    )


def _headline(step: Step) -> str:
    if isinstance(step, AccessStep):
        return _ACCESS_HEADLINES[step.action]
    kid = step.key.kid if isinstance(step, KeyStep) else None
    return _HEADLINES[step.action].format(kid=kid or "")


def _change_line(change: FieldChange) -> ChangeLine:
    return ChangeLine(
        path=safe_text(".".join(change.path)),
        old=None if change.old is None else display_value(change.old),
        new=None if change.new is None else display_value(change.new),
        op=change.op,
    )


def _safe_strings(model: _Model) -> _Model:
    texts = {k: safe_text(v) for k, v in model if type(v) is str}
    return model.model_copy(update=texts)


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS


def _escape(ch: str) -> str:
    return f"\\u{ord(ch):04x}"
