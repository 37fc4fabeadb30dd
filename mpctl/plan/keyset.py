"""What is observed about one client's keys, and the findings that need no decision.

Owns `KeyInputs` (policy, sink labels, registered JWKS, `now`, and the operator's explicit
key requests, `KeyRequests`) with the facts rotation reads from it (which slots are registered,
which kids are live, foreign or asked to be revoked, when the grace ends, whether a registered
JWK is the sink's key by RFC 7638 thumbprint), the diagnostics about the key set itself:
unknown kids (drift), no room to rotate within Digdir's five keys, keys expiring or expired, a
sink recorded for another client; and `check_key_requests`, which refuses `--revoke`,
`--revoke-previous` and `--remove-foreign-kids` values that name nothing. Must not decide
steps, do I/O or read the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from mpctl.errors import UserError
from mpctl.model import (
    MAX_KEYS_PER_CLIENT,
    ROTATION_SLOTS,
    KeyPolicy,
    KeySlot,
    ObservedJwk,
    ObservedJwks,
    SinkState,
)

# Explicit re-export (PEP 484) for mpctl.plan.keys, which imports it from here.
from mpctl.model import jwk_thumbprint as jwk_thumbprint  # noqa: PLC0414
from mpctl.plan.address import Address
from mpctl.plan.types import Diagnostic, PlanOptions, Severity

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class KeyRequests:
    """The operator's explicit key choices (`PlanOptions`), the same for every client."""

    revoke: frozenset[str] = frozenset()
    """Kids named by `--revoke`; each client acts on those it holds."""
    revoke_previous: bool = False
    """`--revoke-previous`: a rotated client revokes the key the rotation replaces, and a
    previous key still registered, in the same apply (a re-run after a crash that came after
    the promote so still removes the compromised key, then rotates once more)."""
    remove_foreign: frozenset[str] = frozenset()
    """Clients named by `--remove-foreign-kids`."""
    allow_delete: bool = False
    """`--allow-delete`: a revocation may remove a client's last registered key."""

    @classmethod
    def of(cls, options: PlanOptions) -> KeyRequests:
        return cls(
            revoke=frozenset(options.revoke),
            revoke_previous=options.revoke_previous,
            remove_foreign=frozenset(options.remove_foreign_kids),
            allow_delete=options.allow_delete,
        )


@dataclass(frozen=True)
class KeyInputs:
    """Everything one client's key decision reads. `jwks` is empty for a client being created.

    The kid sets derived from it are computed once (`cached_property`): the decision reads
    them many times, and the inputs never change.
    """

    client: str
    policy: KeyPolicy
    sink: SinkState
    jwks: ObservedJwks
    now: datetime
    client_id: str | None = None
    new_client: bool = False
    rotate_requested: bool = False
    requests: KeyRequests = KeyRequests()
    test_scopes: tuple[str, ...] = ()
    """What the token test of a new key asks for (the client's scopes), passed through."""
    test_consumer_org: str | None = None
    """On whose behalf that test token is minted (a delegation), passed through."""

    @cached_property
    def known_kids(self) -> frozenset[str]:
        """Kids registered at Digdir or labelled in the sink: what a revocation may name."""
        return self.registered_kids | self.sink.kids

    @cached_property
    def revoke_requested(self) -> frozenset[str]:
        """This client's kids the operator asked to revoke (`--revoke`, `--revoke-previous`
        on a rotation, `--remove-foreign-kids`), before any guard."""
        asked = self.requests.revoke & self.known_kids
        if self.requests.revoke_previous and self.rotate_requested:
            asked |= {s.kid for s in (self.sink.current, self.sink.previous) if s is not None}
        if self.client in self.requests.remove_foreign:
            asked |= self.foreign_kids
        return asked

    @property
    def address(self) -> Address:
        return Address.key(self.client)

    @cached_property
    def live_kids(self) -> frozenset[str]:
        """Kids that may never be removed: current, pending and preserved."""
        slots = (self.sink.current, self.sink.pending)
        return frozenset(s.kid for s in slots if s) | frozenset(self.policy.preserve)

    @cached_property
    def foreign_kids(self) -> frozenset[str]:
        """Registered kids the sink does not know and the policy does not preserve."""
        return self.registered_kids - self.sink.kids - frozenset(self.policy.preserve)

    @property
    def grace_end(self) -> datetime | None:
        """When the previous key's grace ends: the current key's promotion plus `grace`."""
        current = self.sink.current
        if current is None or current.promoted_at is None:
            return None
        return utc(current.promoted_at) + self.policy.grace

    @cached_property
    def registered_kids(self) -> frozenset[str]:
        """Kids registered at Digdir (the JWKS)."""
        return self.jwks.kids

    def registered(self, slot: KeySlot) -> bool:
        return slot.kid in self.registered_kids

    def jwk(self, kid: str) -> ObservedJwk | None:
        return next((k for k in self.jwks.keys if k.kid == kid), None)

    def mismatch(self, slot: KeySlot) -> bool:
        """True when the JWK registered under the slot's kid is a different key."""
        jwk = self.jwk(slot.kid)
        thumbprint = jwk_thumbprint(jwk) if jwk else None
        return thumbprint is not None and thumbprint != slot.thumbprint

    def diagnostic(self, severity: Severity, code: str, message: str) -> Diagnostic:
        return Diagnostic(severity=severity, code=code, message=message, address=self.address)


def check_key_requests(
    options: PlanOptions, kids: Mapping[str, frozenset[str]], env_name: str
) -> None:
    """Refuse, before planning, key requests that name nothing: `kids` maps every managed
    client with keys to the kids it has registered or labelled in its sink."""
    if options.revoke_previous and not options.rotate:
        raise UserError(
            "--revoke-previous needs --rotate NAME: it revokes the key that rotation replaces",
            hint="for example: mpctl apply --rotate NAME --revoke-previous",
        )
    unknown = sorted(set(options.remove_foreign_kids) - set(kids))
    if unknown:
        raise UserError(
            f"--remove-foreign-kids names unknown clients: {', '.join(unknown)}",
            hint=f"clients with keys in {env_name}: {', '.join(sorted(kids))}",
        )
    for kid in options.revoke:
        _check_revoke(kid, kids, options.targets, env_name)


def _check_revoke(
    kid: str, kids: Mapping[str, frozenset[str]], targets: tuple[str, ...], env_name: str
) -> None:
    owners = sorted(name for name, held in kids.items() if kid in held)
    if not owners:
        raise UserError(
            f"--revoke names a kid no client of {env_name} has registered: {kid}",
            hint="the kids of each client are in `mpctl plan` and at Digdir "
            "(GET /clients/{client_id}/jwks); check the spelling",
        )
    if targets and not any(Address.client(o).spells(t) for o in owners for t in targets):
        raise UserError(
            f"--revoke {kid}: that kid belongs to {', '.join(owners)}, which the targets "
            f"({', '.join(targets)}) leave out",
            hint=f"name the client that holds it, e.g. mpctl keys revoke {owners[0]} {kid}",
        )


def key_set_diagnostics(inputs: KeyInputs) -> tuple[Diagnostic, ...]:
    """Drift, room to rotate, expiry and sink/client mismatch, in that order."""
    return (*_drift(inputs), *_room(inputs), *_expiry(inputs), *_sink_mismatch(inputs))


def expires(jwk: ObservedJwk | None) -> datetime | None:
    """Digdir's expiry of a registered key (`exp`, epoch seconds) as a UTC datetime."""
    if jwk is None or jwk.exp is None:
        return None
    return _EPOCH + timedelta(seconds=jwk.exp)


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def when(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _drift(inputs: KeyInputs) -> tuple[Diagnostic, ...]:
    """Unknown kids, except those this plan revokes (their steps say so)."""
    return tuple(
        inputs.diagnostic(
            Severity.WARNING,
            "key.unknown-kid",
            f"kid {kid} is registered but is neither current, previous nor pending "
            "in the sink, nor in keys.preserve; it is left alone",
        )
        for kid in sorted(inputs.foreign_kids - inputs.revoke_requested)
    )


def _room(inputs: KeyInputs) -> tuple[Diagnostic, ...]:
    others = (inputs.foreign_kids - inputs.revoke_requested) | frozenset(inputs.policy.preserve)
    if ROTATION_SLOTS + len(others) <= MAX_KEYS_PER_CLIENT:
        return ()
    message = (
        f"{len(others)} preserved or unknown keys leave no room to rotate: current, "
        f"previous and pending need {ROTATION_SLOTS} of Digdir's {MAX_KEYS_PER_CLIENT}; "
        f"revoke the unknown ones with `mpctl apply --remove-foreign-kids {inputs.client}` "
        f"or `mpctl keys revoke {inputs.client} KID`"
    )
    return (inputs.diagnostic(Severity.ERROR, "key.limit", message),)


def _expiry(inputs: KeyInputs) -> tuple[Diagnostic, ...]:
    found: list[Diagnostic] = []
    for jwk in sorted(inputs.jwks.keys, key=lambda k: k.kid):
        expiry = expires(jwk)
        if expiry is None or expiry - inputs.now > inputs.policy.renew_before_expiry:
            continue
        expired = expiry <= inputs.now
        code = "key.expired" if expired else "key.expiring-soon"
        message = f"key {jwk.kid} {'expired' if expired else 'expires'} {when(expiry)}"
        found.append(inputs.diagnostic(Severity.WARNING, code, message))
    return tuple(found)


def _sink_mismatch(inputs: KeyInputs) -> tuple[Diagnostic, ...]:
    recorded = inputs.sink.client_id
    if recorded is None or inputs.client_id is None or recorded == inputs.client_id:
        return ()
    message = f"the sink holds keys for client_id {recorded}, but the client is {inputs.client_id}"
    return (inputs.diagnostic(Severity.WARNING, "key.sink-client-mismatch", message),)
