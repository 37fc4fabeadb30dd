"""Pure key-rotation decisions for one client: the reliability.md §1 table as a function.

Owns `decide_keys`: from the key policy, the sink's labels (pending/current/previous), the
observed JWKS and `now` (`KeyInputs`), it returns the key steps apply runs next and the
diagnostics. Rows:

* pending not in the JWKS → `register_key` (register, test, promote);
  pending in the JWKS → `promote_key` (test, then promote).
* no current key on a new client, or on one with no registered kid → `create_key` (stage,
  register, test, promote).
* no current and no pending key in the sink while Digdir holds kids (a lost, emptied or fresh
  CI sink) → no step and the error `key.sink-empty` naming the kids and the choices (a warning
  when the operator revokes kids of this client in the same plan); with `--rotate` →
  `create_key` (a new key alongside them).
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
* revocation asked for (`--revoke KID`, `--rotate NAME --revoke-previous`,
  `--remove-foreign-kids NAME`) → one `revoke_key` per kid, now, grace or not. A kid that is
  not the current key runs before the chain step (it frees a slot); the current kid only with
  a chain step that replaces it, and after it. Refused (error `key.revoke-refused`, no step):
  a preserved kid, the current kid with no replacing rotation. Removing the last registered
  key needs `--allow-delete` (error `key.revoke-last`, the step is held back).

Safety (invariant S3): only the previous kid is ever retired, and never when it is current,
pending, preserved, inside its grace, or while the current key is not registered; only an
explicit request revokes, and never the current key without its replacement first (S1). A rotation
does not start while the previous key is in its grace (S6: one rotation in flight), and no
step registers a key past Digdir's limit of five. Must not do I/O or read the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpctl.model import MAX_KEYS_PER_CLIENT, KeySlot, SinkState, format_duration
from mpctl.plan.address import Address
from mpctl.plan.keyset import (
    KeyInputs,
    KeyRequests,
    expires,
    jwk_thumbprint,
    key_set_diagnostics,
    utc,
    when,
)
from mpctl.plan.types import KEY_PHASES, Action, Diagnostic, KeyChange, KeyStep, Severity

__all__ = ["KeyDecision", "KeyInputs", "KeyRequests", "decide_keys", "jwk_thumbprint"]

_ADDS_A_KEY = frozenset({Action.CREATE_KEY, Action.ROTATE_KEY, Action.REGISTER_KEY})
_IN_PROGRESS = "key.rotation-in-progress"
_KEPT = "key.previous-kept"
_REFUSED = "key.revoke-refused"


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
    revoking, refused = _revocable(inputs)
    retire, retire_notes = _retire(inputs) if _previous_kid(inputs) not in revoking else (None, ())
    reregister, alarm = _reregister(inputs, revoking)
    early = revoking - _current_kid(inputs)
    chain, chain_notes = _chain(inputs, retiring=_freed(retire, early), revoking=revoking)
    late, late_refused = _current_revocation(inputs, revoking, chain)
    reregister, chain, limit = _within_limit(inputs, retire, reregister, chain, early)
    if chain is None:
        late = frozenset()  # a chain dropped by the limit replaces nothing: keep the current
    steps = [_step(inputs, i, Address.key(inputs.client, i.kid)) for i in (retire, reregister) if i]
    steps += _revoke_steps(inputs, early, after=[s.address for s in steps])
    if chain:
        steps.append(_step(inputs, chain, inputs.address, after=[s.address for s in steps]))
        steps += _revoke_steps(inputs, late, after=[inputs.address])
    last = _last_key(inputs, retire, early, adds=chain is not None)
    found = (
        *refused,
        *late_refused,
        *retire_notes,
        *alarm,
        *chain_notes,
        *limit,
        *last,
        *key_set_diagnostics(inputs),
    )
    return KeyDecision(steps=tuple(steps), diagnostics=found)


def _revocable(inputs: KeyInputs) -> tuple[frozenset[str], tuple[Diagnostic, ...]]:
    """The requested revocations that pass the guards every kid needs, and the refusals."""
    preserved = frozenset(inputs.policy.preserve) & inputs.revoke_requested
    refused = tuple(
        inputs.diagnostic(
            Severity.ERROR,
            _REFUSED,
            f"kid {kid} is in keys.preserve and is never revoked; take it out of "
            "keys.preserve in the manifests first if it really must go",
        )
        for kid in sorted(preserved)
    )
    return inputs.revoke_requested - preserved, refused


def _current_revocation(
    inputs: KeyInputs, revoking: frozenset[str], chain: _Intent | None
) -> tuple[frozenset[str], tuple[Diagnostic, ...]]:
    """The current kid may be revoked only after a chain step that replaces it (S1)."""
    current = _current_kid(inputs) & revoking
    if not current or chain is not None:
        return current, ()
    (kid,) = current
    message = (
        f"kid {kid} is the sink's current key: revoking it alone would break the workload's "
        f"tokens; replace it in the same apply with `mpctl apply --rotate {inputs.client} "
        f"--revoke-previous` (a rotation first needs any previous key in its grace revoked "
        "or retired)"
    )
    return frozenset(), (inputs.diagnostic(Severity.ERROR, _REFUSED, message),)


def _last_key(
    inputs: KeyInputs, retire: _Intent | None, early: frozenset[str], *, adds: bool
) -> tuple[Diagnostic, ...]:
    """Removing every registered key (before a new one is in) needs `--allow-delete` (S4)."""
    registered_early = early & inputs.registered_kids
    if not registered_early or inputs.requests.allow_delete:
        return ()
    left = (
        inputs.registered_kids
        - registered_early
        - ({retire.kid} if retire and retire.kid else set())
    )
    if left:
        return ()
    then = "; a new key is registered only after that" if adds else ""
    message = (
        f"revoking {', '.join(sorted(registered_early))} leaves {inputs.client} with no "
        f"registered key, so no token can be minted{then}; pass --allow-delete if that is "
        f"intended, or first register a new key with `mpctl apply --rotate {inputs.client}`"
    )
    return (inputs.diagnostic(Severity.ERROR, "key.revoke-last", message),)


def _revoke_steps(inputs: KeyInputs, kids: frozenset[str], after: list[Address]) -> list[KeyStep]:
    return [
        _step(inputs, _Intent(Action.REVOKE_KEY, kid, _revoke_reason(inputs, kid)), address, after)
        for kid in sorted(kids)
        for address in (Address.key(inputs.client, kid),)
    ]


def _revoke_reason(inputs: KeyInputs, kid: str) -> str:
    sink = inputs.sink
    if sink.current is not None and kid == sink.current.kid:
        return f"revoke the replaced key {kid} now, without waiting for the grace (requested)"
    if kid in inputs.foreign_kids:
        return f"revoke kid {kid}, which the sink does not know (requested)"
    label = "previous" if sink.previous and sink.previous.kid == kid else "pending"
    return f"revoke the sink's {label} key {kid} now, grace or not (requested)"


def _previous_kid(inputs: KeyInputs) -> str | None:
    return inputs.sink.previous.kid if inputs.sink.previous else None


def _current_kid(inputs: KeyInputs) -> frozenset[str]:
    return frozenset({inputs.sink.current.kid}) if inputs.sink.current else frozenset()


def _freed(retire: _Intent | None, early: frozenset[str]) -> frozenset[str]:
    """Kids this run removes before the chain step."""
    return early | ({retire.kid} if retire and retire.kid else frozenset())


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


def _reregister(inputs: KeyInputs, revoking: frozenset[str]) -> _Found:
    current = inputs.sink.current
    if current is None or inputs.registered(current) or current.kid in revoking:
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


def _chain(inputs: KeyInputs, *, retiring: frozenset[str], revoking: frozenset[str]) -> _Found:
    sink = inputs.sink
    busy = _previous_in_grace(inputs, retiring)
    pending = _open_pending(sink)
    if pending is not None and pending.kid not in revoking:
        return _continue_pending(inputs, pending, busy)
    if sink.current is None:
        return _no_current(inputs, revoking)
    due = _rotation_due(inputs, sink.current)
    if due is None:
        return None, ()
    if busy is not None and inputs.rotate_requested:
        return None, (_rotation_refused(inputs, busy),)
    if busy is not None:
        message = f"{due}; the rotation waits until previous key {busy} leaves its grace"
        return None, (_note(inputs, _IN_PROGRESS, message),)
    return _Intent(Action.ROTATE_KEY, None, due), ()


def _rotation_refused(inputs: KeyInputs, busy: str) -> Diagnostic:
    """`--rotate` asked for a rotation that cannot start: an error (exit 1), never a note a
    script would read as done."""
    message = (
        f"--rotate {inputs.client}: a new key cannot start while previous key {busy} is in its "
        f"grace (a client holds one previous key at a time); wait for the grace to end, or add "
        f"--revoke-previous to revoke {busy} now (a compromised key)"
    )
    return inputs.diagnostic(Severity.ERROR, "key.rotation-waits", message)


def _no_current(inputs: KeyInputs, revoking: frozenset[str]) -> _Found:
    """A new client, or one with nothing registered, gets its first key; an existing client
    whose sink lost its keys while Digdir holds kids gets one only on `--rotate`."""
    held = sorted(inputs.registered_kids)
    if inputs.new_client or not held:
        return _Intent(Action.CREATE_KEY, None, "the client has no key yet"), ()
    kids = ", ".join(held)
    if inputs.rotate_requested:
        reason = f"--rotate: a new key is registered alongside kids {kids} (the sink holds none)"
        return _Intent(Action.CREATE_KEY, None, reason), ()
    name = inputs.client
    message = (
        f"the sink holds no current key; Digdir holds kids {kids}, so no new key is made "
        f"(a fresh or lost sink would otherwise mint one on every run). Choose: restore the "
        f"sink and plan again; or `mpctl apply --rotate {name}` to register a new key "
        f"alongside; or `mpctl keys revoke {name} KID` for kids that are orphaned or "
        "compromised"
    )
    severity = Severity.WARNING if revoking else Severity.ERROR
    return None, (inputs.diagnostic(severity, "key.sink-empty", message),)


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
    inputs: KeyInputs,
    retire: _Intent | None,
    reregister: _Intent | None,
    chain: _Intent | None,
    early: frozenset[str],
) -> tuple[_Intent | None, _Intent | None, tuple[Diagnostic, ...]]:
    """Drop the steps that add a key when the JWKS would exceed Digdir's five keys (kids
    retired or revoked before the chain step free their slots)."""
    after = set(inputs.registered_kids - _freed(retire, early))
    if reregister and reregister.kid:
        after.add(reregister.kid)
    if chain and chain.action in _ADDS_A_KEY:
        after.add(chain.kid or "(new key)")
    if len(after) <= MAX_KEYS_PER_CLIENT:
        return reregister, chain, ()
    message = (
        f"registering would give {len(after)} keys; Digdir allows "
        f"{MAX_KEYS_PER_CLIENT}, so no key is registered; free a slot with "
        f"`mpctl keys revoke {inputs.client} KID`"
    )
    kept_chain = chain if chain and chain.action not in _ADDS_A_KEY else None
    return None, kept_chain, (inputs.diagnostic(Severity.ERROR, "key.limit", message),)


def _step(
    inputs: KeyInputs, intent: _Intent, address: Address, after: list[Address] | None = None
) -> KeyStep:
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
            test_scopes=inputs.test_scopes,
            test_consumer_org=inputs.test_consumer_org,
        ),
    )


def _open_pending(sink: SinkState) -> KeySlot | None:
    """The pending slot, unless it already is the current key (a finished rotation)."""
    if sink.pending is None or (sink.current and sink.pending.kid == sink.current.kid):
        return None
    return sink.pending


def _previous_in_grace(inputs: KeyInputs, retiring: frozenset[str]) -> str | None:
    """The previous kid when it still holds a JWKS slot this run does not free, else None."""
    previous = inputs.sink.previous
    if previous is None or previous.kid in retiring or previous.kid in inputs.live_kids:
        return None
    return previous.kid if inputs.registered(previous) else None


def _note(inputs: KeyInputs, code: str, message: str) -> Diagnostic:
    return inputs.diagnostic(Severity.NOTE, code, message)
