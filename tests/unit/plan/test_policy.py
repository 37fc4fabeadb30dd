"""Deletes and replacements need explicit allows; more so on a protected environment."""

from __future__ import annotations

import pytest

from mpctl.plan.policy import enforce_policy
from mpctl.plan.types import Action, ClientStep, PlanOptions, ScopeStep

from .builders import ENV, PROTECTED_ENV

C, U, R, D = Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE


@pytest.mark.parametrize(
    ("action", "protected", "allows", "code"),
    [
        (C, False, {}, None),
        (U, True, {}, None),
        (D, False, {}, "policy.delete-not-allowed"),
        (D, False, {"allow_delete": True}, None),
        (D, False, {"allow_replace": True}, "policy.delete-not-allowed"),
        (D, True, {"allow_delete": True}, "policy.delete-not-allowed"),
        (D, True, {"allow_delete": True, "allow_protected": True}, None),
        (R, False, {}, "policy.replace-not-allowed"),
        (R, False, {"allow_replace": True}, None),
        (R, False, {"allow_delete": True}, "policy.replace-not-allowed"),
        (R, True, {"allow_replace": True}, "policy.replace-not-allowed"),
        (R, True, {"allow_replace": True, "allow_protected": True}, None),
    ],
)
def test_policy(action: Action, protected: bool, allows: dict[str, bool], code: str | None) -> None:
    planned = ClientStep(address="client/a", action=action, reason="r")
    steps, refusals = enforce_policy(
        [planned],
        options=PlanOptions(**allows),
        environment=PROTECTED_ENV if protected else ENV,
        env_name="prod",
    )
    assert [d.code for d in refusals] == ([code] if code else [])
    assert steps == (planned.model_copy(update={"blocked": code is not None}),)
    if code:
        assert all(d.severity == "error" and d.address == "client/a" for d in refusals)


def test_refusal_names_every_missing_allow() -> None:
    step = ScopeStep(address="scope/a:b", action=D)
    _, (refusal,) = enforce_policy(
        [step], options=PlanOptions(), environment=PROTECTED_ENV, env_name="prod"
    )
    assert "allow_delete (--allow-delete)" in refusal.message
    assert "allow_protected (--allow-protected)" in refusal.message
    assert "protected environment prod" in refusal.message
