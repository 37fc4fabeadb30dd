"""The plan as data: `Plan`, `Step`, `FieldChange`, `Diagnostic` and their wire vocabulary.

Owns the frozen, serialisable value that `make_plan` returns, `plan --out` saves and
`apply --plan` loads. Field docs say what apply may rely on and what is for people only.
Must not compute anything about Digdir: the planning logic lives in the sibling modules.

Key rotation is modelled as its own step kind (`kind: key`) with one action per entry point
into the rotation protocol (reliability.md §1). `KEY_PHASES` spells out, per action, the
phases apply runs in order; a key step carries them in `key.phases` so reviewers approve the
exact sequence that will run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, JsonValue, model_validator

from mpctl.errors import UserError
from mpctl.model import ClientRegistration, KeyPolicy, ScopeRegistration, SinkSpec, SpecModel
from mpctl.plan.address import Address, AddressField

FORMAT_VERSION: Literal["4"] = "4"
"""Bumped for any change a consumer of the plan file or `--format json` must handle."""


class Action(StrEnum):
    """What a step does. Wire values are stable; glyphs live in `mpctl.render.human`.

    `noop` is never emitted as a step: unchanged objects are counted in `summary.unchanged`.
    """

    CREATE = "create"
    ADOPT = "adopt"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "noop"
    CREATE_KEY = "create_key"
    ROTATE_KEY = "rotate_key"
    REGISTER_KEY = "register_key"
    PROMOTE_KEY = "promote_key"
    RETIRE_KEY = "retire_key"
    REREGISTER_KEY = "reregister_key"
    REVOKE_KEY = "revoke_key"

    @property
    def is_key_action(self) -> bool:
        return self in KEY_PHASES


class StepKind(StrEnum):
    """Which remote object a step changes: a client, a scope, a scope access grant, or keys."""

    CLIENT = "client"
    SCOPE = "scope"
    ACCESS = "access"
    KEY = "key"


class KeyPhase(StrEnum):
    """One phase of the rotation protocol (DESIGN.md, reliability.md §1)."""

    STAGE = "stage"
    REGISTER = "register"
    TEST = "test"
    PROMOTE = "promote"
    RETIRE = "retire"
    REVOKE = "revoke"


_NEW_KEY = (KeyPhase.STAGE, KeyPhase.REGISTER, KeyPhase.TEST, KeyPhase.PROMOTE)
KEY_PHASES: dict[Action, tuple[KeyPhase, ...]] = {
    Action.CREATE_KEY: _NEW_KEY,
    Action.ROTATE_KEY: _NEW_KEY,
    Action.REGISTER_KEY: (KeyPhase.REGISTER, KeyPhase.TEST, KeyPhase.PROMOTE),
    Action.PROMOTE_KEY: (KeyPhase.TEST, KeyPhase.PROMOTE),
    Action.REREGISTER_KEY: (KeyPhase.REGISTER,),
    Action.RETIRE_KEY: (KeyPhase.RETIRE,),
    Action.REVOKE_KEY: (KeyPhase.REVOKE,),
}
"""The phases apply runs, in order, for each key action."""


DRIFT_CODES = frozenset(
    {
        "client.ambiguous-marker",
        "key.current-not-registered",
        "key.pending-mismatch",
        "key.sink-client-mismatch",
        "key.unknown-kid",
    }
)
"""Diagnostics that mean Digdir differs from what mpctl expects, in ways mpctl deliberately
leaves alone (a key added by hand, a duplicated marker): no step, but drift a scheduler must see."""


class Severity(StrEnum):
    """`error` holds back the steps of the resource it names (the whole plan when it names
    none); `warning` and `note` inform only."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class FieldChange(SpecModel):
    """One managed field whose value differs, or one element added to or removed from a
    set-like list field (`scopes`, `grant_types`, ...). `old` is None when absent remotely."""

    path: tuple[str, ...] = Field(description="Field names from the top, e.g. ['scopes']")
    op: Literal["set", "add", "remove"] = Field(
        default="set",
        description="'set': the field goes from `old` to `new` (a whole list on a create); "
        "'add': the list at `path` gains the element `new` (`old` is null); 'remove': it "
        "loses the element `old` (`new` is null)",
    )
    old: JsonValue = None
    new: JsonValue = None
    sensitive: bool = Field(
        default=False, description="Renderers show '(sensitive)' instead of the values"
    )

    @model_validator(mode="after")
    def _element_fits_op(self) -> Self:
        if self.op == "add" and (self.old is not None or self.new is None):
            raise ValueError("an 'add' change carries the added element in `new` only")
        if self.op == "remove" and (self.new is not None or self.old is None):
            raise ValueError("a 'remove' change carries the removed element in `old` only")
        return self


class KeyChangeBase(SpecModel):
    """What a key step carries besides its policy (`KeyChange` in memory, an entry of the
    plan file's step in `mpctl.plan.planfile`)."""

    client: str = Field(description="Client name in the manifests (the sink is keyed by it)")
    kid: str | None = Field(
        default=None,
        description="The existing kid acted on (pending, current or retiring); None when a "
        "new key is staged and its kid is chosen then, per policy.kid_format",
    )
    phases: tuple[KeyPhase, ...] = Field(description="Run in this order")
    test_scopes: tuple[str, ...] = Field(
        default=(), description="The test phase mints a token for these scopes"
    )
    test_consumer_org: str | None = Field(
        default=None,
        description="The test token is minted on behalf of this organisation (a delegation), "
        "when the client has no scope of its own",
    )


class KeyChange(KeyChangeBase):
    """What a key step needs as data. Never private key material: kids and policy only.

    Self-contained: apply runs the key step from this alone (the token test's scopes and
    `consumer_org` included), never from the manifests again.
    """

    policy: KeyPolicy


class _StepFields(SpecModel):
    """What every step has, whatever it changes."""

    address: AddressField = Field(description="Stable identity, e.g. 'client/billing'")
    action: Action
    changes: tuple[FieldChange, ...] = Field(
        default=(),
        description="Sorted by path. A plan file leaves them out of a client create when they "
        "are its body's fields, each set (the marker apart from the description): loading "
        "derives them again",
    )
    depends_on: tuple[AddressField, ...] = Field(default=(), description="Addresses that run first")
    reason: str = Field(default="", description="For people only; apply must never branch on it")
    blocked: bool = Field(
        default=False,
        description="Held back: the plan carries an error diagnostic for this step's resource "
        "(a refused delete, a key limit, ...); apply skips it and the steps that depend on it",
    )

    _ACTIONS: ClassVar[frozenset[Action]] = frozenset()

    @model_validator(mode="after")
    def _action_fits(self) -> Self:
        if self.action not in self._ACTIONS:
            kind = getattr(self, "kind", "?")
            raise ValueError(f"action {self.action} does not fit a {kind} step")
        return self

    @property
    def resource(self) -> Address:
        """The client or scope this step belongs to."""
        return self.address.resource


class ClientStep(_StepFields):
    """Create, adopt, update, replace or delete one client."""

    kind: Literal[StepKind.CLIENT] = StepKind.CLIENT
    client_id: str | None = Field(default=None, description="None while it is being created")
    body: ClientRegistration | None = Field(
        default=None,
        description="Desired wire values of the managed fields. The whole POST body for "
        "create/replace; for update apply overlays it on a fresh GET (PUT replaces whole "
        "objects), so unmanaged fields keep their remote values",
    )

    _ACTIONS: ClassVar[frozenset[Action]] = frozenset(
        {Action.CREATE, Action.ADOPT, Action.UPDATE, Action.REPLACE, Action.DELETE}
    )


class ScopeStep(_StepFields):
    """Create, update (or reactivate) or delete one of the organisation's scopes."""

    kind: Literal[StepKind.SCOPE] = StepKind.SCOPE
    body: ScopeRegistration | None = Field(
        default=None, description="Desired wire values of the managed fields, as for clients"
    )

    _ACTIONS: ClassVar[frozenset[Action]] = frozenset({Action.CREATE, Action.UPDATE, Action.DELETE})

    @property
    def scope(self) -> str:
        return self.address.name


class AccessStep(_StepFields):
    """Grant (create) or revoke (delete) one consumer's access to one scope."""

    kind: Literal[StepKind.ACCESS] = StepKind.ACCESS

    _ACTIONS: ClassVar[frozenset[Action]] = frozenset({Action.CREATE, Action.DELETE})

    @model_validator(mode="after")
    def _names_a_grant(self) -> Self:
        if self.address.consumer_orgno is None:
            raise ValueError("an access step's address is scope/<name>/access/<orgno>")
        return self

    @property
    def scope(self) -> str:
        return self.address.name

    @property
    def consumer_orgno(self) -> str:
        orgno = self.address.consumer_orgno
        assert orgno is not None  # checked by _names_a_grant
        return orgno


class KeyStepBase(_StepFields):
    """A key step without its `key` (`KeyStep` in memory, a plan file's entry in
    `mpctl.plan.planfile`)."""

    kind: Literal[StepKind.KEY] = StepKind.KEY
    client_id: str | None = Field(default=None, description="None while it is being created")

    _ACTIONS: ClassVar[frozenset[Action]] = frozenset(KEY_PHASES)


class KeyStep(KeyStepBase):
    """Enter the rotation protocol for one client's keys; `key.phases` says what runs."""

    key: KeyChange


Step = Annotated[ClientStep | ScopeStep | AccessStep | KeyStep, Field(discriminator="kind")]
"""One change to one remote object; which one is told by `kind`."""


class Diagnostic(SpecModel):
    """A finding about the plan, with a stable code such as 'key.limit'."""

    severity: Severity
    code: str
    message: str
    address: AddressField | None = None


class UnmanagedObject(SpecModel):
    """A remote object mpctl saw but does not manage: listed, never touched."""

    kind: Literal["client", "scope"]
    remote_id: str = Field(description="client_id, or scope name")
    name: str | None = Field(default=None, description="client_name, for people")
    reason: str


class PlanOptions(SpecModel):
    """Choices that change what a plan may contain (recorded in the plan)."""

    targets: tuple[str, ...] = Field(
        default=(), description="Limit to these names/addresses and what they depend on"
    )
    allow_delete: bool = False
    allow_replace: bool = False
    rotate: tuple[str, ...] = Field(
        default=(), description="Clients whose current key rotates now, whatever its age"
    )
    allow_protected: bool = Field(
        default=False,
        description="On an environment marked protected, deletes and replacements also need this",
    )
    revoke: tuple[str, ...] = Field(
        default=(),
        description="Kids removed from Digdir now, even inside a grace period (never the "
        "sink's current kid unless a rotation replaces it in the same plan, never a preserved "
        "kid, never the last key without allow_delete)",
    )
    revoke_previous: bool = Field(
        default=False,
        description="Emergency rotation: the clients in `rotate` revoke their old current key "
        "right after the new one is promoted, and any previous key first, without waiting for "
        "the grace",
    )
    remove_foreign_kids: tuple[str, ...] = Field(
        default=(),
        description="Clients whose registered kids that the sink does not know and "
        "keys.preserve does not name are revoked, each as its own step",
    )

    @property
    def allows(self) -> frozenset[str]:
        """The allow options that are on, by name ('allow_delete', ...)."""
        names = ("allow_delete", "allow_replace", "allow_protected")
        return frozenset(name for name in names if getattr(self, name))


class PlanSummary(SpecModel):
    """Counts for the summary line; derived from steps and diagnostics."""

    create: int = 0
    adopt: int = Field(default=0, description="Existing clients taken over (marker written)")
    update: int = 0
    replace: int = 0
    delete: int = 0
    key: int = Field(default=0, description="Key steps (rotation protocol entries)")
    revoke: int = Field(
        default=0, description="Of the key steps, revocations (`revoke_key`) the operator asked for"
    )
    blocked: int = 0
    unchanged: int = Field(default=0, description="Managed objects that need no change")
    errors: int = 0
    warnings: int = 0

    @classmethod
    def of(
        cls, steps: Iterable[_StepFields], diagnostics: Iterable[Diagnostic], *, unchanged: int
    ) -> PlanSummary:
        counts: dict[str, int] = dict.fromkeys(
            ("create", "adopt", "update", "replace", "delete"), 0
        )
        key = revoke = blocked = 0
        for step in steps:
            key += step.action.is_key_action
            revoke += step.action is Action.REVOKE_KEY
            blocked += step.blocked
            if step.action.value in counts:
                counts[step.action.value] += 1
        severities = [d.severity for d in diagnostics]
        return cls(
            **counts,
            key=key,
            revoke=revoke,
            blocked=blocked,
            unchanged=unchanged,
            errors=severities.count(Severity.ERROR),
            warnings=severities.count(Severity.WARNING),
        )


class PlanBase(SpecModel):
    """What a plan holds besides its steps and sinks: the same in memory (`Plan`) and in the
    plan file (`mpctl.plan.planfile.PlanFile`, which references shared values once)."""

    format_version: Literal["4"] = FORMAT_VERSION
    project: str = Field(
        description="'<orgno>/<project>' (or '<orgno>' without `project:`): apply refuses a "
        "plan made for another project"
    )
    env_name: str
    observed_fingerprint: str = Field(
        description="sha256 of the normalised observed snapshot and sink states; apply "
        "re-fetches and refuses when it differs"
    )
    manifests_fingerprint: str = Field(description="Computed by the caller from the files")
    options: PlanOptions = PlanOptions()
    diagnostics: tuple[Diagnostic, ...] = ()
    unmanaged: tuple[UnmanagedObject, ...] = ()
    summary: PlanSummary

    def check_summary(self, steps: Iterable[_StepFields]) -> None:
        """Refuse a summary that does not count `steps` and the diagnostics."""
        expected = PlanSummary.of(steps, self.diagnostics, unchanged=self.summary.unchanged)
        if expected != self.summary:
            raise ValueError("summary does not match the steps and diagnostics")


class Plan(PlanBase):
    """A frozen plan for one environment: no timestamps, no connections, and never private key
    material or tokens (only kids and policy). Remote free text (old values, client names) is
    kept verbatim; renderers pass everything through `mpctl.render.redact`.

    In memory each key step holds its policy and each client its sink; the plan file
    (`to_json`, `from_json`) holds each distinct policy and sink once (`mpctl.plan.planfile`).
    """

    sinks: dict[str, SinkSpec] = Field(
        default_factory=dict,
        description="Every managed client's secret sink, by client name: apply opens these to "
        "observe and to write keys, so it needs no manifests",
    )
    steps: tuple[Step, ...] = Field(default=(), description="In execution order")

    @model_validator(mode="after")
    def _summary_matches(self) -> Plan:
        self.check_summary(self.steps)
        return self

    @property
    def orgno(self) -> str:
        """The organisation the plan was made for (the first part of `project`)."""
        return self.project.partition("/")[0]

    @property
    def has_changes(self) -> bool:
        return bool(self.steps)

    @property
    def has_drift(self) -> bool:
        """True when a diagnostic reports remote drift that no step changes (`DRIFT_CODES`)."""
        return any(d.code in DRIFT_CODES for d in self.diagnostics)

    @property
    def applyable(self) -> bool:
        """False when an error names no resource: apply must refuse the whole plan.

        Errors that name a resource hold back only that resource's steps (`blocked`).
        """
        return not any(d.severity is Severity.ERROR and d.address is None for d in self.diagnostics)

    def to_json(self) -> str:
        """The plan file: canonical JSON (sorted keys, two-space indent, trailing newline) of
        `mpctl.plan.planfile.PlanFile`."""
        from mpctl.plan.planfile import plan_document  # noqa: PLC0415 - it builds on this module

        return canonical_json(plan_document(self), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        """Parse a saved plan; one of another format version is refused with that reason."""
        from mpctl.plan.planfile import PlanFile  # noqa: PLC0415 - it builds on this module

        version = _format_version(text)
        if version is not None and version != FORMAT_VERSION:
            raise UserError(
                f"the plan has format_version {version}; this mpctl reads version "
                f"{FORMAT_VERSION} only",
                hint="make a new plan with this mpctl (`mpctl plan --out FILE`)",
            )
        return PlanFile.model_validate_json(text).to_plan()


def _format_version(text: str | bytes) -> str | None:
    """The `format_version` a plan file claims, when it is a JSON object that has one."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # pydantic's own parser reports these precisely
        return None
    version = document.get("format_version") if isinstance(document, dict) else None
    return str(version) if isinstance(version, str | int) else None


def canonical_json(value: Any, *, indent: int | None = None) -> str:
    """One spelling for JSON output: sorted keys, UTF-8 kept, a trailing newline when indented."""
    separators = (",", ": ") if indent else (",", ":")
    text = json.dumps(
        value, sort_keys=True, indent=indent, ensure_ascii=False, separators=separators
    )
    return text + "\n" if indent else text


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of a plan file and of `plan --format json` output."""
    from mpctl.plan.planfile import PlanFile  # noqa: PLC0415 - it builds on this module

    schema = PlanFile.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"mpctl plan (format_version {FORMAT_VERSION})"
    return schema
