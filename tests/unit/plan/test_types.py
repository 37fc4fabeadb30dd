"""The plan value: wire vocabulary, validation, canonical JSON round trip, schema, exports."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import TypeAdapter, ValidationError

import mpctl.plan
from mpctl.model import KeyPolicy
from mpctl.plan import (
    KEY_PHASES,
    AccessStep,
    Action,
    KeyChange,
    KeyPhase,
    Plan,
    PlanOptions,
    PlanSummary,
    Step,
    plan_json_schema,
)

from . import scenario


def test_action_wire_values_are_stable() -> None:
    assert [a.value for a in Action] == [
        "create",
        "adopt",
        "update",
        "replace",
        "delete",
        "noop",
        "create_key",
        "rotate_key",
        "register_key",
        "promote_key",
        "retire_key",
        "reregister_key",
        "revoke_key",
    ]
    assert {a for a in Action if a.is_key_action} == set(KEY_PHASES)


def test_a_saved_plan_loads_back_equal_and_byte_identical() -> None:
    plan = scenario.plan()
    text = plan.to_json()
    assert Plan.from_json(text) == plan
    assert Plan.from_json(text.encode()).to_json() == text
    assert text.endswith("\n")
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_the_scenario_plan_covers_every_action_but_noop() -> None:
    seen = {s.action for s in scenario.plan(PlanOptions(revoke=("stray-kid",))).steps}
    assert seen == set(Action) - {Action.NOOP}


def test_plan_json_validates_against_the_published_schema() -> None:
    schema = plan_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    document = json.loads(scenario.plan().to_json())
    jsonschema.validate(document, schema)
    document["steps"][0]["action"] = "explode"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_a_plan_whose_summary_disagrees_with_its_steps_is_refused() -> None:
    plan = scenario.plan()
    data = json.loads(plan.to_json())
    data["summary"]["create"] += 1
    with pytest.raises(ValidationError, match="summary does not match"):
        Plan.from_json(json.dumps(data))


def test_unknown_fields_in_a_plan_file_are_refused() -> None:
    data = json.loads(scenario.plan().to_json())
    data["steps"][0]["private_key"] = "x"
    with pytest.raises(ValidationError, match="private_key"):
        Plan.from_json(json.dumps(data))


KEY = KeyChange(client="c", phases=(KeyPhase.RETIRE,), policy=KeyPolicy())
STEP = TypeAdapter(Step)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "key", "address": "client/c/key", "action": "retire_key"},
        {"kind": "client", "address": "client/c", "action": "create", "key": KEY},
        {"kind": "client", "address": "client/c", "action": "retire_key"},
        {"kind": "access", "address": "scope/a:b", "action": "create"},
        {"kind": "access", "address": "scope/a:b/access/987654325", "action": "update"},
        {"kind": "scope", "address": "scope/a:b", "action": "create", "client_id": "x"},
        {"kind": "scope", "address": "not-an-address", "action": "create"},
        {"kind": "volume", "address": "scope/a:b", "action": "create"},
    ],
)
def test_each_step_type_carries_only_its_own_fields(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        STEP.validate_python(fields)


def test_a_step_reads_its_kind_and_parts_from_the_wire() -> None:
    grant = STEP.validate_python(
        {"kind": "access", "address": "scope/a:b/c/access/987654325", "action": "create"}
    )
    assert isinstance(grant, AccessStep)
    assert (grant.scope, grant.consumer_orgno, grant.resource) == (
        "a:b/c",
        "987654325",
        "scope/a:b/c",
    )
    assert STEP.dump_python(grant, mode="json")["address"] == "scope/a:b/c/access/987654325"


def test_summary_counts_replacements_and_key_steps_apart() -> None:
    assert scenario.plan().summary == PlanSummary(
        create=3,
        adopt=1,
        update=1,
        replace=1,
        delete=3,
        key=6,
        blocked=5,
        unchanged=7,
        errors=7,
        warnings=4,
    )


def test_public_api_is_pinned() -> None:
    assert sorted(mpctl.plan.__all__) == [
        "AccessStep",
        "Action",
        "Address",
        "ClientStep",
        "DRIFT_CODES",
        "DependencyCycleError",
        "Diagnostic",
        "FORMAT_VERSION",
        "FieldChange",
        "KEY_PHASES",
        "KeyChange",
        "KeyPhase",
        "KeyStep",
        "Owner",
        "Plan",
        "PlanOptions",
        "PlanSummary",
        "ScopeStep",
        "Severity",
        "Step",
        "StepKind",
        "UnmanagedObject",
        "check_environment",
        "check_identity",
        "check_rederived",
        "classify_clients",
        "classify_scopes",
        "held_resources",
        "make_plan",
        "managed_sinks",
        "observed_fingerprint",
        "parse_marker",
        "plan_json_schema",
        "project_identity",
        "strip_marker",
    ]


def test_a_deeply_nested_plan_file_is_a_validation_error_not_a_recursion_error() -> None:
    with pytest.raises(ValueError, match="recursion limit"):
        Plan.from_json("[" * 100_000 + "]" * 100_000)
