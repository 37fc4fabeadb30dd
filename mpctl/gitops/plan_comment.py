"""The sticky plan comment on a pull request: one per (project, environment), every outcome.

Owns what the comment says and the plan command's exit code, for the four outcomes: no
changes, changes, a plan apply-on-merge would refuse (a delete, replacement or protected change
whose approval label the pull request does not carry: it names the label), and a plan that
failed (the error, its hint, the manifest problems, what to do). Summary first (the plan's
summary line, one line per step, approvals, diagnostics), details collapsed, the whole body
under GitHub's limit with a link to the plan artifact when steps are left out. The hidden
marker keeps the head commit, the outcome and the step digest (`mpctl.gitops.review`) that
apply-on-merge checks its plan file against. Must not do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from mpctl.gitops.approvals import Approval, missing_approvals
from mpctl.gitops.markdown import DEFAULT_BUDGET, code, details, fence, shorten, text
from mpctl.gitops.markers import PLAN, Marker, with_marker
from mpctl.gitops.review import step_digest
from mpctl.gitops.steps import MAX_LISTED, fitted_details, more, step_chunks, summary_items
from mpctl.plan import Diagnostic, Plan
from mpctl.render import PlanDocument, build_document

EXIT_OK, EXIT_FAILED, EXIT_CHANGES = 0, 1, 2
NO_STEPS = "none"
"""The marker's `steps` when the plan failed: there is nothing apply-on-merge may run."""

_MESSAGE_LIMIT = 500
_LISTED_ADDRESSES = 10


@dataclass(frozen=True)
class Links:
    """Where the run, its commit and its saved plan are (each optional)."""

    head_sha: str | None = None
    artifact_url: str | None = None
    run_url: str | None = None

    def footer(self) -> str:
        parts = []
        if self.head_sha:
            parts.append(f"commit {code(self.head_sha[:12])}")
        if self.artifact_url:
            parts.append(link("plan artifact", self.artifact_url))
        if self.run_url:
            parts.append(link("workflow run", self.run_url))
        return " · ".join(parts)

    def whole_plan(self, env: str) -> str:
        """Where to read what a truncated body leaves out."""
        if self.artifact_url:
            return f"The whole plan is in the {link('plan artifact', self.artifact_url)}."
        if self.run_url:
            run = link("workflow run", self.run_url)
            return f"The whole plan is in the artifacts of the {run}."
        return f"Run {code(f'mpctl plan -e {env}')} to see the whole plan."


@dataclass(frozen=True)
class PlanFailure:
    """A plan that could not be made: the error, its hint, and the manifests' problems."""

    message: str
    hint: str | None = None
    problems: tuple[str, ...] = ()
    """`FILE:LINE: CODE message` lines (already redacted by whoever formatted them)."""


@dataclass(frozen=True)
class ReviewedPlan:
    """A plan made for a pull request, with the approvals its steps need and those granted."""

    plan: Plan
    needed: tuple[Approval, ...] = ()
    granted: frozenset[str] = field(default_factory=frozenset)

    @property
    def missing(self) -> tuple[Approval, ...]:
        return missing_approvals(self.needed, self.granted)

    @property
    def verdict(self) -> str:
        """'failed' is for `PlanFailure`; here: 'refused', 'errors', 'changes' or 'no-changes'."""
        if self.missing:
            return "refused"
        if self.plan.summary.errors:
            return "errors"
        return "changes" if self.plan.has_changes or self.plan.has_drift else "no-changes"


def plan_marker(
    project: str, env: str, outcome: ReviewedPlan | PlanFailure, links: Links
) -> Marker:
    data = {"head": links.head_sha or "unknown"}
    if isinstance(outcome, PlanFailure):
        data |= {"outcome": "failed", "steps": NO_STEPS}
    else:
        data |= {"outcome": outcome.verdict, "steps": step_digest(outcome.plan)}
    return Marker(PLAN, project, env, data)


def plan_exit_code(outcome: ReviewedPlan | PlanFailure) -> int:
    """As `mpctl plan --detailed-exitcode`: 1 failed, errors or refused; 2 changes; else 0."""
    if isinstance(outcome, PlanFailure):
        return EXIT_FAILED
    verdict = outcome.verdict
    if verdict in ("refused", "errors"):
        return EXIT_FAILED
    return EXIT_CHANGES if verdict == "changes" else EXIT_OK


def plan_comment_body(
    project: str,
    env: str,
    outcome: ReviewedPlan | PlanFailure,
    links: Links,
    *,
    budget: int = DEFAULT_BUDGET,
) -> str:
    """The whole comment body, marker first, at most `budget` characters."""
    marker = plan_marker(project, env, outcome, links)
    title = f"### mpctl plan: {code(env)} ({text(project)})"
    if isinstance(outcome, PlanFailure):
        return with_marker(marker, _join([title, *_failure(outcome, env), links.footer()]))
    document = build_document(outcome.plan)
    head = [title, *_summary(document, outcome)]
    tail = [links.footer()]
    fixed = with_marker(marker, _join([*head, *tail]))
    room = budget - len(fixed) - 4
    chunks = step_chunks(document)
    body = head
    if chunks:
        title_line = f"Details: {len(chunks)} step(s)"
        body = [*body, fitted_details(title_line, chunks, room, links.whole_plan(env))]
    return with_marker(marker, _join([*body, *tail]))


def link(label: str, url: str) -> str:
    """A Markdown link whose URL cannot end the link early."""
    return f"[{text(label)}]({quote(url, safe=':/?#[]@!$&*+,;=%~._-')})"


def _summary(document: PlanDocument, outcome: ReviewedPlan) -> list[str]:
    plan = outcome.plan
    parts: list[str] = []
    if not plan.has_changes and plan.has_drift:
        parts.append(
            f"**Nothing to apply,** but Digdir differs from the manifests in "
            f"{code(plan.env_name)}: see the drift below."
        )
    elif not plan.has_changes:
        parts.append(f"**No changes.** Digdir matches the manifests in {code(plan.env_name)}.")
    else:
        parts.append(f"**{text(document.summary_line)}**")
        parts.append("\n".join(summary_items(document, notes=_missing_labels(outcome))))
    if outcome.needed:
        parts.append(_approvals(outcome))
    other_errors = [d for d in document.diagnostics if _is_error(d) and not _is_policy(d)]
    if other_errors and document.error_verdict:
        parts.append(f"**{text(document.error_verdict)}**")
    shown = [d for d in document.diagnostics if not _is_policy(d)]
    if shown:
        parts.append(_diagnostics(shown))
    if document.unmanaged:
        parts.append(_unmanaged(document))
    return parts


def _missing_labels(outcome: ReviewedPlan) -> dict[str, str]:
    """Address → 'needs label X' (or 'needs labels X and Y') for each refused step."""
    labels: dict[str, list[str]] = {}
    for approval in outcome.missing:
        for address in approval.addresses:
            labels.setdefault(str(address), []).append(approval.label)
    return {
        address: ("needs label " if len(names) == 1 else "needs labels ") + " and ".join(names)
        for address, names in labels.items()
    }


def _approvals(outcome: ReviewedPlan) -> str:
    missing = outcome.missing
    if missing:
        lines = [
            "**Apply on merge will refuse this plan:** it needs approval. A maintainer approves "
            "it with a label on this pull request:"
        ]
    else:
        lines = ["**Approved** with labels on this pull request:"]
    for approval in outcome.needed:
        what = f"{len(approval.addresses)} {approval.noun}(s): {_addresses(approval)}"
        if approval in missing:
            lines.append(f"- add the label {code(approval.label)} to approve {what}")
        else:
            lines.append(f"- approved by the label {code(approval.label)}: {what}")
    if missing:
        lines.append(
            "\nLabels are read when the plan runs and again when the pull request is merged: "
            "after adding one, run the plan again (push, or re-run the job) so this comment "
            "shows it."
        )
    return "\n".join(lines)


def _addresses(approval: Approval) -> str:
    shown = ", ".join(code(str(a)) for a in approval.addresses[:_LISTED_ADDRESSES])
    left = len(approval.addresses) - _LISTED_ADDRESSES
    return shown + (f" and {left} more" if left > 0 else "")


def _diagnostics(found: list[Diagnostic]) -> str:
    lines = [f"Diagnostics ({len(found)}):", ""]
    for diagnostic in found[:MAX_LISTED]:
        where = f" {code(str(diagnostic.address))}" if diagnostic.address else ""
        message = text(shorten(diagnostic.message, _MESSAGE_LIMIT))
        lines.append(f"- **{diagnostic.severity.value}** {code(diagnostic.code)}{where}: {message}")
    return "\n".join(lines + more(len(found), "diagnostics", "see the plan artifact"))


def _unmanaged(document: PlanDocument) -> str:
    items = [
        f"- {text(item.kind)} {code(item.remote_id)}"
        + (f" ({text(shorten(item.name, 200))})" if item.name else "")
        + f": {text(shorten(item.reason, _MESSAGE_LIMIT))}"
        for item in document.unmanaged[:MAX_LISTED]
    ]
    items += more(len(document.unmanaged), "objects", "see the plan artifact")
    count = len(document.unmanaged)
    return details(
        f"{count} remote object(s) not managed by mpctl (never changed)", "\n".join(items)
    )


def _failure(failure: PlanFailure, env: str) -> list[str]:
    parts = [f"**The plan failed:** {text(shorten(failure.message, 2_000))}"]
    if failure.hint:
        parts.append(f"Hint: {text(shorten(failure.hint, 2_000))}")
    if failure.problems:
        shown = [shorten(p, _MESSAGE_LIMIT) for p in failure.problems[:MAX_LISTED]]
        left = len(failure.problems) - len(shown)
        parts.append(fence([*shown, *([f"… and {left} more"] if left > 0 else [])], "text"))
    parts.append(
        "**What to do:** fix the problem and push; the plan runs again and updates this "
        f"comment. {code(f'mpctl validate -e {env}')} and {code(f'mpctl plan -e {env}')} show "
        "the same on your machine. Until a plan succeeds, apply on merge applies nothing."
    )
    return parts


def _is_error(diagnostic: Diagnostic) -> bool:
    return diagnostic.severity.value == "error"


def _is_policy(diagnostic: Diagnostic) -> bool:
    return diagnostic.code.startswith("policy.")


def _join(parts: list[str]) -> str:
    return "\n\n".join(part for part in parts if part) + "\n"
