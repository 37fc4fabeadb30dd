"""PURE planning core: (desired, observed, sink labels, now) → a frozen, ordered `Plan`.

`make_plan` is a purely computational function: no network, no files, no clock (`now` is a
parameter), no randomness, no environment variables, no printing. Apply consumes the plan it
returns; renderers in `mpctl.render` show it. Delegations are not remote objects (Altinn owns
them) and only produce diagnostics. Must not import `mpctl.remote`, `mpctl.render` or httpx.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from mpctl.errors import UserError
from mpctl.model import DesiredState, ObservedState, SinkSpec, SinkState
from mpctl.plan.address import Address
from mpctl.plan.adoption import ClientLinks, link_clients
from mpctl.plan.diagnostics import check_desired
from mpctl.plan.fingerprint import observed_fingerprint
from mpctl.plan.keyset import KeyRequests, check_key_requests
from mpctl.plan.order import DependencyCycleError, order_steps
from mpctl.plan.ownership import (
    ClientOwnership,
    Owner,
    ScopeOwnership,
    classify_clients,
    classify_scopes,
    parse_marker,
    strip_marker,
)
from mpctl.plan.policy import enforce_policy, held_resources, hold_back
from mpctl.plan.resources import (
    Planned,
    deletes_after_creates,
    plan_access,
    plan_clients,
    plan_keys,
    plan_scopes,
)
from mpctl.plan.saved import (
    check_environment,
    check_identity,
    check_rederived,
    project_identity,
)
from mpctl.plan.targets import select_targets, targeted_diagnostics
from mpctl.plan.types import (
    DRIFT_CODES,
    FORMAT_VERSION,
    KEY_PHASES,
    AccessStep,
    Action,
    ClientStep,
    Diagnostic,
    FieldChange,
    KeyChange,
    KeyPhase,
    KeyStep,
    Plan,
    PlanOptions,
    PlanSummary,
    ScopeStep,
    Severity,
    Step,
    StepKind,
    UnmanagedObject,
    plan_json_schema,
)
from mpctl.redaction import redact_text

__all__ = [
    "DRIFT_CODES",
    "FORMAT_VERSION",
    "KEY_PHASES",
    "AccessStep",
    "Action",
    "Address",
    "ClientStep",
    "DependencyCycleError",
    "Diagnostic",
    "FieldChange",
    "KeyChange",
    "KeyPhase",
    "KeyStep",
    "Owner",
    "Plan",
    "PlanOptions",
    "PlanSummary",
    "ScopeStep",
    "Severity",
    "Step",
    "StepKind",
    "UnmanagedObject",
    "check_environment",
    "check_identity",
    "check_rederived",
    "classify_clients",
    "classify_scopes",
    "held_resources",
    "make_plan",
    "managed_sinks",
    "observed_fingerprint",
    "parse_marker",
    "plan_json_schema",
    "project_identity",
    "strip_marker",
]


def make_plan(
    desired: DesiredState,
    observed: ObservedState,
    sinks: Mapping[str, SinkState],
    *,
    options: PlanOptions,
    now: datetime,
    manifests_fingerprint: str,
) -> Plan:
    """The ordered steps that make `observed` match `desired`, with diagnostics and counts.

    `sinks` holds each managed client's key labels by client name; `now` must be
    timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    owner = Owner.of(desired)
    clients = classify_clients(observed, owner)
    scopes = classify_scopes(desired, observed, owner)
    links = link_clients(desired, observed, sinks, clients)
    unknown = sorted(set(options.rotate) - set(desired.clients))
    if unknown:
        raise UserError(
            f"--rotate names unknown clients: {', '.join(unknown)}",
            hint=f"clients in {desired.env_name}: {', '.join(desired.clients)}",
        )
    check_key_requests(
        options, _key_holders(desired, observed, sinks, clients, links), desired.env_name
    )
    planned = _plan_resources(
        desired,
        observed,
        sinks,
        now=now,
        clients=clients,
        scopes=scopes,
        links=links,
        rotate=frozenset(options.rotate),
        requests=KeyRequests.of(options),
    )
    steps, target_notes = select_targets(planned.steps, options.targets, planned.considered)
    steps, refusals = enforce_policy(
        steps, options=options, environment=desired.environment, env_name=desired.env_name
    )
    found = targeted_diagnostics(
        (*planned.diagnostics, *check_desired(desired, observed)), options.targets, steps
    )
    diagnostics = _sorted_diagnostics((*found, *target_notes, *refusals))
    ordered = order_steps(deletes_after_creates(hold_back(steps, diagnostics)))
    # Every part is a validated model already and the summary is counted from these very
    # steps, so the plan is assembled without validating 20,000 steps a second time.
    return Plan.model_construct(
        project=project_identity(desired),
        env_name=desired.env_name,
        observed_fingerprint=observed_fingerprint(observed, sinks),
        manifests_fingerprint=manifests_fingerprint,
        options=options,
        sinks=managed_sinks(desired),
        steps=ordered,
        diagnostics=diagnostics,
        unmanaged=tuple(
            sorted((*clients.unmanaged, *scopes.unmanaged), key=lambda u: (u.kind, u.remote_id))
        ),
        summary=PlanSummary.of(ordered, diagnostics, unchanged=planned.unchanged),
    )


def _plan_resources(
    desired: DesiredState,
    observed: ObservedState,
    sinks: Mapping[str, SinkState],
    *,
    now: datetime,
    clients: ClientOwnership,
    scopes: ScopeOwnership,
    links: ClientLinks,
    rotate: frozenset[str],
    requests: KeyRequests,
) -> Planned:
    resources = Planned.merge(
        [
            plan_scopes(desired, scopes, clients),
            plan_access(desired, observed, scopes),
            plan_clients(desired, clients, links),
        ]
    )
    client_steps = {s.address: s for s in resources.steps}
    keys = plan_keys(
        desired,
        observed,
        sinks,
        clients=clients,
        links=links,
        client_steps=client_steps,
        now=now,
        rotate=rotate,
        requests=requests,
    )
    return Planned.merge([resources, keys])


def _key_holders(
    desired: DesiredState,
    observed: ObservedState,
    sinks: Mapping[str, SinkState],
    clients: ClientOwnership,
    links: ClientLinks,
) -> dict[str, frozenset[str]]:
    """Each client with keys → the kids registered on its remote client or labelled in its
    sink (what `--revoke` may name)."""
    holders: dict[str, frozenset[str]] = {}
    for name, client in desired.clients.items():
        if client.keys is None:
            continue
        remote = clients.managed.get(name) or links.adopting.get(name)
        jwks = observed.jwks.get(remote.client_id) if remote else None
        sink = sinks.get(name, SinkState())
        holders[name] = (jwks.kids if jwks else frozenset()) | sink.kids
    return holders


def managed_sinks(desired: DesiredState) -> dict[str, SinkSpec]:
    """The secret sink of every client whose keys mpctl manages, by client name."""
    default = desired.environment.sink
    return {
        name: c.keys.sink or default for name, c in desired.clients.items() if c.keys is not None
    }


_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}


def _sorted_diagnostics(found: tuple[Diagnostic, ...]) -> tuple[Diagnostic, ...]:
    """Unique, in severity and address order, with remote text (kids, names) redacted."""
    unique = {d.model_copy(update={"message": redact_text(d.message)}) for d in found}
    return tuple(
        sorted(
            unique,
            key=lambda d: (_SEVERITY_RANK[d.severity], str(d.address or ""), d.code, d.message),
        )
    )
