"""Element-level list changes as `make_plan` puts them on steps: changes, reason, action."""

from __future__ import annotations

from mpctl.model import ObservedState
from mpctl.plan import Action, FieldChange, PlanOptions, make_plan
from mpctl.plan.types import Plan

from .builders import (
    NOW,
    client,
    client_id,
    converged,
    desired,
    observed_client,
)
from .builders import scope as make_scope

STATE = desired(
    [client("billing", scopes=("acme:a", "acme:new"))],
    [make_scope("acme:a"), make_scope("acme:new"), make_scope("acme:old")],
)


def _plan(observed: ObservedState) -> Plan:
    return make_plan(STATE, observed, {}, options=PlanOptions(), now=NOW, manifests_fingerprint="m")


def _drifted(**fields: object) -> ObservedState:
    base = converged(STATE)
    billing = observed_client(STATE.clients["billing"], STATE, **fields)
    return ObservedState(
        clients={**base.clients, client_id("billing"): billing},
        scopes=base.scopes,
        access=base.access,
    )


def test_a_scope_swapped_on_a_client_is_one_removal_and_one_addition() -> None:
    plan = _plan(_drifted(scopes=["acme:a", "acme:old"]))
    (step,) = plan.steps
    assert (str(step.address), step.action) == ("client/billing", Action.UPDATE)
    assert step.changes == (
        FieldChange(path=("scopes",), op="remove", old="acme:old"),
        FieldChange(path=("scopes",), op="add", new="acme:new"),
    )
    assert step.reason == "differs from the manifests in: scopes"


def test_the_reason_names_each_changed_field_once_in_path_order() -> None:
    plan = _plan(_drifted(scopes=["acme:x", "acme:y"], client_name="hand-edited"))
    (step,) = plan.steps
    assert step.reason == "differs from the manifests in: client_name, scopes"
    assert [c.op for c in step.changes] == ["set", "remove", "remove", "add", "add"]
