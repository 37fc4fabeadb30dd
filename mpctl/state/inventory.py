"""The inventory: the managed clients and scopes as Digdir and the sinks hold them now.

Owns joining one observation (`Snapshot`: Digdir's state plus each client's sink labels) with
the manifests' names into the `Inventory` that `mpctl state` and `mpctl output` print: which
remote client is which manifest client (mpctl's ownership marker, as the planner reads it), its
registered kids with Digdir's expiry and the sink's label for each, and each managed scope's
approved consumers. Reads labels only, never key material, and no mpctl bookkeeping file: what
it knows comes from Digdir and the sinks. Read-only and no printing: must not write to Digdir
or a sink, nor plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from mpctl.model import (
    DesiredState,
    KeySlot,
    ObservedClient,
    ObservedJwks,
    ObservedState,
    SinkSpec,
    SinkState,
)
from mpctl.plan import Address, Owner, classify_clients, classify_scopes, managed_sinks
from mpctl.remote import RemoteApi
from mpctl.render import (
    LABEL_ORDER,
    ClientView,
    Inventory,
    KeyLabel,
    KeyView,
    ScopeView,
    SinkView,
)
from mpctl.secrets import SecretSink
from mpctl.state.snapshot import Snapshot, observe


async def read_inventory(
    api: RemoteApi, desired: DesiredState, sinks: Mapping[str, SecretSink]
) -> Inventory:
    """Observe Digdir and the sinks once (labels only) and join them with the manifests."""
    snapshot = await observe(api, orgno=desired.organisation.orgno, sinks=sinks)
    return build_inventory(desired, snapshot)


def build_inventory(desired: DesiredState, snapshot: Snapshot) -> Inventory:
    """The managed clients (declared, or carrying this project's marker) and scopes, sorted."""
    observed = snapshot.observed
    owner = Owner.of(desired)
    ownership = classify_clients(observed, owner)
    scopes = classify_scopes(desired, observed, owner)
    specs = managed_sinks(desired)
    names = sorted({*desired.clients, *ownership.managed, *ownership.ambiguous})
    clients = tuple(
        _client_view(
            name,
            remote=ownership.managed.get(name),
            observed=observed,
            sink=snapshot.sinks.get(name),
            spec=specs.get(name),
            env_name=desired.env_name,
            declared=name in desired.clients,
            ambiguous=ownership.ambiguous.get(name, ()),
            adopt=desired.clients[name].adopt if name in desired.clients else None,
        )
        for name in names
    )
    scope_names = sorted({*desired.scopes, *scopes.managed, *scopes.orphaned})
    return Inventory(
        env_name=desired.env_name,
        clients=clients,
        scopes=tuple(
            _scope_view(name, observed, declared=name in desired.scopes) for name in scope_names
        ),
        unmanaged_clients=sum(1 for u in ownership.unmanaged if u.kind == "client"),
        unmanaged_scopes=len(scopes.unmanaged) + len(scopes.foreign),
    )


def _client_view(
    name: str,
    *,
    remote: ObservedClient | None,
    observed: ObservedState,
    sink: SinkState | None,
    spec: SinkSpec | None,
    env_name: str,
    declared: bool,
    ambiguous: tuple[str, ...],
    adopt: str | None,
) -> ClientView:
    labels = sink or SinkState()
    jwks = observed.jwks.get(remote.client_id) if remote else None
    return ClientView(
        name=name,
        address=str(Address.client(name)),
        client_id=remote.client_id if remote else None,
        declared=declared,
        integration_type=remote.integration_type if remote else None,
        scopes=tuple(sorted(remote.scopes)) if remote else (),
        keys=key_views(jwks, labels),
        sink=None
        if spec is None
        else SinkView(type=spec.type, location=sink_location(spec, env_name, name)),
        notes=_client_notes(remote, labels, ambiguous, adopt=adopt),
    )


def key_views(jwks: ObservedJwks | None, labels: SinkState) -> tuple[KeyView, ...]:
    """Every kid Digdir registers or the sink labels, current first, then by kid."""
    slots = _slots(labels)
    registered = {key.kid: key for key in (jwks.keys if jwks else ())}
    views = []
    for kid in sorted({*registered, *slots}):
        label, slot = slots.get(kid, ("unknown", None))
        exp = registered[kid].exp if kid in registered else None
        views.append(
            KeyView(
                kid=kid,
                label=label,
                registered=kid in registered,
                created_at=slot.created_at if slot else None,
                promoted_at=slot.promoted_at if slot else None,
                expires_at=datetime.fromtimestamp(exp, UTC) if exp is not None else None,
            )
        )
    return tuple(sorted(views, key=lambda view: (LABEL_ORDER.index(view.label), view.kid)))


def _slots(labels: SinkState) -> dict[str, tuple[KeyLabel, KeySlot]]:
    found: dict[str, tuple[KeyLabel, KeySlot]] = {}
    for label, slot in (
        ("current", labels.current),
        ("pending", labels.pending),
        ("previous", labels.previous),
    ):
        if slot is not None:
            found.setdefault(slot.kid, (label, slot))  # type: ignore[arg-type]
    return found


def _client_notes(
    remote: ObservedClient | None,
    labels: SinkState,
    ambiguous: tuple[str, ...],
    *,
    adopt: str | None,
) -> tuple[str, ...]:
    notes = []
    if ambiguous:
        notes.append(
            f"{len(ambiguous)} remote clients carry this client's marker ({', '.join(ambiguous)}):"
            " mpctl leaves them alone until one is removed"
        )
    elif remote is None and adopt is not None:
        notes.append(f"not adopted yet: the next apply takes over client_id {adopt}")
    elif remote is None:
        notes.append("not in Digdir: run `mpctl plan` and `mpctl apply`")
    if remote is not None and labels.client_id not in (None, remote.client_id):
        notes.append(
            f"the sink records client_id {labels.client_id}, Digdir has {remote.client_id}: "
            "the next apply writes Digdir's"
        )
    return tuple(notes)


def _scope_view(name: str, observed: ObservedState, *, declared: bool) -> ScopeView:
    remote = observed.scopes.get(name)
    consumers = sorted(
        {record.consumer_orgno for record in observed.access.get(name, ()) if record.approved}
    )
    return ScopeView(
        name=name,
        address=str(Address.scope(name)),
        exists=remote is not None,
        declared=declared,
        active=remote.active if remote else None,
        visibility=remote.visibility if remote else None,
        delegation_source=remote.delegation_source if remote else None,
        consumers=tuple(consumers),
    )


_LOCATION_FIELDS: Mapping[str, tuple[str, ...]] = {
    "file": ("directory",),
    "aws-secrets-manager": ("region", "secret_name"),
    "azure-key-vault": ("vault_url", "secret_prefix"),
    "github-environment": ("repository", "environment"),
    "vercel": ("project", "targets"),
    "vault-kv": ("address", "mount", "path"),
    "kubernetes-secret": ("context", "namespace", "name"),
}
"""The fields of each built-in sink block that say where a client's secret is (no
credentials, no references): what `mpctl state` shows as the sink's location."""


def sink_location(spec: SinkSpec, env_name: str, client: str) -> str:
    """Where the sink keeps `client`'s secret, from its block ({env} and {client} filled in);
    a plug-in's sink is named by its type alone."""
    values = []
    for field in _LOCATION_FIELDS.get(spec.type, ()):
        value = getattr(spec, field, None)
        if value is None or value == "":
            continue
        text = ",".join(value) if isinstance(value, tuple) else str(value)
        values.append(f"{field}={text.replace('{env}', env_name).replace('{client}', client)}")
    return " ".join(values) if values else "(plug-in)"
