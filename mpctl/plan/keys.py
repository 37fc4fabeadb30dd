"""Pure key-rotation decisions for one client: the reliability.md §1 table as a function.

Owns `decide_keys`: from the key policy, the sink's labels (pending/current/previous), the
observed JWKS and `now`, it returns the key steps apply runs next and the diagnostics. Rows:

* pending not in the JWKS → `register_key` (register, test, promote);
  pending in the JWKS → `promote_key` (test, then promote).
* no current key → `create_key` (stage, register, test, promote).
* current older than `rotate_after`, Digdir `exp` within `renew_before_expiry`, or the JWK
  under the current kid not matching the sink's thumbprint → `rotate_key`.
* current kid missing from the JWKS → `reregister_key` (ALARM on an existing client; never
  removes anything).
* previous still registered and its grace over → `retire_key`; grace not over → a note.
* kids registered that are not current/previous/pending and not preserved → drift warning only.

Safety (invariant S3): only the previous kid is ever retired, and never when it is current,
pending, preserved, inside its grace, or while the current key is not registered. A rotation
does not start while the previous key is in its grace (S6: one rotation in flight), and no
step registers a key past Digdir's limit of five. Must not do I/O or read the clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mpctl.model.identifiers import format_duration
from mpctl.model.keys import KeySlot, SinkState
from mpctl.model.observed import ObservedJwk, ObservedJwks
from mpctl.model.resources import MAX_KEYS_PER_CLIENT, ROTATION_SLOTS, KeyPolicy
from mpctl.plan.types import KEY_PHASES, Action, Diagnostic, KeyChange, Severity, Step, StepKind

_ADDS_A_KEY = frozenset({Action.CREATE_KEY, Action.ROTATE_KEY, Action.REGISTER_KEY})


@dataclass(frozen=True)
class KeyInputs:
    """Everything one client's key decision reads. `jwks` is empty for a client being created."""

    client: str
    policy: KeyPolicy
    sink: SinkState
    jwks: ObservedJwks
    now: datetime
    client_id: str | None = None
    new_client: bool = False

    @property
    def address(self) -> str:
        return f"client/{self.client}/key"


@dataclass(frozen=True)
class KeyDecision:
    steps: tuple[Step, ...]
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class _Intent:
    action: Action
    kid: str | None
    reason: str


_Found = tuple[_Intent | None, tuple[Diagnostic, ...]]


def decide_keys(inputs: KeyInputs) -> KeyDecision:
    """The key steps to run now for one client, and what to tell people about its keys."""
    retire, retire_notes = _retire(inputs)
    reregister, alarm = _reregister(inputs)
    chain, chain_notes = _chain(inputs, retiring=retire.kid if retire else None)
    reregister, chain, limit = _within_limit(inputs, retire, reregister, chain)
    steps = [_kid_step(inputs, i) for i in (retire, reregister) if i]
    if chain:
        steps.append(_step(inputs, chain, inputs.address, tuple(s.address for s in steps)))
    found = (*retire_notes, *alarm, *chain_notes, *limit, *_drift(inputs), *_expiry(inputs))
    return KeyDecision(steps=tuple(steps), diagnostics=(*found, *_sink_mismatch(inputs)))


def jwk_thumbprint(jwk: ObservedJwk) -> str | None:
    """RFC 7638 SHA-256 thumbprint (base64url) of an RSA JWK, or None without `e`/`n`."""
    if jwk.kty != "RSA" or not jwk.e or not jwk.n:
        return None
    members = json.dumps({"e": jwk.e, "kty": "RSA", "n": jwk.n}, separators=(",", ":"))
    digest = hashlib.sha256(members.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _retire(inputs: KeyInputs) -> _Found:
    previous, current = inputs.sink.previous, inputs.sink.current
    if previous is None or not _registered(inputs, previous) or previous.kid in _live(inputs):
        return None, ()
    if current is None or not _registered(inputs, current):
        return None, (
            _note(
                inputs,
                f"previous key {previous.kid} is kept: no current key is registered",
                code="key.previous-kept",
            ),
        )
    grace_end = _grace_end(inputs)
    if grace_end is None:
        return None, (
            _note(
                inputs,
                f"previous key {previous.kid} is kept: the sink does not "
                "record when the current key was promoted",
                code="key.previous-kept",
            ),
        )
    if inputs.now < grace_end:
        return None, (
            _note(
                inputs,
                f"rotation in progress: previous key {previous.kid} stays "
                f"registered until {_when(grace_end)} (grace)",
            ),
        )
    reason = f"the grace of previous key {previous.kid} ended {_when(grace_end)}"
    return _Intent(Action.RETIRE_KEY, previous.kid, reason), ()


def _reregister(inputs: KeyInputs) -> _Found:
    current = inputs.sink.current
    if current is None or _registered(inputs, current):
        return None, ()
    if inputs.new_client:
        reason = f"register the sink's current key {current.kid} on the new client"
        return _Intent(Action.REREGISTER_KEY, current.kid, reason), ()
    reason = (
        f"ALARM: current key {current.kid} is not registered at Digdir, so tokens fail "
        "now; register it again (nothing is removed)"
    )
    alarm = _diagnostic(inputs, Severity.WARNING, "key.current-not-registered", reason)
    return _Intent(Action.REREGISTER_KEY, current.kid, reason), (alarm,)


def _chain(inputs: KeyInputs, *, retiring: str | None) -> _Found:
    sink = inputs.sink
    busy = _previous_in_grace(inputs, retiring)
    pending = _open_pending(sink)
    if pending is not None:
        return _continue_pending(inputs, pending, busy)
    if sink.current is None:
        return _Intent(Action.CREATE_KEY, None, "the client has no key yet"), ()
    due = _rotation_due(inputs, sink.current)
    if due is None:
        return None, ()
    if busy is not None:
        return None, (
            _note(inputs, f"{due}; the rotation waits until previous key {busy} leaves its grace"),
        )
    return _Intent(Action.ROTATE_KEY, None, due), ()


def _continue_pending(inputs: KeyInputs, pending: KeySlot, busy: str | None) -> _Found:
    if _registered(inputs, pending) and _mismatch(inputs, pending):
        message = (
            f"the key registered as {pending.kid} is not the sink's pending key "
            "(thumbprints differ); it is not promoted"
        )
        return None, (_diagnostic(inputs, Severity.ERROR, "key.pending-mismatch", message),)
    if busy is not None:
        return None, (
            _note(
                inputs,
                f"rotation in progress: pending key {pending.kid} waits "
                f"until previous key {busy} leaves its grace",
            ),
        )
    if _registered(inputs, pending):
        reason = f"pending key {pending.kid} is registered; test it, then promote it"
        return _Intent(Action.PROMOTE_KEY, pending.kid, reason), ()
    reason = f"pending key {pending.kid} is not registered yet"
    return _Intent(Action.REGISTER_KEY, pending.kid, reason), ()


def _rotation_due(inputs: KeyInputs, current: KeySlot) -> str | None:
    policy, now = inputs.policy, inputs.now
    if _mismatch(inputs, current):
        return (
            f"the key registered as {current.kid} is not the sink's current key "
            "(thumbprints differ)"
        )
    age = now - _utc(current.created_at)
    if age >= policy.rotate_after:
        return (
            f"current key {current.kid} is {age.days} days old (rotate after "
            f"{format_duration(policy.rotate_after)})"
        )
    expires = _expires(_jwk(inputs, current.kid))
    if expires is not None and expires - now <= policy.renew_before_expiry:
        return (
            f"current key {current.kid} expires {_when(expires)} (renew "
            f"{format_duration(policy.renew_before_expiry)} before expiry)"
        )
    return None


def _within_limit(
    inputs: KeyInputs, retire: _Intent | None, reregister: _Intent | None, chain: _Intent | None
) -> tuple[_Intent | None, _Intent | None, tuple[Diagnostic, ...]]:
    """Drop the steps that add a key when the JWKS would exceed Digdir's five keys."""
    after = {kid for kid in inputs.jwks.kids if retire is None or kid != retire.kid}
    if reregister and reregister.kid:
        after.add(reregister.kid)
    if chain and chain.action in _ADDS_A_KEY:
        after.add(chain.kid or "(new key)")
    if len(after) <= MAX_KEYS_PER_CLIENT:
        return reregister, chain, ()
    message = (
        f"registering would give {len(after)} keys; Digdir allows "
        f"{MAX_KEYS_PER_CLIENT}, so no key is registered"
    )
    kept_chain = chain if chain and chain.action not in _ADDS_A_KEY else None
    return None, kept_chain, (_diagnostic(inputs, Severity.ERROR, "key.limit", message),)


def _drift(inputs: KeyInputs) -> tuple[Diagnostic, ...]:
    found = sorted(_foreign(inputs))
    drift = tuple(
        _diagnostic(
            inputs,
            Severity.WARNING,
            "key.unknown-kid",
            f"kid {kid} is registered but is neither current, previous nor pending "
            "in the sink, nor in keys.preserve; it is left alone",
        )
        for kid in found
    )
    others = set(found) | set(inputs.policy.preserve)
    if ROTATION_SLOTS + len(others) <= MAX_KEYS_PER_CLIENT:
        return drift
    message = (
        f"{len(others)} preserved or unknown keys leave no room to rotate: current, "
        f"previous and pending need {ROTATION_SLOTS} of Digdir's {MAX_KEYS_PER_CLIENT}"
    )
    return (*drift, _diagnostic(inputs, Severity.ERROR, "key.limit", message))


def _expiry(inputs: KeyInputs) -> tuple[Diagnostic, ...]:
    found: list[Diagnostic] = []
    for jwk in sorted(inputs.jwks.keys, key=lambda k: k.kid):
        expires = _expires(jwk)
        if expires is None or expires - inputs.now > inputs.policy.renew_before_expiry:
            continue
        code, verb = (
            ("key.expired", "expired")
            if expires <= inputs.now
            else ("key.expiring-soon", "expires")
        )
        message = f"key {jwk.kid} {verb} {_when(expires)}"
        found.append(_diagnostic(inputs, Severity.WARNING, code, message))
    return tuple(found)


def _sink_mismatch(inputs: KeyInputs) -> tuple[Diagnostic, ...]:
    recorded = inputs.sink.client_id
    if recorded is None or inputs.client_id is None or recorded == inputs.client_id:
        return ()
    message = f"the sink holds keys for client_id {recorded}, but the client is {inputs.client_id}"
    return (_diagnostic(inputs, Severity.WARNING, "key.sink-client-mismatch", message),)


def _kid_step(inputs: KeyInputs, intent: _Intent) -> Step:
    return _step(inputs, intent, f"{inputs.address}/{intent.kid}", ())


def _step(inputs: KeyInputs, intent: _Intent, address: str, after: tuple[str, ...]) -> Step:
    return Step(
        address=address,
        kind=StepKind.KEY,
        action=intent.action,
        depends_on=(f"client/{inputs.client}", *after),
        reason=intent.reason,
        remote_id=inputs.client_id,
        key=KeyChange(
            client=inputs.client,
            kid=intent.kid,
            phases=KEY_PHASES[intent.action],
            policy=inputs.policy,
        ),
    )


def _open_pending(sink: SinkState) -> KeySlot | None:
    """The pending slot, unless it already is the current key (a finished rotation)."""
    if sink.pending is None or (sink.current and sink.pending.kid == sink.current.kid):
        return None
    return sink.pending


def _previous_in_grace(inputs: KeyInputs, retiring: str | None) -> str | None:
    """The previous kid when it still holds a JWKS slot this run does not free, else None."""
    previous = inputs.sink.previous
    if previous is None or previous.kid == retiring or previous.kid in _live(inputs):
        return None
    return previous.kid if _registered(inputs, previous) else None


def _live(inputs: KeyInputs) -> frozenset[str]:
    """Kids that may never be removed: current, pending and preserved."""
    slots = (inputs.sink.current, inputs.sink.pending)
    return frozenset(s.kid for s in slots if s) | frozenset(inputs.policy.preserve)


def _foreign(inputs: KeyInputs) -> frozenset[str]:
    return inputs.jwks.kids - inputs.sink.kids - frozenset(inputs.policy.preserve)


def _registered(inputs: KeyInputs, slot: KeySlot) -> bool:
    return slot.kid in inputs.jwks.kids


def _mismatch(inputs: KeyInputs, slot: KeySlot) -> bool:
    jwk = _jwk(inputs, slot.kid)
    thumbprint = jwk_thumbprint(jwk) if jwk else None
    return thumbprint is not None and thumbprint != slot.thumbprint


def _jwk(inputs: KeyInputs, kid: str) -> ObservedJwk | None:
    return next((k for k in inputs.jwks.keys if k.kid == kid), None)


def _grace_end(inputs: KeyInputs) -> datetime | None:
    current = inputs.sink.current
    if current is None or current.promoted_at is None:
        return None
    return _utc(current.promoted_at) + inputs.policy.grace


def _expires(jwk: ObservedJwk | None) -> datetime | None:
    if jwk is None or jwk.exp is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=jwk.exp)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _when(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _note(inputs: KeyInputs, message: str, *, code: str = "key.rotation-in-progress") -> Diagnostic:
    return _diagnostic(inputs, Severity.NOTE, code, message)


def _diagnostic(inputs: KeyInputs, severity: Severity, code: str, message: str) -> Diagnostic:
    return Diagnostic(severity=severity, code=code, message=message, address=inputs.address)
