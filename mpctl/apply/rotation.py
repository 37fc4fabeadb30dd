"""The key-rotation protocol, one phase at a time: stage → register → test → promote → retire.

Each phase begins with a fresh observation and returns early when its effect is already there,
so a run stopped anywhere can simply run again (reliability.md §1, L2). Safety (§2): the private
key is stored as pending before its public half is registered; JWKS writes are always "fresh
read ± one key" (S3); only public members are uploaded (S7); a key is promoted only after it
minted a real token (S5); retire removes only the previous kid, never the current, pending or a
preserved one, never inside the grace, never the last key (S4). Revoke removes the one kid the
operator named, grace or not, with the same fresh read − one key and read-back, never the
current or a preserved kid, never while the current is unregistered (S1), and the last key only
with `--allow-delete` (S4, through DELETE, the only way Digdir removes it); it clears the
sink's pending label before the JWKS write (a revoked pending key is never registered again)
and its previous label after it. A key is generated in the key pool's threads (RSA generation
releases the GIL, so it overlaps network waits, its own client's read of the registered kids
too) and is parsed from its sink at most once per run (`ApplyContext.private_key`): register,
test and promote use the same object. Each phase is announced as it begins
(`mpctl.apply.events.phase_started`), and a promote that replaces a current key announces the
grace that now holds the replaced key (`grace until <time>`). Must not decide *whether* to
rotate or revoke: that is the planner's job (`mpctl.plan.keys`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from mpctl.apply.context import ApplyContext, ApplyError, Verdict
from mpctl.apply.events import Phase, phase_started
from mpctl.model import MAX_KEYS_PER_CLIENT, KeyPolicy, ObservedJwks, jwk_thumbprint
from mpctl.plan import Action, KeyChange, KeyPhase, KeyStep
from mpctl.remote import AmbiguousWriteError
from mpctl.secrets import PrivateKey, SecretSink, generate_unnamed, name_for_policy


@dataclass
class _Rotation:
    """One key step in progress: whose keys, where they live, which kid is being acted on."""

    name: str
    client_id: str
    sink: SecretSink
    change: KeyChange
    action: Action
    kid: str | None
    environment: str
    step: KeyStep

    @property
    def policy(self) -> KeyPolicy:
        return self.change.policy


async def run_key_step(step: KeyStep, ctx: ApplyContext) -> int:
    """Run the phases the plan lists for this key step; returns the writes made."""
    change = step.key
    client_id = ctx.client_id(change.client, step.client_id)
    sink = ctx.sink(change.client)
    await sink.set_client_id(change.client, client_id)
    rotation = _Rotation(
        change.client, client_id, sink, change, step.action, change.kid, ctx.env_name, step
    )
    writes = 0
    for phase in change.phases:
        phase_started(step, Phase.of(phase))
        writes += await _PHASES[phase](rotation, ctx)
    return writes


async def _stage(rotation: _Rotation, ctx: ApplyContext) -> int:
    state = await rotation.sink.read_state(rotation.name)
    if state.pending is not None:  # a crashed run staged it: reuse, never make a second key
        rotation.kid = state.pending.kid
        return 0
    made = asyncio.ensure_future(generate_unnamed(rotation.policy, now=ctx.now()))
    try:  # the key is made while Digdir is asked which kids the client holds
        registered = (await ctx.api.get_jwks(rotation.client_id)).kids
    except BaseException:
        made.cancel()
        raise
    key = name_for_policy(
        await made,
        rotation.policy,
        client=rotation.name,
        environment=rotation.environment,
        existing_kids=registered | state.kids,
    )
    await rotation.sink.stage(rotation.name, key)
    ctx.remember_key(rotation.name, key)
    rotation.kid = key.kid
    return 1


async def _key(rotation: _Rotation, ctx: ApplyContext) -> PrivateKey:
    """The pending key this step acts on, loaded at most once per run."""
    if rotation.kid is None:
        state = await rotation.sink.read_state(rotation.name)
        if state.pending is None:
            raise ApplyError(f"{rotation.name}: no pending key to act on; plan again")
        rotation.kid = state.pending.kid
    return await ctx.private_key(rotation.name, rotation.kid)


async def _register(rotation: _Rotation, ctx: ApplyContext) -> int:
    """JWKS := fresh read ∪ new key. An upload whose answer was lost is sent once more, built
    from a new fresh read, when that read proves the key absent (the upload never arrived);
    then the set is read back until it shows the key (bounded)."""
    key = await _key(rotation, ctx)
    fresh = await ctx.api.get_jwks(rotation.client_id)
    if _holds(fresh, key):
        return 0
    if not await _post_jwks(rotation, ctx, _register_payload(rotation, fresh, key)):
        again = await ctx.api.get_jwks(rotation.client_id)
        if not _holds(again, key):
            await _post_jwks(rotation, ctx, _register_payload(rotation, again, key))
    await _read_back(rotation, ctx, expect_present=key)
    return 1


def _register_payload(
    rotation: _Rotation, fresh: ObservedJwks, key: PrivateKey
) -> list[dict[str, Any]]:
    """The set to upload: every registered key as it is, plus `key` (S3: nothing removed)."""
    if key.kid in fresh.kids:
        raise ApplyError(
            f"{rotation.name}: kid {key.kid} is registered with other key material",
            hint="a kid is never reused for different keys (S2); remove the foreign key by hand",
            safe_to_rerun=False,
        )
    if len(fresh.keys) >= MAX_KEYS_PER_CLIENT:
        raise ApplyError(
            f"{rotation.name}: {len(fresh.keys)} keys are registered; Digdir allows "
            f"{MAX_KEYS_PER_CLIENT}",
            hint="retire keys first; mpctl never removes keys it does not own",
            safe_to_rerun=False,
        )
    return [*(_republished(k) for k in fresh.keys), dict(key.public_jwk)]


async def _test(rotation: _Rotation, ctx: ApplyContext) -> int:
    key = await _key(rotation, ctx)
    scopes, consumer_org = rotation.change.test_scopes, rotation.change.test_consumer_org
    deadline = ctx.monotonic() + ctx.settings.propagation_timeout
    wait = ctx.settings.propagation_wait_initial
    while True:
        result = await ctx.tester.test(
            client_id=rotation.client_id, key=key, scopes=scopes, consumer_org=consumer_org
        )
        if result.verdict is Verdict.OK:
            return 0
        if result.verdict is not Verdict.NOT_YET_KNOWN or ctx.monotonic() + wait > deadline:
            raise _test_failure(rotation, key.kid, result.verdict, result.detail)
        await ctx.sleep(wait)
        wait = min(wait * 2, ctx.settings.propagation_wait_max)


def _test_failure(rotation: _Rotation, kid: str, verdict: Verdict, detail: str) -> ApplyError:
    kept = "the old key stays current and nothing was removed"
    if verdict is Verdict.NOT_YET_KNOWN:
        message = f"{rotation.name}: new key {kid} is not accepted at /token yet ({detail})"
        return ApplyError(message, hint=f"{kept}; Digdir may need minutes: run apply again")
    if verdict is Verdict.CLOCK_SKEW:
        message = f"{rotation.name}: token test failed on clock skew ({detail})"
        return ApplyError(message, hint=f"this is this machine's clock, not the key; {kept}")
    message = f"{rotation.name}: token test with new key {kid} failed: {detail}"
    return ApplyError(message, hint=kept, safe_to_rerun=verdict is Verdict.UNAVAILABLE)


async def _promote(rotation: _Rotation, ctx: ApplyContext) -> int:
    key = await _key(rotation, ctx)
    state = await rotation.sink.read_state(rotation.name)
    if state.current is not None and state.current.kid == key.kid:
        return 0
    if not _holds(await ctx.api.get_jwks(rotation.client_id), key):  # S5(a)
        raise ApplyError(f"{rotation.name}: {key.kid} is not registered; it is not promoted")
    promoted_at = ctx.now()
    await rotation.sink.promote(rotation.name, key.kid, promoted_at)
    if state.current is not None:
        until = (promoted_at + rotation.policy.grace).astimezone(UTC)
        detail = f"until {until:%Y-%m-%d %H:%M} UTC: {state.current.kid} stays registered"
        phase_started(rotation.step, Phase.GRACE, detail)
    return 1


async def _retire(rotation: _Rotation, ctx: ApplyContext) -> int:
    kid = rotation.kid
    state = await rotation.sink.read_state(rotation.name)
    current = state.current
    if kid is None or current is None:
        raise ApplyError(f"{rotation.name}: nothing to retire", safe_to_rerun=False)
    _guard_retire(rotation, kid, state.pending.kid if state.pending else None, current.kid)
    if current.promoted_at is None or ctx.now() < current.promoted_at + rotation.policy.grace:
        raise ApplyError(f"{rotation.name}: {kid} is still inside its grace; it stays")
    fresh = await ctx.api.get_jwks(rotation.client_id)
    if kid in fresh.kids:
        if current.kid not in fresh.kids:  # S1: never retire while the current is missing
            raise ApplyError(f"{rotation.name}: current {current.kid} is not registered")
        payload = [_republished(k) for k in fresh.keys if k.kid != kid]
        await _write_jwks(rotation, ctx, payload, expect_absent=kid)
        await rotation.sink.forget_previous(rotation.name, kid)
        return 2
    await rotation.sink.forget_previous(rotation.name, kid)
    return 1


async def _revoke(rotation: _Rotation, ctx: ApplyContext) -> int:
    kid = rotation.kid
    if kid is None:
        raise ApplyError(f"{rotation.name}: no kid to revoke", safe_to_rerun=False)
    state = await rotation.sink.read_state(rotation.name)
    current = state.current.kid if state.current else None
    _guard_revoke(rotation, kid, current)
    writes = 0
    if state.pending is not None and state.pending.kid == kid:
        await rotation.sink.discard_pending(rotation.name, kid)
        writes += 1
    fresh = await ctx.api.get_jwks(rotation.client_id)
    if kid in fresh.kids:
        if current is not None and current not in fresh.kids:  # S1
            raise ApplyError(
                f"{rotation.name}: current {current} is not registered; {kid} is not revoked",
                hint="run `mpctl apply` to register the current key again first",
            )
        await _remove_kid(rotation, ctx, fresh, kid)
        writes += 1
    if state.previous is not None and state.previous.kid == kid:
        await rotation.sink.forget_previous(rotation.name, kid)
        writes += 1
    return writes


def _guard_revoke(rotation: _Rotation, kid: str, current: str | None) -> None:
    if kid == current or kid in rotation.policy.preserve:
        raise ApplyError(
            f"{rotation.name}: refusing to revoke {kid}: it is the sink's current key or preserved",
            hint="plan again: a current key is revoked only after a rotation replaced it",
            safe_to_rerun=False,
        )


async def _remove_kid(
    rotation: _Rotation, ctx: ApplyContext, fresh: ObservedJwks, kid: str
) -> None:
    """JWKS := fresh read − kid; the last key goes only through DELETE with the allow (S4)."""
    payload = [_republished(k) for k in fresh.keys if k.kid != kid]
    if payload:
        await _write_jwks(rotation, ctx, payload, expect_absent=kid)
        return
    if "allow_delete" not in ctx.allowed:
        raise ApplyError(
            f"{rotation.name}: {kid} is the last registered key; it stays (S4)",
            hint="pass --allow-delete to remove a client's last key",
            safe_to_rerun=False,
        )
    with contextlib.suppress(AmbiguousWriteError):  # the read-back decides whether it happened
        await ctx.api.delete_jwks(rotation.client_id)
    await _read_back(rotation, ctx, expect_absent=kid)


def _guard_retire(rotation: _Rotation, kid: str, pending: str | None, current: str) -> None:
    if kid in (current, pending) or kid in rotation.policy.preserve:
        raise ApplyError(
            f"{rotation.name}: refusing to retire {kid}: it is current, pending or preserved",
            safe_to_rerun=False,
        )


async def _write_jwks(
    rotation: _Rotation,
    ctx: ApplyContext,
    payload: list[dict[str, Any]],
    *,
    expect_absent: str,
) -> None:
    """POST the whole set, then read back until it shows (bounded); ambiguous → re-read."""
    await _post_jwks(rotation, ctx, payload)
    await _read_back(rotation, ctx, expect_absent=expect_absent)


async def _post_jwks(rotation: _Rotation, ctx: ApplyContext, payload: list[dict[str, Any]]) -> bool:
    """POST the whole set; False when the answer was lost (the write may or may not be done)."""
    if not payload:
        raise ApplyError(f"{rotation.name}: refusing to leave no key registered (S4)")
    try:
        await ctx.api.put_jwks(rotation.client_id, payload)
    except AmbiguousWriteError:  # a fresh read decides whether it happened
        return False
    return True


async def _read_back(
    rotation: _Rotation,
    ctx: ApplyContext,
    *,
    expect_present: PrivateKey | None = None,
    expect_absent: str | None = None,
) -> None:
    """Read the set until it shows the change (Digdir may lag behind its own writes)."""
    for attempt in range(ctx.settings.read_after_write_attempts):
        seen = await ctx.api.get_jwks(rotation.client_id)
        if (expect_present is None or _holds(seen, expect_present)) and (
            expect_absent is None or expect_absent not in seen.kids
        ):
            return
        await ctx.sleep(min(2.0**attempt, 10.0))
    raise ApplyError(f"{rotation.name}: Digdir does not show the new key set yet; re-run apply")


def _holds(jwks: ObservedJwks, key: PrivateKey) -> bool:
    """True when `key`'s public half is registered under its kid (thumbprints match, S2)."""
    return any(jwk.kid == key.kid and jwk_thumbprint(jwk) == key.thumbprint for jwk in jwks.keys)


def _republished(jwk: Any) -> dict[str, Any]:
    """A registered key as it is sent back: public members, `use` patched in (reference §8.4)."""
    document: dict[str, Any] = jwk.model_dump(mode="json", exclude_none=True)
    document.setdefault("use", "sig")
    return document


_PHASES: dict[KeyPhase, Callable[[_Rotation, ApplyContext], Awaitable[int]]] = {
    KeyPhase.STAGE: _stage,
    KeyPhase.REGISTER: _register,
    KeyPhase.TEST: _test,
    KeyPhase.PROMOTE: _promote,
    KeyPhase.RETIRE: _retire,
    KeyPhase.REVOKE: _revoke,
}
