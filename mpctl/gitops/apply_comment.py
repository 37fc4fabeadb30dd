"""The sticky apply comment on a merged pull request: what apply-on-merge did, or why not.

Owns the outcomes of `mpctl gitops apply` as data, their exit codes and the comment that shows
them (one per project and environment, updated when the job is re-run):

- `NotReviewed`: the plan file is not the plan the pull request's comment last showed, or that
  plan failed; nothing was applied;
- `PlanChanged`: the merged manifests and Digdir call for another plan than the reviewed one
  (steps that appeared, vanished or changed); nothing was applied;
- `NeedsApproval`: a delete, replacement or protected change without its label; nothing was
  applied, and the comment names the label and says to re-run the job;
- `ApplyFailed`: an error before or around apply (the message says whether anything was
  written);
- `Applied`: each step's outcome (done, unchanged, failed, skipped, held back).

Must not do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpctl.gitops.approvals import Approval
from mpctl.gitops.markdown import DEFAULT_BUDGET, code, shorten, text
from mpctl.gitops.markers import APPLY, Marker, with_marker
from mpctl.gitops.plan_comment import Links
from mpctl.gitops.review import PlanDifference
from mpctl.gitops.steps import MAX_LISTED, fitted_details, glyph, more, step_chunks
from mpctl.plan import Plan, Step
from mpctl.render import PlanDocument, build_document, summary_line

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
_MESSAGE_LIMIT = 300
_LISTED_PROBLEMS = 100
_MARKS = {"done": "✓", "unchanged": "=", "failed": "✗", "skipped": "-", "held back": "!"}


@dataclass(frozen=True)
class NotReviewed:
    """The plan file cannot stand for what was reviewed; `reason` says why."""

    reason: str


@dataclass(frozen=True)
class PlanChanged:
    """The plan called for now is not the reviewed one."""

    reviewed: Plan
    now: Plan
    difference: PlanDifference


@dataclass(frozen=True)
class NeedsApproval:
    """Approval labels the merged pull request does not carry."""

    missing: tuple[Approval, ...]


@dataclass(frozen=True)
class ApplyFailed:
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class StepResult:
    """One step's outcome as apply reported it (`mpctl.apply.Status` values)."""

    address: str
    status: str
    message: str = ""


@dataclass(frozen=True)
class Applied:
    """Apply ran the fresh plan (or had nothing to run)."""

    plan: Plan
    results: tuple[StepResult, ...] = ()
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        if self.interrupted:
            return False
        if not self.plan.has_changes:
            return not self.plan.summary.errors
        return all(r.status in ("done", "unchanged") for r in self.results)


ApplyOutcome = NotReviewed | PlanChanged | NeedsApproval | ApplyFailed | Applied


def apply_exit_code(outcome: ApplyOutcome) -> int:
    """0 applied or nothing to do; 130 interrupted; 1 refused or failed."""
    if isinstance(outcome, Applied):
        if outcome.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_OK if outcome.ok else EXIT_FAILED
    return EXIT_FAILED


def apply_verdict(outcome: ApplyOutcome) -> str:
    """One word for the marker and logs."""
    if isinstance(outcome, Applied):
        if outcome.interrupted:
            return "interrupted"
        return "applied" if outcome.ok else "failed"
    return {
        NotReviewed: "not-reviewed",
        PlanChanged: "plan-changed",
        NeedsApproval: "needs-approval",
        ApplyFailed: "failed",
    }[type(outcome)]


def apply_comment_body(
    project: str,
    env: str,
    outcome: ApplyOutcome,
    links: Links,
    *,
    budget: int = DEFAULT_BUDGET,
) -> str:
    """The whole comment body, marker first, at most `budget` characters."""
    marker = Marker(
        APPLY,
        project,
        env,
        {"commit": links.head_sha or "unknown", "outcome": apply_verdict(outcome)},
    )
    title = f"### mpctl apply: {code(env)} ({text(project)})"
    footer = links.footer()
    fixed = with_marker(marker, _join([title, *_body(outcome, env), footer]))
    details = ""
    if isinstance(outcome, PlanChanged):
        details = _difference_details(outcome, links.whole_plan(env), budget - len(fixed) - 4)
    parts = _body(outcome, env)
    if details:
        parts.insert(len(parts) - 1, details)
    return with_marker(marker, _join([title, *parts, footer]))


def _body(outcome: ApplyOutcome, env: str) -> list[str]:
    if isinstance(outcome, NotReviewed):
        return [
            f"**Nothing was applied:** {text(outcome.reason)}",
            "**What to do:** apply on merge runs only the plan reviewed on the pull request. "
            "Run the plan on a pull request again (push a commit, or re-run its plan job), "
            "review it, then re-run this job or merge a new pull request.",
        ]
    if isinstance(outcome, PlanChanged):
        return _plan_changed(outcome)
    if isinstance(outcome, NeedsApproval):
        return _needs_approval(outcome)
    if isinstance(outcome, ApplyFailed):
        parts = [f"**Apply failed:** {text(shorten(outcome.message, 2_000))}"]
        if outcome.hint:
            parts.append(f"Hint: {text(shorten(outcome.hint, 2_000))}")
        parts.append(
            "**What to do:** fix the cause and re-run this job; apply plans again and "
            f"continues where it stopped. {code(f'mpctl plan -e {env}')} shows what is left."
        )
        return parts
    return _applied(outcome, env)


def _plan_changed(outcome: PlanChanged) -> list[str]:
    difference = outcome.difference
    parts = [
        "**Nothing was applied: the plan changed between review and merge.** The merged "
        "manifests and Digdir now call for a plan that is not the one reviewed on this pull "
        "request."
    ]
    if difference.identity:
        parts.append(text(difference.identity))
    now, reviewed = _views(outcome.now), _views(outcome.reviewed)
    lines = [
        *(f"- appeared: {_item(now, step)}" for step in difference.appeared),
        *(f"- vanished: {_item(reviewed, step)}" for step in difference.vanished),
        *(
            f"- changed: {_item(now, change.now)} ({text(', '.join(change.fields))} differ)"
            for change in difference.changed
        ),
    ]
    parts.append("\n".join(lines[:MAX_LISTED] + more(len(lines), "differences", "see below")))
    parts.append(
        "**What to do:** nothing runs until a reviewed plan matches. Check the difference: a "
        "change made by hand at Digdir, another merge, or a key rotation that fell due. To "
        "apply what the manifests call for now, open a pull request (an empty commit will do) "
        "so its plan is reviewed, and merge it."
    )
    return parts


def _views(plan: Plan) -> dict[str, str]:
    """Address → its summary item text (glyph, address, headline), from the redacted plan."""
    return {
        view.address: f"{code(f'{glyph(view.action)} {view.address}')} {text(view.headline)}"
        for view in build_document(plan).steps
    }


def _item(views: dict[str, str], step: Step) -> str:
    return views.get(str(step.address)) or code(str(step.address))


def _difference_details(outcome: PlanChanged, whole: str, budget: int) -> str:
    """The differing steps as reviewed and as called for now, collapsed, within `budget`."""
    difference = outcome.difference
    before = {str(s.address) for s in difference.vanished}
    after = {str(s.address) for s in difference.appeared}
    changed = {str(c.address) for c in difference.changed}
    chunks = [
        _labelled("reviewed", chunk)
        for chunk in _chunks_for(build_document(outcome.reviewed), before | changed)
    ] + [
        _labelled("called for now", chunk)
        for chunk in _chunks_for(build_document(outcome.now), after | changed)
    ]
    return fitted_details("The steps that differ", chunks, budget, whole) if chunks else ""


def _labelled(label: str, chunk: list[str]) -> list[str]:
    """A step's lines with its headline (`# address headline`) saying which plan it is from."""
    head, *rest = chunk
    return [f"# {label}: {head.removeprefix('# ')}", *rest]


def _chunks_for(document: PlanDocument, addresses: set[str]) -> list[list[str]]:
    return [
        chunk
        for view, chunk in zip(document.steps, step_chunks(document), strict=True)
        if view.address in addresses
    ]


def _needs_approval(outcome: NeedsApproval) -> list[str]:
    lines = [
        f"- add the label {code(a.label)} to approve {len(a.addresses)} {a.noun}(s): "
        + ", ".join(code(str(address)) for address in a.addresses[:10])
        + (f" and {len(a.addresses) - 10} more" if len(a.addresses) > 10 else "")
        for a in outcome.missing
    ]
    return [
        "**Nothing was applied: the plan needs approval.** A maintainer approves it with a "
        "label on this pull request:",
        "\n".join(lines),
        "**What to do:** add the label, then re-run this job (the failed run → Re-run jobs): "
        "it reads the labels again.",
    ]


def _applied(outcome: Applied, env: str) -> list[str]:
    plan = outcome.plan
    if not plan.has_changes:
        if plan.summary.errors:
            return [
                f"**Nothing to apply, but the plan has {plan.summary.errors} error(s) holding "
                f"changes back.** {code(f'mpctl plan -e {env}')} shows them."
            ]
        return ["**Nothing to apply:** Digdir already matches the manifests."]
    counts: dict[str, int] = {}
    for result in outcome.results:
        counts[result.status] = counts.get(result.status, 0) + 1
    started = {r.address for r in outcome.results}
    not_started = sum(1 for step in plan.steps if str(step.address) not in started)
    spelled = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    head = "Applied" if outcome.ok else ("Interrupted" if outcome.interrupted else "Apply failed")
    summary = f"**{head}:** {spelled or 'no step ran'}" + (
        f", {not_started} not started." if not_started else "."
    )
    parts = [
        summary,
        text(summary_line(plan.summary, (step.action for step in plan.steps))),
        _results(outcome.results),
    ]
    if not outcome.ok:
        parts.append(
            "**What to do:** fix what the failed steps say, then re-run this job: apply plans "
            "again and continues where it stopped."
        )
    return parts


def _results(results: tuple[StepResult, ...]) -> str:
    """Steps that did not succeed first (up to `_LISTED_PROBLEMS`), then the others (up to
    `MAX_LISTED`), each list ending with how many it leaves out."""
    problems = [r for r in results if r.status not in ("done", "unchanged")]
    fine = [r for r in results if r.status in ("done", "unchanged")]
    lines = [_result(r) for r in problems[:_LISTED_PROBLEMS]]
    if len(problems) > _LISTED_PROBLEMS:
        lines.append(f"- … and {len(problems) - _LISTED_PROBLEMS} more that did not succeed")
    lines += [_result(r) for r in fine[:MAX_LISTED]]
    lines += more(len(fine), "steps done", "see the job's log")
    return "\n".join(lines)


def _result(result: StepResult) -> str:
    mark = _MARKS.get(result.status, "?")
    message = f": {text(shorten(result.message, _MESSAGE_LIMIT))}" if result.message else ""
    return f"- {mark} {result.status} {code(result.address)}{message}"


def _join(parts: list[str]) -> str:
    return "\n\n".join(part for part in parts if part) + "\n"
