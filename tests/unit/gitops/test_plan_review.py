"""The reviewed plan against the plan made again on merge, and the approvals a plan needs."""

from __future__ import annotations

from mpctl.gitops import ApprovalLabels, compare_plans, needed_approvals, step_digest
from mpctl.gitops.approvals import missing_approvals
from tests.unit.gitops.plans import create, delete, plan, refusal, update


def test_the_same_work_matches_though_fingerprints_reasons_and_holds_differ() -> None:
    held = delete("old", blocked=True)
    reviewed = plan(create("a"), update("b", "x", "y", reason="grace ends 1 May"), held,
                    diagnostics=(refusal(held),))  # fmt: skip
    merged = plan(create("a"), update("b", "x", "y", reason="grace ends 2 May"), delete("old"),
                  observed="o2", manifests="m2")  # fmt: skip
    assert compare_plans(reviewed, merged).matches
    assert step_digest(reviewed) == step_digest(merged)


def test_steps_that_appeared_vanished_or_changed_are_named() -> None:
    reviewed = plan(create("a"), update("b", "x", "y"), delete("gone"))
    merged = plan(create("a", "acme:invoices.write"), update("b", "x", "y"), create("new"))
    difference = compare_plans(reviewed, merged)
    assert not difference.matches
    assert [str(s.address) for s in difference.appeared] == ["client/new"]
    assert [str(s.address) for s in difference.vanished] == ["client/gone"]
    assert [(str(c.address), c.fields) for c in difference.changed] == [("client/a", ("changes",))]
    assert step_digest(reviewed) != step_digest(merged)


def test_a_plan_of_another_environment_never_matches() -> None:
    difference = compare_plans(plan(create("a")), plan(create("a"), env="prod"))
    assert not difference.matches
    assert difference.identity is not None
    assert step_digest(plan(create("a"))) != step_digest(plan(create("a"), env="prod"))


def test_labels_grant_allows_per_environment() -> None:
    labels = ApprovalLabels(delete="mpctl:allow-delete-{env}")
    assert labels.granted(["mpctl:allow-delete-prod", "bug"], "prod") == {"allow_delete"}
    assert labels.granted(["mpctl:allow-delete-prod"], "test") == frozenset()


def test_a_delete_needs_its_label_and_on_a_protected_environment_two() -> None:
    changes = plan(create("a"), delete("old"))
    labels = ApprovalLabels()
    (needed,) = needed_approvals(changes, labels, env="test", protected=False)
    assert (needed.label, needed.addresses, needed.noun) == (
        "mpctl:allow-delete",
        ("client/old",),
        "delete",
    )
    protected = needed_approvals(changes, labels, env="prod", protected=True)
    assert [a.label for a in protected] == ["mpctl:allow-delete", "mpctl:allow-protected"]
    assert [a.label for a in missing_approvals(protected, frozenset({"allow_delete"}))] == [
        "mpctl:allow-protected"
    ]
    assert needed_approvals(plan(create("a")), labels, env="prod", protected=True) == ()
