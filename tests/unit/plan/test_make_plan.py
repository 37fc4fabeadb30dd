"""make_plan end to end: convergence, drift, ownership, ordering, policy, determinism."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mpctl.model import KeyPolicy, ObservedAccess, ObservedClient, ObservedScope, ObservedState
from mpctl.plan import (
    Action,
    ClientStep,
    KeyStep,
    Plan,
    PlanOptions,
    ScopeStep,
    make_plan,
    observed_fingerprint,
)

from . import scenario
from .builders import (
    CONSUMER_A,
    CONSUMER_B,
    NOW,
    client,
    client_id,
    converged,
    desired,
    jwks,
    observed_client,
    sink,
    slot,
)
from .builders import scope as make_scope

REPO = Path(__file__).resolve().parents[3]


def plan_of(state: Any, observed: ObservedState, sinks: Any = None, **options: Any) -> Plan:
    return make_plan(
        state,
        observed,
        sinks or {},
        options=PlanOptions(**options),
        now=NOW,
        manifests_fingerprint="m",
    )


def actions(plan: Plan) -> list[tuple[str, str]]:
    return [(s.address, s.action.value) for s in plan.steps]


STATE = desired(
    [client("billing", keys=KeyPolicy())],
    [make_scope("acme:invoices.read", consumers=(CONSUMER_A,))],
)
SINKS = {"billing": sink(slot("k1", promoted_days_ago=5))}
CONVERGED = converged(STATE, jwks={client_id("billing"): jwks("k1")})


def test_a_converged_environment_has_no_changes() -> None:
    plan = plan_of(STATE, CONVERGED, SINKS)
    assert plan.steps == ()
    assert plan.diagnostics == ()
    assert plan.summary.unchanged == 3
    assert not plan.has_changes
    assert plan.applyable


def test_first_plan_creates_everything_in_dependency_order() -> None:
    plan = plan_of(STATE, ObservedState())
    assert actions(plan) == [
        ("scope/acme:invoices.read", "create"),
        ("client/billing", "create"),
        ("client/billing/key", "create_key"),
        ("scope/acme:invoices.read/access/987654325", "create"),
    ]
    assert plan.steps[1].depends_on == ("scope/acme:invoices.read",)
    key = plan.steps[2]
    assert isinstance(key, KeyStep)
    assert key.client_id is None


def _edit_description(observed: ObservedState) -> ObservedState:
    remote = observed.clients[client_id("billing")]
    edited = remote.model_copy(update={"description": "edited [mpctl:billing]"})
    return _with(observed, clients={**observed.clients, remote.client_id: edited})


def _remove_scope(observed: ObservedState) -> ObservedState:
    return _with(observed, scopes={}, access={})


def _add_key_by_hand(observed: ObservedState) -> ObservedState:
    return _with(observed, jwks={client_id("billing"): jwks("k1", "by-hand")})


def _revoke_access(observed: ObservedState) -> ObservedState:
    denied = ObservedAccess(scope="acme:invoices.read", consumer_orgno=CONSUMER_A, state="DENIED")
    return _with(observed, access={"acme:invoices.read": (denied,)})


def _with(observed: ObservedState, **fields: Any) -> ObservedState:
    current = {f: getattr(observed, f) for f in observed.__dataclass_fields__}
    return ObservedState(**{**current, **fields})


@pytest.mark.parametrize(
    ("drift", "steps", "codes"),
    [
        pytest.param(_edit_description, [("client/billing", "update")], [], id="description"),
        pytest.param(
            _remove_scope,
            [
                ("scope/acme:invoices.read", "create"),
                ("scope/acme:invoices.read/access/987654325", "create"),
            ],
            [],
            id="scope-removed",
        ),
        pytest.param(_add_key_by_hand, [], ["key.unknown-kid"], id="key-added-by-hand"),
        pytest.param(
            _revoke_access,
            [("scope/acme:invoices.read/access/987654325", "create")],
            [],
            id="access-revoked",
        ),
    ],
)
def test_drift_is_named_exactly(drift: Any, steps: list[tuple[str, str]], codes: list[str]) -> None:
    plan = plan_of(STATE, drift(CONVERGED), SINKS)
    assert actions(plan) == steps
    assert [d.code for d in plan.diagnostics] == codes


def test_description_drift_shows_the_field_without_marker() -> None:
    (step,) = plan_of(STATE, _edit_description(CONVERGED), SINKS).steps
    assert isinstance(step, ClientStep)
    assert [(c.path, c.old, c.new) for c in step.changes] == [
        (("description",), "edited", "billing integration")
    ]
    assert step.body is not None
    assert step.body.description == "billing integration [mpctl:billing]"
    assert step.client_id == client_id("billing")


def test_unmarked_clients_are_listed_and_never_touched() -> None:
    hand_made = ObservedClient(client_id="id-hand", client_name="Hand", description="portal")
    observed = _with(CONVERGED, clients={**CONVERGED.clients, "id-hand": hand_made})
    plan = plan_of(STATE, observed, SINKS, allow_delete=True)
    assert plan.steps == ()
    assert [(u.kind, u.remote_id, u.name) for u in plan.unmanaged] == [
        ("client", "id-hand", "Hand")
    ]


def test_a_marked_client_no_longer_declared_is_deleted_only_when_allowed() -> None:
    state = desired(scopes=STATE.scopes.values())
    blocked = plan_of(state, CONVERGED)
    assert actions(blocked) == [("client/billing", "delete")]
    assert blocked.steps[0].blocked
    assert blocked.applyable  # the refused delete is held back; the rest would apply
    allowed = plan_of(state, CONVERGED, allow_delete=True)
    assert not allowed.steps[0].blocked
    assert allowed.applyable


def test_ambiguous_markers_block_the_client_and_its_keys() -> None:
    twin = CONVERGED.clients[client_id("billing")].model_copy(update={"client_id": "id-twin"})
    observed = _with(CONVERGED, clients={**CONVERGED.clients, "id-twin": twin})
    plan = plan_of(STATE, observed, SINKS)
    assert plan.steps == ()
    assert [d.code for d in plan.diagnostics] == ["client.ambiguous-marker"]


def test_integration_type_change_is_a_replace_and_keys_move_to_the_new_client() -> None:
    state = desired(
        [client("billing", integration_type="api_klient", keys=KeyPolicy())], STATE.scopes.values()
    )
    plan = plan_of(state, CONVERGED, SINKS, allow_replace=True)
    assert actions(plan) == [
        ("client/billing", "replace"),
        ("client/billing/key/k1", "reregister_key"),
    ]
    replaced, key = plan.steps
    assert isinstance(replaced, ClientStep)
    assert isinstance(key, KeyStep)
    assert replaced.client_id == client_id("billing")
    assert key.client_id is None
    assert plan.diagnostics == ()


def test_an_unreported_integration_type_is_an_update_not_a_replace() -> None:
    remote = CONVERGED.clients[client_id("billing")]
    silent = _with(
        CONVERGED, clients={remote.client_id: remote.model_copy(update={"integration_type": None})}
    )
    (step,) = plan_of(STATE, silent, SINKS).steps
    assert (step.action, step.changes[0].path) == (Action.UPDATE, ("integration_type",))


def test_a_declared_scope_without_marker_is_adopted() -> None:
    remote = CONVERGED.scopes["acme:invoices.read"]
    unmarked = remote.model_copy(update={"long_description": "Portal text"})
    observed = _with(CONVERGED, scopes={remote.name: unmarked})
    (step,) = plan_of(STATE, observed, SINKS).steps
    assert isinstance(step, ScopeStep)
    assert step.action is Action.UPDATE
    assert [c.path for c in step.changes] == [("ownership_marker",)]
    assert step.body is not None
    assert step.body.long_description == "Portal text\n\n[mpctl:acme:invoices.read]"


def test_a_deactivated_declared_scope_is_reactivated() -> None:
    remote = CONVERGED.scopes["acme:invoices.read"]
    observed = _with(CONVERGED, scopes={remote.name: remote.model_copy(update={"active": False})})
    (step,) = plan_of(STATE, observed, SINKS).steps
    assert [(c.path, c.old, c.new) for c in step.changes] == [(("active",), False, True)]


def test_a_scope_delete_waits_for_the_client_that_stops_using_it() -> None:
    kept = make_scope("acme:kept")
    before = desired(
        [client("billing", scopes=("acme:gone", "acme:kept"))], [make_scope("acme:gone"), kept]
    )
    observed = converged(before)
    marked = observed.scopes["acme:gone"]
    after = desired([client("billing", scopes=("acme:kept",))], [kept])
    plan = plan_of(
        after, _with(observed, scopes={**observed.scopes, "acme:gone": marked}), allow_delete=True
    )
    assert actions(plan) == [("client/billing", "update"), ("scope/acme:gone", "delete")]
    assert plan.steps[1].depends_on == ("client/billing",)


def test_consumers_left_out_of_the_manifest_are_not_managed() -> None:
    state = desired([], [make_scope("acme:invoices.read")])
    extra = ObservedAccess(scope="acme:invoices.read", consumer_orgno=CONSUMER_B)
    observed = converged(state, access={"acme:invoices.read": (extra,)})
    assert plan_of(state, observed).steps == ()
    emptied = desired([], [make_scope("acme:invoices.read", consumers=())])
    assert actions(plan_of(emptied, observed, allow_delete=True)) == [
        ("scope/acme:invoices.read/access/312345676", "delete")
    ]


def test_target_limits_the_plan_to_a_resource_and_its_dependencies() -> None:
    plan = plan_of(STATE, ObservedState(), targets=("billing",))
    assert actions(plan) == [
        ("scope/acme:invoices.read", "create"),
        ("client/billing", "create"),
        ("client/billing/key", "create_key"),
    ]
    assert [d.code for d in plan.diagnostics] == ["target.partial"]
    assert plan.options.targets == ("billing",)


def test_now_must_carry_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        make_plan(
            STATE,
            CONVERGED,
            SINKS,
            options=PlanOptions(),
            now=datetime(2026, 1, 1),
            manifests_fingerprint="m",
        )


def test_fingerprint_follows_the_observed_state_and_sinks_not_their_order() -> None:
    base = observed_fingerprint(CONVERGED, SINKS)
    assert base.startswith("sha256:")
    assert observed_fingerprint(_edit_description(CONVERGED), SINKS) != base
    assert observed_fingerprint(CONVERGED, {}) != base
    public = _with(CONVERGED, public_scopes={"x:y": ObservedScope(name="x:y")})
    assert observed_fingerprint(public, SINKS) == base
    reordered = scenario.shuffled(3)
    original = scenario.inputs()
    assert observed_fingerprint(reordered.observed, reordered.sinks) == observed_fingerprint(
        original.observed, original.sinks
    )


def test_the_plan_records_both_fingerprints() -> None:
    plan = plan_of(STATE, CONVERGED, SINKS)
    assert plan.observed_fingerprint == observed_fingerprint(CONVERGED, SINKS)
    assert plan.manifests_fingerprint == "m"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_shuffled_inputs_give_identical_json(seed: int) -> None:
    assert scenario.plan(scenario=scenario.shuffled(seed)).to_json() == scenario.plan().to_json()


_SCRIPT = (
    "import sys\n"
    "from tests.unit.plan import scenario\n"
    "sys.stdout.write(scenario.plan(scenario=scenario.shuffled(int(sys.argv[1]))).to_json())\n"
)


def test_plan_json_is_byte_identical_across_hash_seeds() -> None:
    outputs = []
    for hash_seed, shuffle_seed in (("0", "11"), ("4242", "12")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT, shuffle_seed],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0] == scenario.plan().to_json().encode()


def test_observed_client_builder_matches_what_make_plan_expects() -> None:
    # Guards the builders every other test relies on: a converged observation has no diff.
    state = desired([client("x", access_token_lifetime=600, client_name="X")])
    observed = ObservedState(clients={"id-x": observed_client(state.clients["x"], state)})
    assert plan_of(state, observed).steps == ()
