"""Supplier mode in the planner: a client for another organisation is created with its
`client_orgno`, converges like any other, and is replaced (never updated) when its organisation
changes, since a client cannot move between organisations."""

from __future__ import annotations

from typing import Any

from mpctl.model import DesiredState, ObservedScope, ObservedState
from mpctl.plan import Action, ClientStep, PlanOptions, make_plan
from mpctl.plan.normalize import client_body

from .builders import (
    NOW,
    ORGNO,
    client,
    client_id,
    converged,
    desired,
    observed_client,
    scope,
)

CUSTOMER = "987654325"
OTHER_CUSTOMER = "312345676"


def _steps(state: DesiredState, observed: ObservedState) -> dict[str, ClientStep]:
    plan = make_plan(
        state, observed, {}, options=PlanOptions(), now=NOW, manifests_fingerprint="sha256:m"
    )
    return {str(s.address): s for s in plan.steps if isinstance(s, ClientStep)}


def _observed(state: DesiredState, name: str, **changes: Any) -> ObservedState:
    remote = observed_client(state.clients[name], state, **changes)
    return ObservedState(clients={client_id(name): remote})


def test_a_customer_client_is_created_with_its_orgno() -> None:
    state = desired([client("own"), client("kunde", client_orgno=CUSTOMER)])
    steps = _steps(state, ObservedState())
    kunde = steps["client/kunde"]
    assert kunde.action is Action.CREATE
    assert kunde.body is not None
    assert kunde.body.wire()["client_orgno"] == CUSTOMER
    assert ("client_orgno",) in [c.path for c in kunde.changes]
    own_body = steps["client/own"].body
    assert own_body is not None
    assert "client_orgno" not in own_body.wire()


def test_a_customer_client_converges() -> None:
    state = desired([client("kunde", client_orgno=CUSTOMER)])
    assert _steps(state, _observed(state, "kunde", client_orgno=CUSTOMER)) == {}


def test_an_update_never_sends_client_orgno() -> None:
    state = desired([client("kunde", client_orgno=CUSTOMER, description="new text")])
    old = observed_client(client("kunde", client_orgno=CUSTOMER), state, client_orgno=CUSTOMER)
    step = _steps(state, ObservedState(clients={client_id("kunde"): old}))["client/kunde"]
    assert step.action is Action.UPDATE
    assert step.body is not None
    assert "client_orgno" not in step.body.for_update().wire()


def test_another_customer_replaces_the_client() -> None:
    state = desired([client("kunde", client_orgno=OTHER_CUSTOMER)])
    step = _steps(state, _observed(state, "kunde", client_orgno=CUSTOMER))["client/kunde"]
    assert step.action is Action.REPLACE
    assert "client_orgno cannot change in place" in step.reason
    [change] = [c for c in step.changes if c.path == ("client_orgno",)]
    assert (change.old, change.new) == (CUSTOMER, OTHER_CUSTOMER)


def test_moving_a_customer_client_home_replaces_it_too() -> None:
    state = desired([client("kunde")])
    step = _steps(state, _observed(state, "kunde", client_orgno=CUSTOMER))["client/kunde"]
    assert step.action is Action.REPLACE
    [change] = [c for c in step.changes if c.path == ("client_orgno",)]
    assert (change.old, change.new) == (CUSTOMER, ORGNO)


def test_a_response_without_client_orgno_is_not_judged() -> None:
    state = desired([client("kunde", client_orgno=CUSTOMER)])
    assert _steps(state, _observed(state, "kunde", client_orgno=None)) == {}


def test_own_clients_plan_as_before() -> None:
    state = desired([client("own")])
    assert _steps(state, converged(state)) == {}
    assert client_body(client("own"), state).client_orgno is None


def _access_diagnostics(state: DesiredState, observed: ObservedState) -> list[tuple[str, str]]:
    plan = make_plan(
        state, observed, {}, options=PlanOptions(), now=NOW, manifests_fingerprint="sha256:m"
    )
    return [
        (str(d.severity), d.message.split(" ")[1])
        for d in plan.diagnostics
        if d.code == "client.scope-no-access"
    ]


def test_a_customer_client_needs_the_customers_access_to_our_scope_not_ours() -> None:
    """Our scope granted to the customer is fine for its client even if not granted to us;
    not granted to the customer is an error, even though we own the scope."""
    granted = desired(
        [client("kunde", client_orgno=CUSTOMER, scopes=("acme:invoices.read",))],
        [scope("acme:invoices.read", consumers=(CUSTOMER,))],
    )
    assert _access_diagnostics(granted, ObservedState()) == []
    not_granted = desired(
        [client("kunde", client_orgno=CUSTOMER, scopes=("acme:invoices.read",))],
        [scope("acme:invoices.read", consumers=(OTHER_CUSTOMER,))],
    )
    assert _access_diagnostics(not_granted, ObservedState()) == [("error", "acme:invoices.read")]


def test_another_providers_scope_for_a_customer_is_a_warning_unless_open_or_delegable() -> None:
    state = desired([client("kunde", client_orgno=CUSTOMER, scopes=("other:data.read",))])
    assert _access_diagnostics(state, ObservedState()) == [("warning", "other:data.read")]
    open_to_all = ObservedScope(
        prefix="other", subscope="data.read", name="other:data.read", accessible_for_all=True
    )
    observed = ObservedState(public_scopes={"other:data.read": open_to_all})
    assert _access_diagnostics(state, observed) == []
