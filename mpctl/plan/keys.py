"""Pure key-rotation decisions for one client: the reliability.md §1 table as a function.

Owns `decide_keys`: from the key policy, the sink's labels (pending/current/previous), the
observed JWKS and `now` (`KeyInputs`), it returns the key steps apply runs next and the
diagnostics. Rows:

* pending not in the JWKS → `register_key` (register, test, promote);
  pending in the JWKS → `promote_key` (test, then promote).
* no current key → `create_key` (stage, register, test, promote).
* rotation requested (`PlanOptions.rotate`), current older than `rotate_after`, Digdir `exp`
  within `renew_before_expiry`, or the JWK under the current kid not matching the sink's
  thumbprint → `rotate_key` (still never while the previous key is in its grace).
* current kid missing from the JWKS → `reregister_key` (ALARM on an existing client; never
  removes anything).
* previous still registered and its grace over → `retire_key`; grace not over → a note.
  Previous no longer registered (a retire stopped after its JWKS write) and grace over →
  `retire_key` too, which then only clears the sink's label.
* kids registered that are not current/previous/pending and not preserved → drift warning only
  (`mpctl.plan.keyset`).

Safety (invariant S3): only the previous kid is ever retired, and never when it is current,
pending, preserved, inside its grace, or while the current key is not registered. A rotation
does not start while the previous key is in its grace (S6: one rotation in flight), and no
step registers a key past Digdir's limit of five. Must not do I/O or read the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpctl.model import MAX_KEYS_PER_CLIENT, KeySlot, SinkState, format_duration
from mpctl.plan.address import Address
from mpctl.plan.keyset import (
    KeyInputs,
    expires,
    jwk_thumbprint,
    key_set_diagnostics,
    utc,
    when,
)
from mpctl.plan.types import KEY_PHASES, Action, Diagnostic, KeyChange, KeyStep, Severity

__all__ = ["KeyDecision", "KeyInputs", "decide_keys", "jwk_thumbprint"]

_ADDS_A_KEY = frozenset({Action.CREATE_KEY, Action.ROTATE_KEY, Action.REGISTER_KEY})
_IN_PROGRESS = "key.rotation-in-progress"
_KEPT = "key.previous-kept"


@dataclass(frozen=True)
class KeyDecision:
    steps: tuple[KeyStep, ...]
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
    steps = [_step(inputs, i, Address.key(inputs.client, i.kid)) for i in (retire, reregister) if i]
    if chain:
        steps.append(_step(inputs, chain, inputs.address, after=[s.address for s in steps]))
    found = (*retire_notes, *alarm, *chain_notes, *limit, *key_set_diagnostics(inputs))
    return KeyDecision(steps=tuple(steps), diagnostics=found)


def _retire(inputs: KeyInputs) -> _Found:
    previous, current = inputs.sink.previous, inputs.sink.current
    if previous is None or previous.kid in inputs.live_kids:
        return None, ()
    if not inputs.registered(previous):
        return _forget(inputs, previous)
    kept = f"previous key {previous.kid} is kept"
    if current is None or not inputs.registered(current):
        return None, (_note(inputs, _KEPT, f"{kept}: no current key is registered"),)
    grace_end = inputs.grace_end
    if grace_end is None:
        message = f"{kept}: the sink does not record when the current key was promoted"
        return None, (_note(inputs, _KEPT, message),)
    if inputs.now < grace_end:
        message = (
            f"rotation in progress: previous key {previous.kid} stays registered until "
            f"{when(grace_end)} (grace)"
        )
        return None, (_note(inputs, _IN_PROGRESS, message),)
    reason = f"the grace of previous key {previous.kid} ended {when(grace_end)}"
    return _Intent(Action.RETIRE_KEY, previous.kid, reason), ()


def _forget(inputs: KeyInputs, previous: KeySlot) -> _Found:
    """The previous key is gone from Digdir (a retire interrupted after its JWKS write, or a
    hand edit): once its grace is over, retire it in the sink too, so rotations can go on."""
    current, grace_end = inputs.sink.current, inputs.grace_end
    if current is None or not inputs.registered(current):
        return None, ()  # the alarm comes first: re-register the current key
    if grace_end is None or inputs.now < grace_end:
        return None, ()
    reason = f"previous key {previous.kid} is no longer registered; the sink forgets it"
    return _Intent(Action.RETIRE_KEY, previous.kid, reason), ()


def _reregister(inputs: KeyInputs) -> _Found:
    current = inputs.sink.current
    if current is None or inputs.registered(current):
        return None, ()
    if inputs.new_client:
        reason = f"register the sink's current key {current.kid} on the new client"
        return _Intent(Action.REREGISTER_KEY, current.kid, reason), ()
    reason = (
        f"ALARM: current key {current.kid} is not registered at Digdir, so tokens fail "
        "now; register it again (nothing is removed)"
    )
    alarm = inputs.diagnostic(Severity.WARNING, "key.current-not-registered", reason)
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
        message = f"{due}; the rotation waits until previous key {busy} leaves its grace"
        return None, (_note(inputs, _IN_PROGRESS, message),)
    return _Intent(Action.ROTATE_KEY, None, due), ()


def _continue_pending(inputs: KeyInputs, pending: KeySlot, busy: str | None) -> _Found:
    registered = inputs.registered(pending)
    if registered and inputs.mismatch(pending):
        message = (
            f"the key registered as {pending.kid} is not the sink's pending key "
            "(thumbprints differ); it is not promoted"
        )
        return None, (inputs.diagnostic(Severity.ERROR, "key.pending-mismatch", message),)
    if busy is not None:
        message = (
            f"rotation in progress: pending key {pending.kid} waits until previous key "
            f"{busy} leaves its grace"
        )
        return None, (_note(inputs, _IN_PROGRESS, message),)
    if registered:
        reason = f"pending key {pending.kid} is registered; test it, then promote it"
        return _Intent(Action.PROMOTE_KEY, pending.kid, reason), ()
    reason = f"pending key {pending.kid} is not registered yet"
    return _Intent(Action.REGISTER_KEY, pending.kid, reason), ()


def _rotation_due(inputs: KeyInputs, current: KeySlot) -> str | None:
    policy = inputs.policy
    if inputs.rotate_requested:
        return f"rotation of current key {current.kid} requested (--rotate)"
    if inputs.mismatch(current):
        return (
            f"the key registered as {current.kid} is not the sink's current key "
            "(thumbprints differ)"
        )
    age = inputs.now - utc(current.created_at)
    if age >= policy.rotate_after:
        return (
            f"current key {current.kid} is {age.days} days old (rotate after "
            f"{format_duration(policy.rotate_after)})"
        )
    expiry = expires(inputs.jwk(current.kid))
    if expiry is not None and expiry - inputs.now <= policy.renew_before_expiry:
        return (
            f"current key {current.kid} expires {when(expiry)} (renew "
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
    return None, kept_chain, (inputs.diagnostic(Severity.ERROR, "key.limit", message),)


def _step(
    inputs: KeyInputs, intent: _Intent, address: Address, after: list[Address] | None = None
) -> KeyStep:
    scopes, consumer_org = inputs.test
    return KeyStep(
        address=address,
        action=intent.action,
        depends_on=(Address.client(inputs.client), *(after or ())),
        reason=intent.reason,
        client_id=inputs.client_id,
        key=KeyChange(
            client=inputs.client,
            kid=intent.kid,
            phases=KEY_PHASES[intent.action],
            policy=inputs.policy,
            test_scopes=scopes,
            test_consumer_org=consumer_org,
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
    if previous is None or previous.kid == retiring or previous.kid in inputs.live_kids:
        return None
    return previous.kid if inputs.registered(previous) else None


def _note(inputs: KeyInputs, code: str, message: str) -> Diagnostic:
    return inputs.diagnostic(Severity.NOTE, code, message)
