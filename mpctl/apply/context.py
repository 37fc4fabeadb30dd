"""What every executor works with: the remote, the sinks, the key tester, the clock, settings.

Everything a step needs beyond these comes from the plan itself: apply never reads the
manifests (a saved plan is self-contained).

Owns `ApplyContext`, the `KeyTester` seam (the CLI plugs in `mpctl.verify`'s token exchange, so
`apply` and `verify` stay independent), and `ApplySettings`. Client ids learned while applying
(a client created in this run) are recorded here so later key steps find them; so is the client
listing the run's creates share (`SharedClientListing`, seeded with the stale-plan check's) and
every private key this run generated or loaded (parsed and checked once per run, not once per
phase).
Must not hold a key anywhere that prints: the key cache is left out of `repr`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from mpctl.apply.listing import SharedClientListing
from mpctl.errors import MpctlError
from mpctl.plan import Plan
from mpctl.remote import RemoteApi
from mpctl.secrets import PrivateKey, SecretSink
from mpctl.state import Snapshot

STEP_IN_FLIGHT: ContextVar[str | None] = ContextVar("mpctl_step_in_flight", default=None)
"""The address of the step whose executor runs in the current task (the engine sets it in each
step's own task): a watcher of calls or sink reads credits what it sees to this step, whatever
else runs at the same time. None outside any step."""


class Verdict(StrEnum):
    """What a token request with a key proved."""

    OK = "ok"
    NOT_YET_KNOWN = "not_yet_known"
    CLOCK_SKEW = "clock_skew"
    REFUSED = "refused"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class KeyTestResult:
    verdict: Verdict
    detail: str = ""


class KeyTester(Protocol):
    """Mints a real token with `key` to prove Maskinporten accepts it (rotation's test phase)."""

    async def test(
        self,
        *,
        client_id: str,
        key: PrivateKey,
        scopes: tuple[str, ...],
        consumer_org: str | None,
    ) -> KeyTestResult: ...


@dataclass(frozen=True)
class ApplySettings:
    """Bounds of waiting: Digdir's new keys may take minutes to work at /token (reference §3.1)."""

    propagation_timeout: float = 180.0
    propagation_wait_initial: float = 2.0
    propagation_wait_max: float = 15.0
    read_after_write_attempts: int = 5
    client_listing_max_age: float = 0.0
    """Seconds a client listing may have begun before a create looks for its marker in it
    (`SharedClientListing`). 0: one begun after the create asked (another run may have made
    the client meanwhile); `math.inf` when every run takes the same lock: the stale-plan
    check's listing serves the whole run."""


class ApplyError(MpctlError):
    """A step could not be completed; `safe_to_rerun` says whether running apply again is safe."""

    code = "APPLY"

    def __init__(self, message: str, *, hint: str | None = None, safe_to_rerun: bool = True):
        super().__init__(message, hint=hint)
        self.safe_to_rerun = safe_to_rerun


@dataclass
class ApplyContext:
    """Collaborators of one apply run. Executors get everything through it."""

    api: RemoteApi
    env_name: str
    """The environment the plan is for (new kids may name it, see `KeyPolicy.kid_format`)."""
    sinks: Mapping[str, SecretSink]
    """Every managed client's sink by client name: the saved plan's `sinks`, opened."""
    tester: KeyTester
    now: Callable[[], datetime]
    sleep: Callable[[float], Awaitable[None]]
    monotonic: Callable[[], float] = time.monotonic
    """Measures waiting (propagation polling) on the same clock as `sleep` waits on."""
    settings: ApplySettings = field(default_factory=ApplySettings)
    client_ids: dict[str, str] = field(default_factory=dict)
    allowed: frozenset[str] = frozenset()
    """The allow options the operator gave for this run (`PlanOptions.allows`): a plan that
    carries one more is refused, so an edited plan file cannot grant itself a delete."""
    rederive: Callable[[Snapshot], Plan] | None = None
    """When set, the plan must be exactly what this derives from the fresh snapshot (the CLI
    passes `make_plan` over the manifests, so an edited plan file is refused). Apply itself
    needs no manifests."""
    stop_requested: Callable[[], bool] = lambda: False
    """Checked before each step starts: once true (e.g. SIGTERM), the steps in flight finish
    and no new step starts (Terraform's interrupt rule)."""
    parallelism: int = 1
    """Steps in flight at once (`mpctl apply --parallelism`); 1 runs them one at a time in the
    plan's order, more start ready client creates first."""
    keys: dict[tuple[str, str], PrivateKey] = field(default_factory=dict, repr=False)
    """(client, kid) → the private key this run staged or loaded."""
    client_listing: SharedClientListing = field(init=False, repr=False)
    """The listing creates look for their marker in (the engine seeds it with the stale-plan
    check's)."""

    def __post_init__(self) -> None:
        self.client_listing = SharedClientListing(
            self.api.list_clients,
            clock=self.monotonic,
            max_age=self.settings.client_listing_max_age,
        )

    def sink(self, client: str) -> SecretSink:
        sink = self.sinks.get(client)
        if sink is None:
            raise ApplyError(f"client {client!r} has no secret sink", safe_to_rerun=False)
        return sink

    async def private_key(self, client: str, kid: str) -> PrivateKey:
        """The key `kid` of `client`: loaded from its sink (and validated) once per run."""
        found = self.keys.get((client, kid))
        if found is None:
            found = await self.sink(client).load_private_key(client, kid)
            self.keys[(client, kid)] = found
        return found

    def remember_key(self, client: str, key: PrivateKey) -> None:
        """A key this run made (and staged): its later phases use it as it is."""
        self.keys[(client, key.kid)] = key

    def client_id(self, client: str, planned: str | None) -> str:
        found = planned or self.client_ids.get(client)
        if found is None:
            raise ApplyError(f"client {client!r} has no client_id yet (its creation failed)")
        return found
