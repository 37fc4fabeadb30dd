"""Apply's refusal of a plan made with allow options the operator did not repeat (`check_allowed`).

An edited or carried-over plan file must not grant itself a delete or a replacement: apply
refuses it before anything is observed or written, naming the flags to repeat.
"""

from __future__ import annotations

import pytest

from mpctl.apply import check_allowed
from mpctl.errors import UserError
from mpctl.plan import Plan, PlanOptions, PlanSummary


def plan_made_with(options: PlanOptions) -> Plan:
    return Plan(
        project="313367002/acme-platform",
        env_name="local",
        observed_fingerprint="o",
        manifests_fingerprint="m",
        options=options,
        summary=PlanSummary.of((), (), unchanged=0),
    )


def test_a_plan_made_with_allow_flags_the_operator_did_not_give_is_refused() -> None:
    plan = plan_made_with(PlanOptions(allow_replace=True, allow_delete=True))
    with pytest.raises(UserError) as refused:
        check_allowed(plan, frozenset({"allow_replace"}))
    assert refused.value.message == (
        "the plan was made with --allow-delete; apply it with the same flags; nothing was written"
    )
    assert refused.value.hint == "mpctl apply --plan FILE --allow-delete"

    with pytest.raises(UserError) as both:
        check_allowed(plan, frozenset())
    assert "made with --allow-delete --allow-replace;" in both.value.message  # sorted, all named


def test_a_plan_is_accepted_when_the_operator_gives_the_same_flags_or_more() -> None:
    check_allowed(plan_made_with(PlanOptions(allow_delete=True)), frozenset({"allow_delete"}))
    check_allowed(plan_made_with(PlanOptions()), frozenset({"allow_delete", "allow_replace"}))
