"""One environment that exercises every step kind, diagnostic and listing a plan can have.

Used by the golden renderer tests, the plan-file round trip, the determinism test (run in
subprocesses under different PYTHONHASHSEED values) and the planted-secret test.
`shuffled(seed)` builds the same inputs with every collection in another order.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from mpctl.model import (
    Delegation,
    DesiredState,
    KeyPolicy,
    ObservedAccess,
    ObservedClient,
    ObservedJwks,
    ObservedScope,
    ObservedState,
    SinkState,
)
from mpctl.plan import Plan, PlanOptions, make_plan

from .builders import (
    CONSUMER_A,
    CONSUMER_B,
    NOW,
    ORGNO,
    client,
    client_id,
    converged,
    desired,
    jwk,
    jwks,
    observed_client,
    observed_scope,
    scope,
    sink,
    slot,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Inputs:
    desired: DesiredState
    observed: ObservedState
    sinks: Mapping[str, SinkState]


def _desired() -> DesiredState:
    keys = KeyPolicy(preserve=("altinn-legacy",))
    return desired(
        clients=[
            client("billing", keys=keys),
            client("reports", scopes=("acme:invoices.write",), keys=KeyPolicy()),
            client("ledger", integration_type="api_klient"),
            client("payroll", keys=KeyPolicy()),
            client("archive", keys=KeyPolicy()),
            client("sync", keys=KeyPolicy(), scopes=("acme:invoices.read", "nope:secret")),
            client("imported", adopt="id-portal", description="Made in the portal"),
            client("lost", keys=KeyPolicy()),
            client(
                "supplier",
                scopes=("acme:orders", "other:data.read"),
                delegations=(Delegation(consumer_org=CONSUMER_A, scopes=("other:data.read",)),),
            ),
        ],
        scopes=[
            scope("acme:invoices.read", consumers=(CONSUMER_A,)),
            scope("acme:invoices.write", consumers=(CONSUMER_B,), at_max_age=300),
            scope("acme:orders", delegation_source="altinn", description="Orders API"),
        ],
    )


def _observed(state: DesiredState) -> ObservedState:
    base = converged(state)
    clients = dict(base.clients)
    del clients[client_id("reports")]
    ledger = state.clients["ledger"]
    clients[client_id("ledger")] = observed_client(ledger, state, integration_type="maskinporten")
    clients["id-legacy"] = ObservedClient(
        client_id="id-legacy",
        client_name="Legacy app",
        description="made in the portal",
        scopes=("x:y",),
    )
    clients["id-portal"] = ObservedClient(
        client_id="id-portal",
        client_name="Portal app",
        description="Made in the portal",
        scopes=("acme:orders",),
    )
    del clients[client_id("imported")]
    lost = clients.pop(client_id("lost"))
    clients["id-lost"] = lost.model_copy(
        update={"client_id": "id-lost", "description": "lost integration"}
    )
    clients["id-old"] = ObservedClient(
        client_id="id-old",
        client_name="ACME - old - test",
        description="batch job [mpctl:old-batch]",
    )
    scopes = dict(base.scopes)
    del scopes["acme:invoices.write"]
    scopes["acme:orders"] = observed_scope(
        state.scopes["acme:orders"], state, description="Order API (old)"
    )
    scopes["acme:legacy"] = ObservedScope(name="acme:legacy", description="hand-made")
    scopes["acme:retired"] = ObservedScope(
        name="acme:retired", description="gone", long_description="[mpctl:acme:retired]"
    )
    access = dict(base.access)
    del access["acme:invoices.write"]
    access["acme:invoices.read"] = (
        ObservedAccess(scope="acme:invoices.read", consumer_orgno=CONSUMER_A),
        ObservedAccess(scope="acme:invoices.read", consumer_orgno=CONSUMER_B),
    )
    public = {"other:data.read": ObservedScope(name="other:data.read", delegation_source=None)}
    return ObservedState(
        clients=clients,
        scopes=scopes,
        access=access,
        jwks=_jwks(),
        consumable_scopes=frozenset({"other:data.read"}),
        public_scopes=public,
    )


def _jwks() -> dict[str, ObservedJwks]:
    return {
        client_id("billing"): jwks("billing-1", "billing-0", "altinn-legacy"),
        client_id("payroll"): jwks("payroll-1", "payroll-2"),
        client_id("archive"): jwks(
            "archive-0", "stray-kid", jwk("archive-old", exp=NOW + timedelta(days=3))
        ),
        client_id("sync"): jwks("sync-1"),
    }


def _sinks() -> dict[str, SinkState]:
    return {
        "billing": sink(
            slot("billing-1", age_days=100, promoted_days_ago=100),
            previous=slot("billing-0", age_days=190),
        ),
        "payroll": sink(slot("payroll-1", promoted_days_ago=30), pending=slot("payroll-2")),
        "archive": sink(
            slot("archive-1", promoted_days_ago=20), previous=slot("archive-0", age_days=80)
        ),
        "sync": sink(slot("sync-1", promoted_days_ago=5), pending=slot("sync-2", age_days=0)),
    }


def inputs() -> Inputs:
    state = _desired()
    return Inputs(state, _observed(state), _sinks())


def plan(options: PlanOptions | None = None, scenario: Inputs | None = None) -> Plan:
    scenario = scenario or inputs()
    return make_plan(
        scenario.desired,
        scenario.observed,
        scenario.sinks,
        options=options or PlanOptions(),
        now=NOW,
        manifests_fingerprint="sha256:manifests",
    )


def shuffled(seed: int) -> Inputs:
    """The same inputs with every mapping and set-like tuple in a seeded random order."""
    rng = random.Random(seed)
    original = inputs()
    state = original.desired
    observed = original.observed
    return Inputs(
        desired=DesiredState(
            env_name=state.env_name,
            environment=state.environment,
            organisation=state.organisation,
            project=state.project,
            clients=_shuffle_map(rng, state.clients),
            scopes=_shuffle_map(rng, state.scopes),
        ),
        observed=ObservedState(
            clients={
                k: _shuffle_fields(rng, v) for k, v in _shuffle_map(rng, observed.clients).items()
            },
            jwks={
                k: ObservedJwks(keys=_shuffle(rng, v.keys))
                for k, v in _shuffle_map(rng, observed.jwks).items()
            },
            scopes=_shuffle_map(rng, observed.scopes),
            access={k: _shuffle(rng, v) for k, v in _shuffle_map(rng, observed.access).items()},
            consumable_scopes=observed.consumable_scopes,
            public_scopes=_shuffle_map(rng, observed.public_scopes),
        ),
        sinks=_shuffle_map(rng, original.sinks),
    )


def _shuffle_fields(rng: random.Random, remote: ObservedClient) -> ObservedClient:
    return remote.model_copy(update={"scopes": _shuffle(rng, remote.scopes)})


def _shuffle(rng: random.Random, items: tuple[T, ...]) -> tuple[T, ...]:
    listed = list(items)
    rng.shuffle(listed)
    return tuple(listed)


def _shuffle_map(rng: random.Random, mapping: Mapping[str, Any]) -> dict[str, Any]:
    keys = list(mapping)
    rng.shuffle(keys)
    return {k: mapping[k] for k in keys}


__all__ = ["ORGNO", "Inputs", "inputs", "plan", "shuffled"]
