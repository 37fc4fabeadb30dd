"""What Digdir and the secret sinks hold for the managed resources, as data and as text.

Owns `Inventory` (the one view `mpctl state` prints: each managed client with its client_id,
scopes, registered kids and their sink labels, each managed scope with its consumers),
`WorkloadValues` (what `mpctl output` prints for one client) and their renderers: text for
people, JSON and YAML for tools. Every remote string is made safe to print (control and
bidi-override characters escaped) in the text form; the data forms carry it as JSON does.
Pure: builds strings, never prints, reads no clock and no file. Holds no key material except
`WorkloadValues.private_key`, which only an explicit request fills and `repr` never shows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from mpctl.render.document import safe_text

KeyLabel = Literal["current", "pending", "previous", "unknown"]
LABEL_ORDER: tuple[KeyLabel, ...] = ("current", "pending", "previous", "unknown")
DataFormat = Literal["json", "yaml"]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeyView(_View):
    """One kid of a client: where it is (registered at Digdir, labelled in the sink) and when."""

    kid: str
    label: KeyLabel = Field(description="The sink's label for it; unknown: not in the sink")
    registered: bool = Field(description="Digdir lists it in the client's JWKS")
    created_at: datetime | None = Field(default=None, description="From the sink's label")
    promoted_at: datetime | None = None
    expires_at: datetime | None = Field(default=None, description="Digdir's exp")


class SinkView(_View):
    """Where a client's key is kept: the sink's type and its place, as the manifests name it."""

    type: str
    location: str


class ClientView(_View):
    name: str
    address: str
    client_id: str | None = Field(description="None: not in Digdir (yet)")
    declared: bool = Field(description="In the manifests for this environment")
    integration_type: str | None = None
    scopes: tuple[str, ...] = ()
    keys: tuple[KeyView, ...] = ()
    sink: SinkView | None = Field(default=None, description="None: mpctl manages no key for it")
    notes: tuple[str, ...] = ()


class ScopeView(_View):
    name: str
    address: str
    exists: bool = Field(description="Digdir has the scope (active or not)")
    declared: bool
    active: bool | None = None
    visibility: str | None = None
    delegation_source: str | None = None
    consumers: tuple[str, ...] = Field(default=(), description="Orgnos with APPROVED access")


class Inventory(_View):
    """One environment's managed clients and scopes, sorted by name."""

    env_name: str
    clients: tuple[ClientView, ...]
    scopes: tuple[ScopeView, ...]
    unmanaged_clients: int = Field(description="Active remote clients this project does not own")
    unmanaged_scopes: int = 0

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(
            sorted([*(c.address for c in self.clients), *(s.address for s in self.scopes)])
        )

    def find(self, address: str) -> ClientView | ScopeView | None:
        views: tuple[ClientView | ScopeView, ...] = (*self.clients, *self.scopes)
        return next((view for view in views if view.address == address), None)


class WorkloadValues(_View):
    """The values a workload needs to get tokens for one client."""

    client: str
    client_id: str
    kid: str | None = Field(description="The sink's current kid; None: mpctl manages no key")
    token_endpoint: str
    issuer: str
    audience: str = Field(description="The grant's aud: the issuer, exactly")
    scopes: tuple[str, ...]
    private_key: str | None = Field(default=None, repr=False, description="PEM, only on request")


def render_inventory(inventory: Inventory) -> str:
    """`mpctl state list` for people: every managed client and scope, then what is not ours."""
    lines = [
        f"Environment {safe_text(inventory.env_name)}: {_count(inventory.clients, 'client')} "
        f"and {_count(inventory.scopes, 'scope')} managed by mpctl",
    ]
    for client in inventory.clients:
        lines += ["", *client_lines(client)]
    for scope in inventory.scopes:
        lines += ["", *scope_lines(scope)]
    lines += _unmanaged_lines(inventory)
    return "\n".join(lines) + "\n"


def render_view(view: ClientView | ScopeView) -> str:
    """`mpctl state show ADDRESS` for people."""
    found = client_lines(view) if isinstance(view, ClientView) else scope_lines(view)
    return "\n".join(found) + "\n"


def client_lines(client: ClientView) -> list[str]:
    lines = [safe_text(client.address)]
    lines += _field("client_id", client.client_id or "(not in Digdir)")
    lines += _field("integration_type", client.integration_type)
    lines += _field("scopes", ", ".join(client.scopes) or "(none)")
    if client.sink is None:
        lines += _field("keys", "not managed by mpctl (keys: null)")
    else:
        lines += _field("sink", f"{client.sink.type} {client.sink.location}")
    lines += [f"  key {line}" for line in (_key_line(key) for key in client.keys)]
    if not client.declared:
        lines += _field("note", "not in the manifests: the next apply may delete it")
    lines += [f"  note: {safe_text(note)}" for note in client.notes]
    return lines


def scope_lines(scope: ScopeView) -> list[str]:
    lines = [safe_text(scope.address)]
    if not scope.exists:
        lines += _field("state", "not in Digdir (run `mpctl apply`)")
    elif scope.active is False:
        lines += _field("state", "inactive (deleted at Digdir)")
    lines += _field("visibility", scope.visibility)
    lines += _field("delegation_source", scope.delegation_source or "(none)")
    lines += _field("consumers", ", ".join(scope.consumers) or "(none)")
    if not scope.declared:
        lines += _field("note", "not in the manifests: the next apply may delete it")
    return lines


def _key_line(key: KeyView) -> str:
    parts = [safe_text(key.kid), key.label]
    if not key.registered:
        parts.append("not registered at Digdir")
    if key.created_at is not None:
        parts.append(f"created {_when(key.created_at)}")
    if key.promoted_at is not None:
        parts.append(f"promoted {_when(key.promoted_at)}")
    if key.expires_at is not None:
        parts.append(f"expires {_when(key.expires_at)}")
    return "  ".join(parts)


def _field(name: str, value: str | None) -> list[str]:
    return [] if value is None else [f"  {name}: {safe_text(value)}"]


def _when(moment: datetime) -> str:
    """To the second, in UTC's `Z` spelling (the data forms keep the full precision)."""
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _count(items: tuple[Any, ...], noun: str) -> str:
    return f"{len(items)} {noun}" + ("" if len(items) == 1 else "s")


def _unmanaged_lines(inventory: Inventory) -> list[str]:
    found = []
    if inventory.unmanaged_clients:
        found.append(
            f"{_count_of(inventory.unmanaged_clients, 'remote client')} not managed by this "
            "project: list them with `mpctl plan`, take them over with `mpctl import`."
        )
    if inventory.unmanaged_scopes:
        found.append(
            f"{_count_of(inventory.unmanaged_scopes, 'remote scope')} not declared in the "
            "manifests (see `mpctl plan`)."
        )
    return ["", *found] if found else []


def _count_of(count: int, noun: str) -> str:
    return f"{count} {noun}" + (" is" if count == 1 else "s are")


def render_workload(values: WorkloadValues) -> str:
    """`mpctl output` for people: one `name: value` line each (the key last, when asked)."""
    lines = [f"{name}: {safe_text(value)}" for name, value in _workload_fields(values)]
    if values.private_key is not None:
        lines.append("private_key: |")
        lines += [f"  {line}" for line in values.private_key.strip().splitlines()]
    return "\n".join(lines) + "\n"


def _workload_fields(values: WorkloadValues) -> Iterable[tuple[str, str]]:
    yield "client", values.client
    yield "client_id", values.client_id
    if values.kid is not None:
        yield "kid", values.kid
    yield "token_endpoint", values.token_endpoint
    yield "issuer", values.issuer
    yield "audience", values.audience
    yield "scopes", " ".join(values.scopes)


def render_data(view: BaseModel, output: DataFormat) -> str:
    """Any view above as sorted JSON or YAML, the same bytes for the same view."""
    data = _sorted(view.model_dump(mode="json"))
    if output == "json":
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
