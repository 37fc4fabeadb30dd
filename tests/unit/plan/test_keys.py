"""Rotation decisions: the reliability.md §1 table, the limits, and invariant S3 as a property."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpctl.model import KeyPolicy, KeySlot, ObservedJwk, ObservedJwks, SinkState
from mpctl.plan.keys import KeyInputs, decide_keys, jwk_thumbprint
from mpctl.plan.types import Action, Severity

from .builders import NOW, jwk, jwks, sink, slot

A = Action


@dataclass(frozen=True)
class Case:
    sink: SinkState = field(default_factory=SinkState)
    registered: ObservedJwks = field(default_factory=ObservedJwks)
    policy: KeyPolicy = field(default_factory=KeyPolicy)
    new_client: bool = False
    client_id: str | None = "id-billing"

    def decide(self) -> tuple[list[tuple[str, Action, str | None]], list[str]]:
        decision = decide_keys(
            KeyInputs(
                client="billing",
                policy=self.policy,
                sink=self.sink,
                jwks=self.registered,
                now=NOW,
                client_id=self.client_id,
                new_client=self.new_client,
            )
        )
        steps = [
            (s.address.removeprefix("client/billing/"), s.action, s.key.kid if s.key else None)
            for s in decision.steps
        ]
        return steps, sorted(f"{d.severity.value}:{d.code}" for d in decision.diagnostics)


FRESH = slot("k1", age_days=10, promoted_days_ago=10)
OLD = slot("k1", age_days=100, promoted_days_ago=100)
GRACE_OVER = slot("k1", age_days=10, promoted_days_ago=2)
IN_GRACE = slot("k1", age_days=0.5, promoted_days_ago=0.5)
OLD_IN_GRACE = slot("k1", age_days=100, promoted_days_ago=0.5)
OLD_GRACE_OVER = slot("k1", age_days=100, promoted_days_ago=2)
PREVIOUS = slot("k0", age_days=100)
PENDING = slot("k2", age_days=0)
OTHER_KEY = jwk("k1", modulus_of="someone-else")

TABLE = [
    pytest.param(Case(), [("key", A.CREATE_KEY, None)], [], id="no-key-yet"),
    pytest.param(
        Case(sink(FRESH, pending=PENDING), jwks("k1")),
        [("key", A.REGISTER_KEY, "k2")],
        [],
        id="pending-not-registered",
    ),
    pytest.param(
        Case(sink(FRESH, pending=PENDING), jwks("k1", "k2")),
        [("key", A.PROMOTE_KEY, "k2")],
        [],
        id="pending-registered",
    ),
    pytest.param(
        Case(sink(FRESH, pending=slot("k1")), jwks("k1")), [], [], id="pending-already-current"
    ),
    pytest.param(Case(sink(FRESH), jwks("k1")), [], [], id="converged"),
    pytest.param(
        Case(sink(OLD), jwks("k1")), [("key", A.ROTATE_KEY, None)], [], id="older-than-rotate-after"
    ),
    pytest.param(
        Case(sink(FRESH), jwks(jwk("k1", exp=NOW + timedelta(days=20)))),
        [("key", A.ROTATE_KEY, None)],
        ["warning:key.expiring-soon"],
        id="digdir-exp-within-renew-window",
    ),
    pytest.param(
        Case(sink(FRESH), jwks(OTHER_KEY)),
        [("key", A.ROTATE_KEY, None)],
        [],
        id="registered-key-does-not-match-sink",
    ),
    pytest.param(
        Case(sink(FRESH), jwks()),
        [("key/k1", A.REREGISTER_KEY, "k1")],
        ["warning:key.current-not-registered"],
        id="alarm-current-missing",
    ),
    pytest.param(
        Case(sink(FRESH), jwks(), new_client=True, client_id=None),
        [("key/k1", A.REREGISTER_KEY, "k1")],
        [],
        id="new-client-gets-sink-key",
    ),
    pytest.param(
        Case(sink(OLD), jwks()),
        [("key/k1", A.REREGISTER_KEY, "k1"), ("key", A.ROTATE_KEY, None)],
        ["warning:key.current-not-registered"],
        id="alarm-and-due",
    ),
    pytest.param(
        Case(sink(GRACE_OVER, previous=PREVIOUS), jwks("k1", "k0")),
        [("key/k0", A.RETIRE_KEY, "k0")],
        [],
        id="grace-over",
    ),
    pytest.param(
        Case(sink(IN_GRACE, previous=PREVIOUS), jwks("k1", "k0")),
        [],
        ["note:key.rotation-in-progress"],
        id="grace-not-over",
    ),
    pytest.param(
        Case(sink(OLD_IN_GRACE, previous=PREVIOUS), jwks("k1", "k0")),
        [],
        ["note:key.rotation-in-progress", "note:key.rotation-in-progress"],
        id="due-but-previous-in-grace",
    ),
    pytest.param(
        Case(sink(OLD_GRACE_OVER, previous=PREVIOUS), jwks("k1", "k0")),
        [("key/k0", A.RETIRE_KEY, "k0"), ("key", A.ROTATE_KEY, None)],
        [],
        id="retire-then-rotate",
    ),
    pytest.param(
        Case(sink(IN_GRACE, previous=PREVIOUS, pending=PENDING), jwks("k1", "k0", "k2")),
        [],
        ["note:key.rotation-in-progress", "note:key.rotation-in-progress"],
        id="pending-waits-for-grace",
    ),
    pytest.param(
        # A retire stopped after its JWKS write: the sink must still forget the label, or the
        # next promote is refused forever (found by the crash matrix).
        Case(sink(FRESH, previous=PREVIOUS), jwks("k1")),
        [("key/k0", A.RETIRE_KEY, "k0")],
        [],
        id="previous-already-gone-from-digdir",
    ),
    pytest.param(
        Case(sink(slot("k1"), previous=PREVIOUS), jwks("k1", "k0")),
        [],
        ["note:key.previous-kept"],
        id="promotion-time-unknown",
    ),
    pytest.param(
        Case(sink(FRESH, previous=PREVIOUS), jwks("k0")),
        [("key/k1", A.REREGISTER_KEY, "k1")],
        ["note:key.previous-kept", "warning:key.current-not-registered"],
        id="previous-kept-while-current-missing",
    ),
    pytest.param(
        Case(
            sink(GRACE_OVER, previous=slot("keep")),
            jwks("k1", "keep"),
            KeyPolicy(preserve=("keep",)),
        ),
        [],
        [],
        id="preserved-previous",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1", "stray")),
        [],
        ["warning:key.unknown-kid"],
        id="unknown-kid-is-drift",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1", "x"), KeyPolicy(preserve=("x",))),
        [],
        [],
        id="preserved-kid-is-not-drift",
    ),
    pytest.param(
        Case(
            sink(FRESH),
            jwks("k1", jwk("x", exp=NOW - timedelta(days=1))),
            KeyPolicy(preserve=("x",)),
        ),
        [],
        ["warning:key.expired"],
        id="expired-key",
    ),
    pytest.param(
        Case(sink(FRESH, pending=PENDING), jwks("k1", jwk("k2", modulus_of="y"))),
        [],
        ["error:key.pending-mismatch"],
        id="pending-mismatch",
    ),
    pytest.param(
        Case(sink(OLD), jwks("k1", "a", "b", "c", "d"), KeyPolicy(preserve=("a", "b", "c", "d"))),
        [],
        ["error:key.limit", "error:key.limit"],
        id="five-key-limit",
    ),
    pytest.param(
        Case(sink(FRESH), jwks("k1", "a", "b"), KeyPolicy(preserve=("a", "b", "c"))),
        [],
        ["error:key.limit"],
        id="no-room-to-rotate",
    ),
    pytest.param(
        Case(sink(FRESH, client_id="id-other"), jwks("k1")),
        [],
        ["warning:key.sink-client-mismatch"],
        id="sink-for-another-client",
    ),
]


@pytest.mark.parametrize(("case", "steps", "diagnostics"), TABLE)
def test_rotation_table(
    case: Case, steps: list[tuple[str, Action, str | None]], diagnostics: list[str]
) -> None:
    assert case.decide() == (steps, diagnostics)


def test_the_chain_step_runs_after_retire_and_reregister() -> None:
    decision = decide_keys(
        KeyInputs(
            client="billing",
            policy=KeyPolicy(),
            sink=sink(OLD_GRACE_OVER, PREVIOUS),
            jwks=jwks("k1", "k0"),
            now=NOW,
            client_id="id-billing",
        )
    )
    retire, rotate = decision.steps
    assert rotate.depends_on == ("client/billing", retire.address)
    assert [p.value for p in rotate.key.phases] == ["stage", "register", "test", "promote"]


def test_thumbprint_matches_rfc7638_example() -> None:
    rfc_key = ObservedJwk(
        kty="RSA",
        kid="2011-04-29",
        e="AQAB",
        n="0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQ"
        "R0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFT"
        "WhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    )
    assert jwk_thumbprint(rfc_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert jwk_thumbprint(rfc_key.model_copy(update={"n": None})) is None


# Invariant S3 as a property: whatever the sink labels, JWKS and clock say, a retirement only
# ever names the previous kid, never a current, pending or preserved one, never inside its
# grace, and never while the current key is unregistered; and nothing registers a sixth key.

KIDS = ("k0", "k1", "k2", "k3", "x1", "x2")
_slots = st.builds(
    lambda kid, age, promoted: KeySlot(
        kid=kid,
        thumbprint=jwk_thumbprint(jwk(kid)) or "",
        created_at=NOW - age,
        promoted_at=None if promoted is None else NOW - promoted,
    ),
    st.sampled_from(KIDS),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    st.none() | st.timedeltas(min_value=timedelta(days=-1), max_value=timedelta(days=40)),
)
_sinks = st.builds(
    SinkState, current=st.none() | _slots, previous=st.none() | _slots, pending=st.none() | _slots
)
_registered = st.lists(st.sampled_from(KIDS), unique=True).map(lambda kids: jwks(*kids))
_policies = st.builds(
    KeyPolicy,
    preserve=st.lists(st.sampled_from(KIDS), unique=True, max_size=3).map(tuple),
    grace=st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=29)),
)


@settings(max_examples=300, deadline=None)
@given(sink_state=_sinks, registered=_registered, policy=_policies, new_client=st.booleans())
def test_no_decision_retires_a_live_or_in_grace_key(
    sink_state: SinkState, registered: ObservedJwks, policy: KeyPolicy, new_client: bool
) -> None:
    decision = decide_keys(
        KeyInputs(
            client="c",
            policy=policy,
            sink=sink_state,
            jwks=registered,
            now=NOW,
            new_client=new_client,
        )
    )
    current, pending = sink_state.current, sink_state.pending
    live = {s.kid for s in (current, pending) if s} | set(policy.preserve)
    retired = [s.key.kid for s in decision.steps if s.action is Action.RETIRE_KEY and s.key]
    for kid in retired:
        assert kid not in live
        assert sink_state.previous is not None
        assert kid == sink_state.previous.kid
        assert current is not None
        assert current.promoted_at is not None
        assert current.promoted_at + policy.grace <= NOW
        assert current.kid in registered.kids
    adds = [
        s
        for s in decision.steps
        if s.action in {A.CREATE_KEY, A.ROTATE_KEY, A.REGISTER_KEY, A.REREGISTER_KEY}
    ]
    after = len(registered.kids - set(retired)) + len(adds)
    assert not adds or after <= 5
    errors = [d for d in decision.diagnostics if d.severity is Severity.ERROR]
    assert all(d.code in {"key.limit", "key.pending-mismatch", "key.sink-empty"} for d in errors)
    if current is None and pending is None and registered.kids and not new_client:
        assert not adds  # a lost sink never mints another key on its own
