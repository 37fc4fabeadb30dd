"""The plan file: a `Plan` as `plan --out` saves it, each shared value written once.

Owns the file's shape (`PlanFile`, whose JSON Schema is the published plan schema) and the
two ways between it and the in-memory `Plan`: `plan_document` (what `Plan.to_json` writes)
and `PlanFile.to_plan` (what `Plan.from_json` returns). At thousands of clients most of a
plan repeats, so the file

* holds each distinct key policy once in `key_policies` and each distinct sink once in
  `sink_specs`, under an id made from its content (the first 12 hex digits of the SHA-256 of
  its compact canonical JSON, so equal plans stay byte-identical); a key step's `key.policy`
  and each client's entry in `sinks` are such ids;
* leaves a client create's `changes` out when they are exactly its body's fields, each set
  (the ownership marker apart from the description, as the planner lists them): loading
  derives them again. Any other create keeps its changes.

In memory nothing changes: a key step holds its `KeyPolicy`, `Plan.sinks` its `SinkSpec`s,
a create its changes. Must not plan, do I/O, or trust a file further than it validates: an
id that names nothing is a validation error.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Self

from pydantic import Field, JsonValue, model_validator

from mpctl.model import ClientRegistration, KeyPolicy, SinkSpec
from mpctl.plan.diff import diff_fields
from mpctl.plan.normalize import MARKER_FIELD
from mpctl.plan.ownership import parse_marker, strip_marker
from mpctl.plan.types import (
    AccessStep,
    Action,
    ClientStep,
    FieldChange,
    KeyChange,
    KeyChangeBase,
    KeyStep,
    KeyStepBase,
    Plan,
    PlanBase,
    ScopeStep,
    Step,
    canonical_json,
)

ID_LENGTH = 12
_ID_PATTERN = rf"^[0-9a-f]{{{ID_LENGTH}}}$"
PolicyId = Annotated[
    str, Field(pattern=_ID_PATTERN, description="An id in the plan's `key_policies`")
]
SinkId = Annotated[str, Field(pattern=_ID_PATTERN, description="An id in the plan's `sink_specs`")]


class KeyChangeEntry(KeyChangeBase):
    """A key step's `key` in the file: its policy by id."""

    policy: PolicyId


class KeyStepEntry(KeyStepBase):
    """A key step in the file."""

    key: KeyChangeEntry


StepEntry = Annotated[
    ClientStep | ScopeStep | AccessStep | KeyStepEntry, Field(discriminator="kind")
]
"""One step in the file: a key step references its policy, the others are as in memory."""


class PlanFile(PlanBase):
    """A saved plan (`format_version` 4): what `plan --out` writes and `apply --plan`, `show`
    and gitops read, and what `plan --format json` prints."""

    key_policies: dict[str, KeyPolicy] = Field(
        default_factory=dict,
        description="Each distinct key policy of the key steps once, by id (the first 12 hex "
        "digits of the SHA-256 of its compact canonical JSON)",
    )
    sink_specs: dict[str, SinkSpec] = Field(
        default_factory=dict, description="Each distinct secret sink once, by id (as policies)"
    )
    sinks: dict[str, SinkId] = Field(
        default_factory=dict,
        description="Every managed client's secret sink, by client name: apply opens these to "
        "observe and to write keys, so it needs no manifests",
    )
    steps: tuple[StepEntry, ...] = Field(default=(), description="In execution order")

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        for index, step in enumerate(self.steps):
            if isinstance(step, KeyStepEntry) and step.key.policy not in self.key_policies:
                raise ValueError(f"steps.{index}.key.policy names no entry of key_policies")
        for client, sink in sorted(self.sinks.items()):
            if sink not in self.sink_specs:
                raise ValueError(f"sinks.{client} names no entry of sink_specs")
        self.check_summary(self.steps)
        return self

    def to_plan(self) -> Plan:
        """The plan in memory: references resolved, a create's omitted changes derived."""
        return Plan(
            **{name: getattr(self, name) for name in PlanBase.model_fields},
            sinks={client: self.sink_specs[sink] for client, sink in self.sinks.items()},
            steps=tuple(self._in_memory(step) for step in self.steps),
        )

    def _in_memory(self, step: ClientStep | ScopeStep | AccessStep | KeyStepEntry) -> Step:
        if isinstance(step, KeyStepEntry):
            fields = {name: getattr(step, name) for name in KeyStepBase.model_fields}
            key = {name: getattr(step.key, name) for name in KeyChangeBase.model_fields}
            policy = self.key_policies[step.key.policy]
            return KeyStep(**fields, key=KeyChange(**key, policy=policy))
        body = _body_without_changes(step)
        if body is not None:
            return step.model_copy(update={"changes": creation_changes(body)})
        return step


def plan_document(plan: Plan) -> dict[str, JsonValue]:
    """`plan` as the JSON value of its `PlanFile`."""
    document: dict[str, Any] = plan.model_dump(mode="json")
    policies: dict[str, JsonValue] = {}
    for step, entry in zip(plan.steps, document["steps"], strict=True):
        if isinstance(step, KeyStep):
            entry["key"]["policy"] = _shared(policies, entry["key"]["policy"])
        elif _derivable(step):
            del entry["changes"]
    specs: dict[str, JsonValue] = {}
    document["sinks"] = {name: _shared(specs, spec) for name, spec in document["sinks"].items()}
    document["key_policies"] = policies
    document["sink_specs"] = specs
    return document


def content_id(value: JsonValue) -> str:
    """The id of a shared value: the first 12 hex digits of SHA-256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:ID_LENGTH]


def creation_changes(body: ClientRegistration) -> tuple[FieldChange, ...]:
    """The changes a client create lists when they are its body's fields: each field that
    has a value set, the ownership marker as its own field apart from the description."""
    fields: dict[str, JsonValue] = body.model_dump(mode="json")
    marker = parse_marker(body.description)
    fields["description"] = strip_marker(body.description)
    fields[MARKER_FIELD] = str(marker) if marker else None
    return diff_fields(None, fields)


def _shared(table: dict[str, JsonValue], value: JsonValue) -> str:
    """Put `value` in `table` under its content id; the id."""
    found = content_id(value)
    if table.setdefault(found, value) != value:  # two values, one id: never seen, refuse
        raise ValueError(f"two different shared values have the id {found}")
    return found


def _derivable(step: Step) -> bool:
    """A client create whose changes loading can derive from its body."""
    return (
        isinstance(step, ClientStep)
        and step.action is Action.CREATE
        and step.body is not None
        and bool(step.changes)
        and creation_changes(step.body) == step.changes
    )


def _body_without_changes(step: ClientStep | ScopeStep | AccessStep) -> ClientRegistration | None:
    """The body of a client create read from a file that left its changes out, else None."""
    if isinstance(step, ClientStep) and step.action is Action.CREATE:
        return None if "changes" in step.model_fields_set else step.body
    return None
