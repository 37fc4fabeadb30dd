"""The plan value: wire vocabulary, validation, canonical JSON round trip, schema, exports."""

from __future__ import annotations

import json

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

import mpctl.plan
from mpctl.model import KeyPolicy
from mpctl.plan import (
    KEY_PHASES,
    Action,
    KeyChange,
    KeyPhase,
    Plan,
    PlanSummary,
    Step,
    StepKind,
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
    seen = {s.action for s in scenario.plan().steps}
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
        Plan.model_validate(data)


def test_unknown_fields_in_a_plan_file_are_refused() -> None:
    data = json.loads(scenario.plan().to_json())
    data["steps"][0]["private_key"] = "x"
    with pytest.raises(ValidationError):
        Plan.model_validate(data)


KEY = KeyChange(client="c", phases=(KeyPhase.RETIRE,), policy=KeyPolicy())


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": StepKind.KEY, "action": Action.RETIRE_KEY},
        {"kind": StepKind.CLIENT, "action": Action.CREATE, "key": KEY},
        {"kind": StepKind.CLIENT, "action": Action.RETIRE_KEY},
        {"kind": StepKind.ACCESS, "action": Action.CREATE},
        {"kind": StepKind.SCOPE, "action": Action.CREATE, "consumer_orgno": "987654325"},
    ],
)
def test_steps_must_carry_the_payload_of_their_kind(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Step(address="x", **fields)


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
        "Action",
        "DRIFT_CODES",
        "DependencyCycleError",
        "Diagnostic",
        "FORMAT_VERSION",
        "FieldChange",
        "KEY_PHASES",
        "KeyChange",
        "KeyPhase",
        "Plan",
        "PlanOptions",
        "PlanSummary",
        "Severity",
        "Step",
        "StepKind",
        "UnmanagedObject",
        "error_resource",
        "make_plan",
        "observed_fingerprint",
        "plan_json_schema",
        "project_identity",
        "resource_address",
    ]


def test_a_deeply_nested_plan_file_is_a_validation_error_not_a_recursion_error() -> None:
    with pytest.raises(ValueError, match="recursion limit"):
        Plan.from_json("[" * 100_000 + "]" * 100_000)
