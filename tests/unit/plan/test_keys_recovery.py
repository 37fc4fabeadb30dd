"""Recovery decisions: a lost sink mints nothing on its own, and explicit revocations with their
refusals (the current key alone, a preserved kid, the last key, a kid nobody holds)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpctl.errors import UserError
from mpctl.model import KeyPolicy, ObservedJwks, SinkState
from mpctl.plan import PlanOptions
from mpctl.plan.keys import KeyDecision, KeyInputs, KeyRequests, decide_keys
from mpctl.plan.keyset import check_key_requests
from mpctl.plan.types import Action, Severity

from . import scenario
from .builders import NOW, jwks, sink, slot
from .test_keys import KIDS, _policies, _registered, _sinks

A = Action
FRESH = slot("k1", age_days=10, promoted_days_ago=10)
IN_GRACE = slot("k1", age_days=0.5, promoted_days_ago=0.5)
PREVIOUS = slot("k0", age_days=100)
PENDING = slot("k2", age_days=0)


@dataclass(frozen=True)
class Case:
    sink: SinkState = field(default_factory=SinkState)
    registered: ObservedJwks = field(default_factory=ObservedJwks)
    requests: KeyRequests = field(default_factory=KeyRequests)
    rotate: bool = False
    policy: KeyPolicy = field(default_factory=KeyPolicy)
    new_client: bool = False

    def decision(self) -> KeyDecision:
        return decide_keys(
            KeyInputs(
                client="billing",
                policy=self.policy,
                sink=self.sink,
                jwks=self.registered,
                now=NOW,
                client_id=None if self.new_client else "id-billing",
                new_client=self.new_client,
                rotate_requested=self.rotate,
                requests=self.requests,
            )
        )

    def decide(self) -> tuple[list[tuple[str, Action, str | None]], list[str]]:
        decision = self.decision()
        steps = [
            (s.address.removeprefix("client/billing/"), s.action, s.key.kid) for s in decision.steps
        ]
        return steps, sorted(f"{d.severity.value}:{d.code}" for d in decision.diagnostics)


def revoke(*kids: str, allow_delete: bool = False) -> KeyRequests:
    return KeyRequests(revoke=frozenset(kids), allow_delete=allow_delete)


TABLE = [
    pytest.param(
        Case(SinkState(), jwks("a", "b")),
        [],
        ["error:key.sink-empty", "warning:key.unknown-kid", "warning:key.unknown-kid"],
        id="lost-sink-makes-no-key",
    ),
    pytest.param(
        Case(SinkState(previous=PREVIOUS), jwks("k0", "a")),
        [],
        ["error:key.sink-empty", "note:key.previous-kept", "warning:key.unknown-kid"],
        id="lost-current-and-pending-makes-no-key",
    ),
    pytest.param(
        Case(SinkState(), jwks("a"), rotate=True),
        [("key", A.CREATE_KEY, None)],
        ["warning:key.unknown-kid"],
        id="lost-sink-rotate-registers-alongside",
    ),
    pytest.param(
        Case(SinkState(), jwks(), new_client=True),
        [("key", A.CREATE_KEY, None)],
        [],
        id="new-client-still-gets-its-key",
    ),
    pytest.param(
        Case(SinkState(), jwks()),
        [("key", A.CREATE_KEY, None)],
        [],
        id="existing-client-with-no-kid-gets-a-key",
    ),
    pytest.param(
        Case(SinkState(), jwks("a", "b"), revoke("a")),
        [("key/a", A.REVOKE_KEY, "a")],
        ["warning:key.sink-empty", "warning:key.unknown-kid"],
        id="lost-sink-revoke-an-orphan",
    ),
    pytest.param(
        Case(SinkState(), jwks("a"), revoke("a")),
        [("key/a", A.REVOKE_KEY, "a")],
        ["error:key.revoke-last", "warning:key.sink-empty"],
        id="revoking-the-last-key-needs-allow-delete",
    ),
    pytest.param(
        Case(SinkState(), jwks("a"), revoke("a", allow_delete=True)),
        [("key/a", A.REVOKE_KEY, "a")],
        ["warning:key.sink-empty"],
        id="revoking-the-last-key-with-allow-delete",
    ),
    pytest.param(
        Case(SinkState(), jwks("a", "b", "c"), revoke("a"), rotate=True),
        [("key/a", A.REVOKE_KEY, "a"), ("key", A.CREATE_KEY, None)],
        ["warning:key.unknown-kid", "warning:key.unknown-kid"],
        id="lost-sink-rotate-and-revoke",
    ),
    pytest.param(
        Case(SinkState(), jwks("a", "b", "c", "d", "e"), revoke("a"), rotate=True),
        [("key/a", A.REVOKE_KEY, "a"), ("key", A.CREATE_KEY, None)],
        [
            "error:key.limit",  # four unknown kids leave no room for a later rotation
            "warning:key.unknown-kid",
            "warning:key.unknown-kid",
            "warning:key.unknown-kid",
            "warning:key.unknown-kid",
        ],
        id="a-revocation-frees-a-slot-before-the-new-key",
    ),
    pytest.param(
        Case(SinkState(), jwks("a", "b", "c", "d", "e"), revoke("a", "b", "c"), rotate=True),
        [
            ("key/a", A.REVOKE_KEY, "a"),
            ("key/b", A.REVOKE_KEY, "b"),
            ("key/c", A.REVOKE_KEY, "c"),
            ("key", A.CREATE_KEY, None),
        ],
        ["warning:key.unknown-kid", "warning:key.unknown-kid"],
        id="revocations-leave-room-for-a-rotation",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1"), revoke("k1")),
        [],
        ["error:key.revoke-refused"],
        id="current-alone-is-refused",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1", "x"), revoke("x"), policy=KeyPolicy(preserve=("x",))),
        [],
        ["error:key.revoke-refused"],
        id="preserved-kid-is-refused",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1"), revoke("k1"), rotate=True),
        [("key", A.ROTATE_KEY, None), ("key/k1", A.REVOKE_KEY, "k1")],
        [],
        id="rotate-and-revoke-the-current",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1"), KeyRequests(revoke_previous=True), rotate=True),
        [("key", A.ROTATE_KEY, None), ("key/k1", A.REVOKE_KEY, "k1")],
        [],
        id="emergency-rotation",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1"), KeyRequests(revoke_previous=True)),
        [],
        [],
        id="revoke-previous-without-rotate-does-nothing",
    ),
    pytest.param(
        Case(
            sink(IN_GRACE, previous=PREVIOUS),
            jwks("k1", "k0"),
            KeyRequests(revoke_previous=True),
            rotate=True,
        ),
        [
            ("key/k0", A.REVOKE_KEY, "k0"),
            ("key", A.ROTATE_KEY, None),
            ("key/k1", A.REVOKE_KEY, "k1"),
        ],
        [],
        id="emergency-rotation-revokes-a-previous-in-grace-first",
    ),
    pytest.param(
        Case(
            sink(IN_GRACE, previous=PREVIOUS),
            jwks("k1", "k0"),
            KeyRequests(revoke=frozenset({"k1"})),
            rotate=True,
        ),
        [],
        [
            "error:key.revoke-refused",
            "error:key.rotation-waits",  # --rotate that cannot start is an error, not a note
            "note:key.rotation-in-progress",
        ],
        id="current-revocation-waits-for-a-previous-in-grace",
    ),
    pytest.param(
        Case(
            sink(IN_GRACE, previous=PREVIOUS),
            jwks("k1", "k0"),
            KeyRequests(revoke=frozenset({"k0"}), revoke_previous=True),
            rotate=True,
        ),
        [
            ("key/k0", A.REVOKE_KEY, "k0"),
            ("key", A.ROTATE_KEY, None),
            ("key/k1", A.REVOKE_KEY, "k1"),
        ],
        [],
        id="emergency-rotation-with-the-previous-revoked-too",
    ),
    pytest.param(
        Case(sink(IN_GRACE, previous=PREVIOUS), jwks("k1", "k0"), revoke("k0")),
        [("key/k0", A.REVOKE_KEY, "k0")],
        [],
        id="previous-inside-its-grace",
    ),
    pytest.param(
        Case(sink(FRESH, pending=PENDING), jwks("k1", "k2"), revoke("k2")),
        [("key/k2", A.REVOKE_KEY, "k2")],
        [],
        id="pending-is-revoked-not-promoted",
    ),
    pytest.param(
        Case(sink(FRESH, pending=PENDING), jwks("k1"), revoke("k2")),
        [("key/k2", A.REVOKE_KEY, "k2")],
        [],
        id="unregistered-pending-only-loses-its-label",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1", "x", "y"), KeyRequests(remove_foreign=frozenset({"billing"}))),
        [("key/x", A.REVOKE_KEY, "x"), ("key/y", A.REVOKE_KEY, "y")],
        [],
        id="remove-foreign-kids-one-step-each",
    ),
    pytest.param(
        Case(
            sink(FRESH),
            jwks("k1", "x", "keep"),
            KeyRequests(remove_foreign=frozenset({"billing"})),
            policy=KeyPolicy(preserve=("keep",)),
        ),
        [("key/x", A.REVOKE_KEY, "x")],
        [],
        id="remove-foreign-kids-spares-preserved",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1", "x"), KeyRequests(remove_foreign=frozenset({"other"}))),
        [],
        ["warning:key.unknown-kid"],
        id="remove-foreign-kids-of-another-client",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1"), revoke("elsewhere")),
        [],
        [],
        id="a-kid-this-client-does-not-hold",
    ),
]


@pytest.mark.parametrize(("case", "steps", "diagnostics"), TABLE)
def test_recovery_table(
    case: Case, steps: list[tuple[str, Action, str | None]], diagnostics: list[str]
) -> None:
    assert case.decide() == (steps, diagnostics)


def test_the_sink_empty_error_names_the_kids_and_the_choices() -> None:
    (error,) = [
        d
        for d in Case(SinkState(), jwks("a", "b")).decision().diagnostics
        if d.code == "key.sink-empty"
    ]
    assert error.severity is Severity.ERROR
    assert error.address == "client/billing/key"
    assert "the sink holds no current key; Digdir holds kids a, b" in error.message
    assert "restore the sink" in error.message
    assert "mpctl apply --rotate billing" in error.message
    assert "mpctl keys revoke billing KID" in error.message


def test_a_replaced_current_is_revoked_only_after_the_rotation() -> None:
    rotate, revoke_step = (
        Case(sink(FRESH), jwks("k1"), KeyRequests(revoke_previous=True), rotate=True)
        .decision()
        .steps
    )
    assert revoke_step.depends_on == ("client/billing", rotate.address)
    assert [p.value for p in revoke_step.key.phases] == ["revoke"]


def test_an_orphan_is_revoked_before_the_new_key_takes_its_slot() -> None:
    revoke_step, create = (
        Case(SinkState(), jwks("a", "b", "c", "d", "e"), revoke("a"), rotate=True).decision().steps
    )
    assert create.depends_on == ("client/billing", revoke_step.address)


HOLDERS = {"billing": frozenset({"k1", "k0"}), "payroll": frozenset({"p1"})}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (PlanOptions(revoke=("nope",)), "--revoke names a kid no client of test has registered"),
        (PlanOptions(revoke_previous=True), "--revoke-previous needs --rotate NAME"),
        (PlanOptions(remove_foreign_kids=("ghost",)), "--remove-foreign-kids names unknown"),
        (PlanOptions(revoke=("p1",), targets=("billing",)), "belongs to payroll"),
    ],
)
def test_requests_that_name_nothing_are_refused(options: PlanOptions, match: str) -> None:
    with pytest.raises(UserError, match=match):
        check_key_requests(options, HOLDERS, "test")


def test_requests_that_name_held_kids_pass() -> None:
    check_key_requests(
        PlanOptions(revoke=("k0", "p1"), rotate=("billing",), revoke_previous=True), HOLDERS, "test"
    )
    check_key_requests(PlanOptions(revoke=("p1",), targets=("client/payroll",)), HOLDERS, "test")


def test_make_plan_refuses_an_unknown_kid_before_planning() -> None:
    with pytest.raises(UserError, match="no client of test has registered: nope"):
        scenario.plan(PlanOptions(revoke=("nope",)))


def test_make_plan_lists_each_foreign_kid_as_its_own_step() -> None:
    plan = scenario.plan(PlanOptions(remove_foreign_kids=("archive",)))
    revokes = [s.address for s in plan.steps if s.action is Action.REVOKE_KEY]
    assert revokes == ["client/archive/key/archive-old", "client/archive/key/stray-kid"]
    assert plan.summary.revoke == 2
    assert not [d for d in plan.diagnostics if d.code == "key.unknown-kid"]


# The guards as a property: whatever the labels, the JWKS and the requests, a revocation never
# names a preserved kid, names the current kid only after a chain step that replaces it, never
# takes the last registered key without --allow-delete unheld, and nothing registers a sixth key.


@settings(max_examples=300, deadline=None)
@given(
    sink_state=_sinks,
    registered=_registered,
    policy=_policies,
    new_client=st.booleans(),
    rotate=st.booleans(),
    asked=st.lists(st.sampled_from(KIDS), unique=True, max_size=3),
    revoke_previous=st.booleans(),
    remove_foreign=st.booleans(),
    allow_delete=st.booleans(),
)
def test_no_revocation_breaks_the_guards(
    *,
    sink_state: SinkState,
    registered: ObservedJwks,
    policy: KeyPolicy,
    new_client: bool,
    rotate: bool,
    asked: list[str],
    revoke_previous: bool,
    remove_foreign: bool,
    allow_delete: bool,
) -> None:
    requests = KeyRequests(
        revoke=frozenset(asked),
        revoke_previous=revoke_previous,
        remove_foreign=frozenset({"c"} if remove_foreign else ()),
        allow_delete=allow_delete,
    )
    decision = decide_keys(
        KeyInputs(
            client="c",
            policy=policy,
            sink=sink_state,
            jwks=registered,
            now=NOW,
            new_client=new_client,
            rotate_requested=rotate,
            requests=requests,
        )
    )
    chain = [s for s in decision.steps if s.address == "client/c/key"]
    revoked = [s for s in decision.steps if s.action is Action.REVOKE_KEY]
    current = sink_state.current.kid if sink_state.current else None
    for step in revoked:
        assert step.key.kid not in policy.preserve
        if step.key.kid == current:
            assert chain
            assert chain[0].address in step.depends_on
        elif chain:
            assert step.address in chain[0].depends_on  # frees its slot before the new key
    early = {s.key.kid for s in revoked if s.key.kid != current}
    retired = {s.key.kid for s in decision.steps if s.action is Action.RETIRE_KEY}
    left = registered.kids - early - retired
    codes = {d.code for d in decision.diagnostics if d.severity is Severity.ERROR}
    if early & registered.kids and not left and not allow_delete:
        assert "key.revoke-last" in codes
    adds = [s for s in chain if s.action in {A.CREATE_KEY, A.ROTATE_KEY, A.REGISTER_KEY}]
    assert not adds or len(left) + 1 <= 5


def test_a_requested_rotation_that_must_wait_for_a_grace_is_an_error() -> None:
    """Found by review: `apply --rotate X` inside the previous key's grace printed a note and
    "No changes." with exit 0, so a script that asked for a rotation believed it happened."""
    case = Case(sink(IN_GRACE, previous=PREVIOUS), jwks("k1", "k0"), rotate=True)
    assert case.decide() == ([], ["error:key.rotation-waits", "note:key.rotation-in-progress"])
    (error,) = [d for d in case.decision().diagnostics if d.code == "key.rotation-waits"]
    assert "--revoke-previous" in error.message
    unrequested = Case(sink(IN_GRACE, previous=PREVIOUS), jwks("k1", "k0"))
    assert unrequested.decide()[1] in ([], ["note:key.rotation-in-progress"])
