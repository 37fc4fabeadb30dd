"""The plan file (format_version 4): shared policies and sinks written once, a client create's
changes derived from its body, references checked on load, the in-memory plan unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mpctl.model import FileSink, KeyPolicy, ObservedState
from mpctl.plan import Action, ClientStep, KeyStep, Plan, PlanOptions, make_plan
from mpctl.plan.planfile import content_id, creation_changes

from . import scenario
from .builders import NOW, client, desired, scope


def _new_clients(count: int, **fields: Any) -> Plan:
    state = desired(
        clients=[client(f"c{i}", keys=KeyPolicy(), **fields) for i in range(count)],
        scopes=[scope()],
    )
    return make_plan(
        state, ObservedState(), {}, options=PlanOptions(), now=NOW, manifests_fingerprint="x"
    )


def _document(plan: Plan) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(plan.to_json())
    return document


def test_each_policy_and_sink_is_written_once_and_referenced_by_its_content_id() -> None:
    plan = _new_clients(3)
    document = _document(plan)
    policy = KeyPolicy().model_dump(mode="json")
    spec = FileSink().model_dump(mode="json")
    assert document["key_policies"] == {content_id(policy): policy}
    assert document["sink_specs"] == {content_id(spec): spec}
    assert document["sinks"] == dict.fromkeys(("c0", "c1", "c2"), content_id(spec))
    keys = [s["key"] for s in document["steps"] if s["kind"] == "key"]
    assert [k["policy"] for k in keys] == [content_id(policy)] * 3
    assert len(content_id(policy)) == 12


def test_in_memory_a_loaded_key_step_holds_its_policy_and_the_plan_its_sinks() -> None:
    loaded = Plan.from_json(scenario.plan().to_json())
    preserving = [s for s in loaded.steps if isinstance(s, KeyStep) and s.key.policy.preserve]
    assert preserving
    assert all(s.key.policy == KeyPolicy(preserve=("altinn-legacy",)) for s in preserving)
    assert all(isinstance(spec, FileSink) for spec in loaded.sinks.values())
    assert loaded == scenario.plan()


def test_a_client_create_leaves_its_changes_to_its_body_and_loading_derives_them() -> None:
    plan = _new_clients(1)
    (create,) = [s for s in plan.steps if isinstance(s, ClientStep)]
    assert [c.path for c in create.changes][-3:] == [
        ("ownership_marker",),
        ("scopes",),
        ("token_endpoint_auth_method",),
    ]
    (entry,) = [s for s in _document(plan)["steps"] if s["kind"] == "client"]
    assert "changes" not in entry
    assert create.body is not None
    assert creation_changes(create.body) == create.changes
    loaded = Plan.from_json(plan.to_json())
    assert loaded == plan
    assert loaded.to_json() == plan.to_json()


def test_a_create_whose_changes_are_not_its_body_keeps_them_in_the_file() -> None:
    """The marker split cannot give back a description ending in spaces: the file says it."""
    plan = _new_clients(1, description="trailing  ")
    (create,) = [s for s in plan.steps if isinstance(s, ClientStep)]
    assert create.body is not None
    assert creation_changes(create.body) != create.changes
    (entry,) = [s for s in _document(plan)["steps"] if s["kind"] == "client"]
    assert [c["path"] for c in entry["changes"]][3] == ["description"]
    assert Plan.from_json(plan.to_json()) == plan


def test_a_create_with_changes_written_empty_loads_with_none() -> None:
    """Only an absent `changes` is derived: an edited file that empties them differs."""
    plan = _new_clients(1)
    document = _document(plan)
    (entry,) = [s for s in document["steps"] if s["kind"] == "client"]
    entry["changes"] = []
    (loaded,) = [s for s in Plan.from_json(json.dumps(document)).steps if s.kind == "client"]
    assert loaded.action is Action.CREATE
    assert loaded.changes == ()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["key_policies"].clear(), "key.policy names no entry of key_policies"),
        (lambda d: d["sink_specs"].clear(), "sinks.c0 names no entry of sink_specs"),
        (lambda d: d["sinks"].update(c0={"type": "file"}), "sinks.c0"),
        (lambda d: d["steps"][2]["key"].update(policy="policy"), "should match pattern"),
    ],
    ids=["policy", "sink", "inline-sink", "bad-id"],
)
def test_a_reference_that_names_nothing_is_a_validation_error(edit: Any, message: str) -> None:
    document = _document(_new_clients(1))
    assert document["steps"][2]["kind"] == "key"
    edit(document)
    with pytest.raises(ValidationError, match=message):
        Plan.from_json(json.dumps(document))


def test_a_version_3_plan_is_refused_with_its_version() -> None:
    document = {**_document(_new_clients(1)), "format_version": "3"}
    with pytest.raises(Exception, match="format_version 3; this mpctl reads version 4 only"):
        Plan.from_json(json.dumps(document))
