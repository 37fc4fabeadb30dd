"""Drift as findings, and the one issue per environment that reports them.

Owns what counts as drift and how the drift issue reads. Drift is any of: a step the plan would
run (Digdir no longer matches the manifests), a diagnostic that reports drift mpctl leaves
alone (`mpctl.plan.DRIFT_CODES`) or an error the plan carries (a refused delete, a sink that
lost its key), and a token check of `verify` that failed (a revoked Altinn delegation, MP-251;
an expired or missing key). A run that could not plan or verify at all is not drift: the
command fails instead and no issue changes.

Each finding has a stable `key` (`update client/x`, `key.unknown-kid client/x/key`, `token
reelle-supplier for 910753614: MP-251`): the issue body keeps the keys in a hidden block, so
the next run can say what appeared and what went away, and add a comment only then. The marker
keeps when the drift was first seen. Must not do I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from urllib.parse import quote, unquote

from mpctl.gitops.markdown import DEFAULT_BUDGET, code, shorten, text
from mpctl.gitops.markers import DRIFT, Marker, parse_marker, with_marker
from mpctl.gitops.plan_comment import Links, link
from mpctl.gitops.steps import MAX_LISTED, fitted_details, glyph, more, step_chunks
from mpctl.plan import DRIFT_CODES, Diagnostic, Plan
from mpctl.render import PlanDocument, build_document

DRIFT_LABEL = "mpctl:drift"
LABEL_COLOR = "d93f0b"
LABEL_DESCRIPTION = "Maskinporten differs from the manifests (opened and closed by mpctl)"
_KEYS_BLOCK = re.compile(r"<!-- mpctl:drift-findings\n(.*?)\n-->", re.DOTALL)
_KEYS_KEPT = 300
_SAFE = " /:@._+,=~()"
_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class TokenFailure:
    """A token check that failed: which one, Maskinporten's answer or the problem, the fix."""

    check: str
    """`reelle-supplier`, or `reelle-supplier for 910753614` for a delegation."""
    problem: str
    """`MP-251: …`, `no current key in its secret sink`, a claim that is wrong."""
    code: str = "failed"
    """Stable part of the key: Maskinporten's error id (MP-251), or `no-key`, `claims`, …"""
    fix: str | None = None


@dataclass(frozen=True)
class Finding:
    """One thing that drifted: its stable key and its list item (Markdown)."""

    key: str
    item: str
    section: str
    """`changes`, `diagnostics` or `tokens`."""


@dataclass(frozen=True)
class DriftReport:
    """Everything one drift run found (no findings: no drift)."""

    plan: Plan
    tokens: tuple[TokenFailure, ...] = ()

    @cached_property
    def document(self) -> PlanDocument:
        """The plan redacted for display (made once: redaction is the costly part)."""
        return build_document(self.plan)

    @cached_property
    def findings(self) -> tuple[Finding, ...]:
        return findings(self.document, self.tokens)

    @property
    def drifted(self) -> bool:
        return bool(self.findings)


def findings(document: PlanDocument, tokens: Sequence[TokenFailure]) -> tuple[Finding, ...]:
    """Every finding of one run, in plan order, then diagnostics, then token checks."""
    found = [
        Finding(
            f"{step.action.value} {step.address}",
            f"{code(f'{glyph(step.action)} {step.address}')} {text(step.headline)}",
            "changes",
        )
        for step in document.steps
    ]
    found += [
        Finding(_diagnostic_key(d), _diagnostic_item(d), "diagnostics")
        for d in document.diagnostics
        if _is_drift(d)
    ]
    found += [
        Finding(f"token {t.check}: {t.code}", _token_item(t), "tokens")
        for t in sorted(tokens, key=lambda t: (t.check, t.code))
    ]
    return tuple(found)


def issue_title(project: str, env: str) -> str:
    """A plain-text title (GitHub does not render Markdown in titles)."""
    return f"Maskinporten drift in {env} ({project})"


def issue_body(
    project: str,
    env: str,
    report: DriftReport,
    *,
    since: datetime,
    checked: datetime,
    links: Links,
    budget: int = DEFAULT_BUDGET,
) -> str:
    """The drift issue's body: what drifted, what to do, the plan's details, the hidden keys."""
    found = report.findings
    keys = [f.key for f in found]
    marker = Marker(DRIFT, project, env, {"since": _stamp(since), "findings": keys_digest(keys)})
    parts = [
        f"### Drift in {code(env)} ({text(project)})",
        f"Digdir no longer matches the manifests, or a token check failed. First seen "
        f"{_when(since)}; last checked {_when(checked)}"
        + (f" ({link('workflow run', links.run_url)})" if links.run_url else "")
        + ". mpctl updates this issue on every drift run and closes it on the first run "
        "that finds no drift.",
        *_sections(found),
        _what_to_do(found, env),
    ]
    hidden = _keys_block(keys)
    chunks = step_chunks(report.document)
    fixed = with_marker(marker, _join([*parts, hidden]))
    if chunks:
        room = budget - len(fixed) - 4
        parts.append(fitted_details("The plan's details", chunks, room, links.whole_plan(env)))
    return with_marker(marker, _join([*parts, hidden]))


def drift_since(body: str, project: str, env: str) -> datetime | None:
    """When the drift an issue body reports was first seen (its marker's `since`)."""
    marker = parse_marker(body)
    if marker is None or not marker.same_place(Marker(DRIFT, project, env)):
        return None
    try:
        return datetime.fromisoformat(marker.data.get("since", ""))
    except ValueError:
        return None


def previous_keys(body: str) -> tuple[str, ...] | None:
    """The finding keys an issue body keeps; None when it keeps none (or too many to keep)."""
    found = _KEYS_BLOCK.search(body)
    if found is None:
        return None
    lines = found.group(1).split("\n")
    if lines and lines[-1] == "…":
        return None
    return tuple(unquote(line) for line in lines if line)


def change_comment(
    old_body: str, report: DriftReport, *, checked: datetime, links: Links
) -> str | None:
    """A short comment when what drifted differs from what `old_body` reported, else None."""
    now = [f.key for f in report.findings]
    marker = parse_marker(old_body)
    if marker is not None and marker.data.get("findings") == keys_digest(now):
        return None
    when = _when(checked) + (f", {link('workflow run', links.run_url)}" if links.run_url else "")
    lines = [f"What drifted changed ({when}); the description is up to date."]
    before = previous_keys(old_body)
    if before is not None:
        appeared = [key for key in now if key not in before]
        gone = [key for key in before if key not in now]
        lines.append("")
        lines += [f"- new: {code(key)}" for key in appeared[:MAX_LISTED]]
        lines += more(len(appeared), "new findings", "see the description")
        lines += [f"- gone: {code(key)}" for key in gone[:MAX_LISTED]]
        lines += more(len(gone), "findings gone", "see the description")
    return "\n".join(lines) + "\n"


def closing_comment(*, checked: datetime, links: Links) -> str:
    run = f" ({link('workflow run', links.run_url)})" if links.run_url else ""
    return (
        f"Drift is gone: the plan has no changes and every token check passed "
        f"({_when(checked)}){run}. Closing.\n"
    )


def keys_digest(keys: Sequence[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()


def _is_drift(diagnostic: Diagnostic) -> bool:
    return diagnostic.code in DRIFT_CODES or diagnostic.severity.value == "error"


def _diagnostic_key(diagnostic: Diagnostic) -> str:
    return f"{diagnostic.code} {diagnostic.address or '-'}"


def _diagnostic_item(diagnostic: Diagnostic) -> str:
    where = f" {code(str(diagnostic.address))}" if diagnostic.address else ""
    message = text(shorten(diagnostic.message, _MESSAGE_LIMIT))
    return f"**{diagnostic.severity.value}** {code(diagnostic.code)}{where}: {message}"


def _token_item(failure: TokenFailure) -> str:
    fix = f" Fix: {text(shorten(failure.fix, _MESSAGE_LIMIT))}" if failure.fix else ""
    return f"{code(failure.check)}: {text(shorten(failure.problem, _MESSAGE_LIMIT))}{fix}"


_SECTION_TITLES = {
    "changes": "Changes a plan would make",
    "diagnostics": "Drift mpctl leaves alone, and the plan's errors",
    "tokens": "Token checks that failed (verify)",
}


def _sections(found: Sequence[Finding]) -> list[str]:
    parts = []
    for section, title in _SECTION_TITLES.items():
        items = [f"- {f.item}" for f in found if f.section == section]
        if items:
            where = "see the details below" if section == "changes" else "run mpctl locally"
            listed = items[:MAX_LISTED] + more(len(items), "findings", where)
            parts.append(f"**{title} ({len(items)}):**\n\n" + "\n".join(listed))
    return parts


def _what_to_do(found: Sequence[Finding], env: str) -> str:
    sections = {f.section for f in found}
    lines = ["**What to do:**", ""]
    if "changes" in sections or "diagnostics" in sections:
        lines.append(
            f"- {code(f'mpctl plan -e {env}')} shows the same. To put Digdir back as the "
            "manifests say, run the apply workflow (or "
            f"{code(f'mpctl apply -e {env}')}); to keep what Digdir has now, change the "
            "manifests in a pull request."
        )
    if "tokens" in sections:
        lines.append(
            f"- {code(f'mpctl verify -e {env}')} runs the same token checks. Follow each fix: "
            "a revoked Altinn delegation (MP-251) comes back only when the customer delegates "
            "again (or remove the delegation from the manifests); a missing or expired key "
            f"needs {code(f'mpctl apply -e {env}')}."
        )
    return "\n".join(lines)


def _keys_block(keys: Sequence[str]) -> str:
    kept = [quote(key, safe=_SAFE) for key in keys[:_KEYS_KEPT]]
    if len(keys) > _KEYS_KEPT:
        kept.append("…")
    return "<!-- mpctl:drift-findings\n" + "\n".join(kept) + "\n-->"


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _join(parts: list[str]) -> str:
    return "\n\n".join(part for part in parts if part) + "\n"
