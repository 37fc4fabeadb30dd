"""What the plan comment, the apply comment and the drift issue say, and that they fit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from markdown_it import MarkdownIt

from mpctl.gitops import (
    Applied,
    ApprovalLabels,
    DriftReport,
    Links,
    NeedsApproval,
    PlanChanged,
    PlanFailure,
    ReviewedPlan,
    StepResult,
    TokenFailure,
    apply_comment_body,
    apply_exit_code,
    compare_plans,
    needed_approvals,
    parse_marker,
    plan_comment_body,
    plan_exit_code,
    step_digest,
)
from mpctl.gitops.drift import change_comment, issue_body, previous_keys
from mpctl.gitops.markdown import GITHUB_BODY_LIMIT
from mpctl.plan import Action, Address, ClientStep, FieldChange, Plan
from tests.unit.gitops.plans import PROJECT, create, delete, plan, refusal, update

_MD = MarkdownIt("commonmark").enable(["strikethrough", "table"])
LINKS = Links(
    "0123456789abcdef0123456789abcdef01234567",
    "https://github.com/acme/manifests/actions/runs/42/artifacts/7",
    "https://github.com/acme/manifests/actions/runs/42",
)


def _reviewed(subject: Plan, *, granted: frozenset[str] = frozenset()) -> ReviewedPlan:
    needed = needed_approvals(subject, ApprovalLabels(), env="test", protected=False)
    return ReviewedPlan(subject, needed, granted)


def test_a_plan_with_changes_is_summarised_first_and_marked_with_its_digest() -> None:
    subject = plan(create("billing"), update("ledger", "Old", "New"))
    body = plan_comment_body(PROJECT, "test", _reviewed(subject), LINKS)
    marker = parse_marker(body)
    assert marker is not None
    assert marker.data == {
        "head": LINKS.head_sha,
        "outcome": "changes",
        "steps": step_digest(subject),
    }
    summary, details = body.split("<details>", 1)
    assert "**Plan: 1 to create, 1 to update, 0 to delete, 0 key rotations.**" in summary
    assert "- `+ client/billing` will be created\n- `~ client/ledger` will be updated" in summary
    assert '~   description = "Old" → "New"' in details
    assert "[plan artifact](https://github.com/acme/manifests/actions/runs/42/artifacts/7)" in body
    assert plan_exit_code(_reviewed(subject)) == 2


def test_no_changes_says_so_and_exits_0() -> None:
    outcome = _reviewed(plan())
    body = plan_comment_body(PROJECT, "test", outcome, LINKS)
    assert "**No changes.** Digdir matches the manifests in `test`." in body
    assert "<details>" not in body
    assert plan_exit_code(outcome) == 0


def test_a_delete_without_its_label_is_refused_naming_the_label() -> None:
    held = delete("old", blocked=True)
    outcome = _reviewed(plan(create("a"), held, diagnostics=(refusal(held),)))
    body = plan_comment_body(PROJECT, "test", outcome, LINKS)
    assert "**Apply on merge will refuse this plan:**" in body
    assert "- add the label `mpctl:allow-delete` to approve 1 delete(s): `client/old`" in body
    assert "- `- client/old` will be deleted (needs label mpctl:allow-delete)" in body
    assert "policy.delete-not-allowed" not in body  # the label says it better than the flag
    assert parse_marker(body) is not None
    assert plan_exit_code(outcome) == 1


def test_a_labelled_delete_is_shown_as_approved() -> None:
    outcome = _reviewed(plan(delete("old")), granted=frozenset({"allow_delete"}))
    body = plan_comment_body(PROJECT, "test", outcome, LINKS)
    assert "- approved by the label `mpctl:allow-delete`: 1 delete(s): `client/old`" in body
    assert "refuse" not in body
    assert plan_exit_code(outcome) == 2


def test_a_failed_plan_shows_the_error_the_problems_and_what_to_do() -> None:
    failure = PlanFailure(
        "the manifests have 1 error(s)",
        "run `mpctl validate`",
        ("resources/clients/x.yaml:3: MPL005 unknown field 'scope'",),
    )
    body = plan_comment_body(PROJECT, "test", failure, LINKS)
    marker = parse_marker(body)
    assert marker is not None
    assert marker.data["steps"] == "none"
    assert "**The plan failed:** the manifests have 1 error(s)" in body
    assert "Hint: run `mpctl validate`" in body
    assert "```text\nresources/clients/x.yaml:3: MPL005 unknown field 'scope'\n```" in body
    assert "**What to do:**" in body
    assert plan_exit_code(failure) == 1


def test_remote_values_cannot_break_out_of_the_details() -> None:
    hostile = "```\n</details>\n@octocat <img src=x> #12"
    body = plan_comment_body(PROJECT, "test", _reviewed(plan(update("x", hostile, "fine"))), LINKS)
    rendered = _MD.render(body)
    assert rendered.count("<pre>") == 1
    outside = rendered.split("<pre>")[0] + rendered.split("</pre>")[1]
    assert "octocat" not in outside
    assert "<img" not in outside
    assert outside.count("<details>") == outside.count("</details>") == 1


def _large(count: int) -> Plan:
    steps = tuple(
        ClientStep(
            address=Address.client(f"c{i:05d}"),
            action=Action.UPDATE,
            client_id=f"id{i}",
            changes=(FieldChange(path=("description",), old="o" * 300, new="n" * 300),),
        )
        for i in range(count)
    )
    return plan(*steps)


@pytest.mark.parametrize("budget", [8_000, 30_000, 64_000])
def test_a_large_plan_fits_the_budget_with_a_link_to_the_artifact(budget: int) -> None:
    body = plan_comment_body(PROJECT, "test", _reviewed(_large(400)), LINKS, budget=budget)
    assert len(body) <= min(budget, GITHUB_BODY_LIMIT)
    assert "of 400 steps are not shown" in body
    assert "The whole plan is in the [plan artifact](https://github.com/" in body
    assert body.count("<details>") == body.count("</details>") == 1
    rendered = _MD.render(body)
    assert rendered.count("<pre>") == rendered.count("</pre>") == 1
    assert "- … and 350 more steps (see the details below)" in body


def test_apply_refused_for_a_changed_plan_shows_what_differs() -> None:
    reviewed = plan(create("a"), delete("gone"), update("b", "x", "y"))
    now = plan(create("a"), update("b", "x", "z"), create("new"))
    outcome = PlanChanged(reviewed, now, compare_plans(reviewed, now))
    body = apply_comment_body(PROJECT, "test", outcome, LINKS)
    assert "**Nothing was applied: the plan changed between review and merge.**" in body
    assert "- appeared: `+ client/new` will be created" in body
    assert "- vanished: `- client/gone` will be deleted" in body
    assert "- changed: `~ client/b` will be updated in place (changes differ)" in body
    assert (
        '# reviewed: client/b will be updated in place\n~ client/b\n~   description = "x" → "y"'
        in body
    )
    assert '~   description = "x" → "z"' in body
    assert apply_exit_code(outcome) == 1


def test_apply_refused_for_a_missing_label_says_which_and_to_rerun() -> None:
    (missing,) = needed_approvals(
        plan(delete("old")), ApprovalLabels(), env="test", protected=False
    )
    body = apply_comment_body(PROJECT, "test", NeedsApproval((missing,)), LINKS)
    assert "add the label `mpctl:allow-delete` to approve 1 delete(s): `client/old`" in body
    assert "re-run this job" in body
    assert apply_exit_code(NeedsApproval((missing,))) == 1


def test_applied_lists_failures_first_and_exits_by_outcome() -> None:
    subject = plan(create("a"), create("b"))
    failed = Applied(
        subject,
        (StepResult("client/a", "done"), StepResult("client/b", "failed", "HTTP 400 from Digdir")),
    )
    body = apply_comment_body(PROJECT, "test", failed, LINKS)
    assert "**Apply failed:** 1 done, 1 failed." in body
    assert body.index("✗ failed `client/b`: HTTP 400 from Digdir") < body.index("✓ done `client/a`")
    assert apply_exit_code(failed) == 1
    done = Applied(subject, (StepResult("client/a", "done"), StepResult("client/b", "done")))
    assert "**Applied:** 2 done." in apply_comment_body(PROJECT, "test", done, LINKS)
    assert apply_exit_code(done) == 0
    assert apply_exit_code(Applied(plan())) == 0


_NIGHT = datetime(2026, 12, 3, 3, 17, tzinfo=UTC)


def test_the_drift_issue_keeps_what_drifted_and_comments_only_on_a_change() -> None:
    revoked = TokenFailure(
        "reelle-supplier for 910753614", "MP-251: no delegation", "MP-251", "ask the customer"
    )
    first = DriftReport(plan(update("billing", "Edited by hand", "Billing")))
    body = issue_body(PROJECT, "test", first, since=_NIGHT, checked=_NIGHT, links=LINKS)
    assert previous_keys(body) == ("update client/billing",)
    assert "**Changes a plan would make (1):**" in body
    assert "First seen 2026-12-03 03:17 UTC" in body
    assert change_comment(body, first, checked=_NIGHT, links=LINKS) is None

    second = DriftReport(plan(), (revoked,))
    comment = change_comment(body, second, checked=_NIGHT, links=LINKS)
    assert comment is not None
    assert "- new: `token reelle-supplier for 910753614: MP-251`" in comment
    assert "- gone: `update client/billing`" in comment
    updated = issue_body(PROJECT, "test", second, since=_NIGHT, checked=_NIGHT, links=LINKS)
    assert "`reelle-supplier for 910753614`: MP-251: no delegation Fix: ask the customer" in updated
    assert "mpctl verify -e test" in updated
    assert not DriftReport(plan()).drifted


def test_a_large_drift_issue_fits() -> None:
    body = issue_body(
        PROJECT, "test", DriftReport(_large(600)), since=_NIGHT, checked=_NIGHT, links=LINKS
    )
    assert len(body) <= GITHUB_BODY_LIMIT
    assert previous_keys(body) is None  # too many to keep: the next change comment says less
