"""Which remote objects mpctl manages: the explicit ownership marker and its rules.

The marker is the text `[mpctl:<project>/<name>]` at the end of a free-text field, where
`<project>` is `project:` from mpctl.yaml. Projects written before `project:` existed use the
legacy form `[mpctl:<name>]`, which is read as this project's and rewritten on the next update.

* **Clients.** Digdir has no labels, so a managed client's `description` ends with the marker
  (DIGD, the NAIS operator, also keys on `description`). A remote client is managed exactly when
  its marker is this project's (or legacy), and it is matched to the manifest client of that
  name. Clients without a marker, or with another project's, are listed in `plan.unmanaged` and
  never touched; only an `adopt:` in the manifests (written by `mpctl import`) takes one over.
  Two active clients carrying the same marker are ambiguous: both are left alone and the plan
  carries an error. Inactive (soft-deleted) clients are ignored. Supplier mode does not change
  this: names stay unique in a project, whichever organisation a client is registered for
  (`client_orgno` is an attribute, compared by the planner), so the marker needs no orgno and
  a customer's client found under another organisation than declared is replaced, not
  duplicated. Customers' clients are listed only when the admin holds idporten:dcr.supplier.
* **Scopes.** Scope names are assigned to the organisation by Digdir, so declaring a scope in
  the manifests is the ownership claim: a remote scope that is declared is managed, and mpctl
  writes the marker at the end of its `long_description` (after a blank line). A declared scope
  that carries another project's marker is refused (two projects would fight over it). A remote
  scope that is not declared is deleted only when it carries this project's marker in its
  current form (and the delete is allowed); otherwise it is listed as not managed.

Desired text compares without the marker; the marker is its own pseudo-field
(`ownership_marker`) in the compared essence. Must not do I/O.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from mpctl.model import DesiredState, ObservedClient, ObservedScope, ObservedState
from mpctl.plan.types import UnmanagedObject
from mpctl.redaction import redact_text

_MARKER = re.compile(r"\s*\[mpctl:(?P<body>[^\]\s]+)\]\s*\Z")
_PROJECT = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
CLIENT_SEPARATOR = " "
SCOPE_SEPARATOR = "\n\n"


@dataclass(frozen=True, order=True)
class Marker:
    """An ownership claim: a manifest name, and the project that made it (None: legacy form)."""

    name: str
    project: str | None = None

    def __str__(self) -> str:
        owner = f"{self.project}/" if self.project else ""
        return f"[mpctl:{owner}{self.name}]"


@dataclass(frozen=True)
class Owner:
    """This project as an owner of remote objects."""

    project: str | None = None

    @classmethod
    def of(cls, desired: DesiredState) -> Owner:
        return cls(desired.project)

    def marker(self, name: str) -> Marker:
        return Marker(name, self.project)

    def claims(self, found: Marker) -> bool:
        """True for this project's markers, and for legacy ones (read as ours, then rewritten)."""
        return found.project in (None, self.project)

    def describe(self, found: Marker) -> str:
        """Why a marker is not ours, for people."""
        return f"managed by mpctl project {found.project!r}, not this one"


def parse_marker(text: str | None) -> Marker | None:
    """The claim in a trailing marker, or None when `text` carries none.

    Scope names hold ':' before any '/', and project names never hold ':', so
    `[mpctl:acme:a/b]` is the legacy marker of scope `acme:a/b`, and `[mpctl:web/a]` names
    project `web`.
    """
    match = _MARKER.search(text or "")
    if match is None:
        return None
    body = match["body"]
    project, slash, name = body.partition("/")
    if slash and name and _PROJECT.fullmatch(project):
        return Marker(name, project)
    return Marker(body)


def add_marker(text: str | None, found: Marker, *, separator: str) -> str:
    """`text` followed by `found`; the marker alone when `text` is empty."""
    body = strip_marker(text)
    return f"{body}{separator}{found}" if body else str(found)


def strip_marker(text: str | None) -> str:
    """`text` without a trailing marker (and the whitespace before it)."""
    return _MARKER.sub("", text or "")


@dataclass(frozen=True)
class ClientOwnership:
    """Remote clients split by the marker: managed (by manifest name), ambiguous, unmanaged."""

    managed: Mapping[str, ObservedClient]
    ambiguous: Mapping[str, tuple[str, ...]]
    unmanaged: tuple[UnmanagedObject, ...]


def classify_clients(observed: ObservedState, owner: Owner = Owner()) -> ClientOwnership:
    by_name: dict[str, list[ObservedClient]] = defaultdict(list)
    unmanaged: list[UnmanagedObject] = []
    for client_id in sorted(observed.clients):
        client = observed.clients[client_id]
        if not client.active:
            continue
        found = parse_marker(client.description)
        if found is None:
            unmanaged.append(_unmanaged_client(client, "no [mpctl:…] marker in its description"))
        elif not owner.claims(found):
            unmanaged.append(_unmanaged_client(client, owner.describe(found)))
        else:
            by_name[found.name].append(client)
    managed = {name: found[0] for name, found in sorted(by_name.items()) if len(found) == 1}
    ambiguous = {
        name: tuple(c.client_id for c in found)
        for name, found in sorted(by_name.items())
        if len(found) > 1
    }
    return ClientOwnership(managed=managed, ambiguous=ambiguous, unmanaged=tuple(unmanaged))


def _unmanaged_client(client: ObservedClient, reason: str) -> UnmanagedObject:
    name = redact_text(client.client_name) if client.client_name else None
    return UnmanagedObject(kind="client", remote_id=client.client_id, name=name, reason=reason)


@dataclass(frozen=True)
class ScopeOwnership:
    """Remote scopes split by declaration and marker."""

    managed: Mapping[str, ObservedScope]
    """Declared in the manifests (active or not) and not claimed by another project."""
    orphaned: Mapping[str, ObservedScope]
    """Active, not declared, carrying this project's marker: candidates for deletion."""
    unmanaged: tuple[UnmanagedObject, ...]
    foreign: Mapping[str, str] = field(default_factory=dict)
    """Declared here but carrying another project's marker: scope name → that project."""


def classify_scopes(
    desired: DesiredState, observed: ObservedState, owner: Owner = Owner()
) -> ScopeOwnership:
    managed: dict[str, ObservedScope] = {}
    orphaned: dict[str, ObservedScope] = {}
    foreign: dict[str, str] = {}
    unmanaged: list[UnmanagedObject] = []
    for name in sorted(observed.scopes):
        scope = observed.scopes[name]
        found = parse_marker(scope.long_description)
        own = found if found is not None and found.name == name else None
        if name in desired.scopes:
            if own is not None and not owner.claims(own):
                foreign[name] = str(own.project)
            else:
                managed[name] = scope
        elif not scope.active:
            continue
        elif own == owner.marker(name):
            orphaned[name] = scope
        else:
            reason = _undeclared_scope_reason(own, owner)
            unmanaged.append(UnmanagedObject(kind="scope", remote_id=name, reason=reason))
    return ScopeOwnership(
        managed=managed, orphaned=orphaned, unmanaged=tuple(unmanaged), foreign=foreign
    )


def _undeclared_scope_reason(found: Marker | None, owner: Owner) -> str:
    if found is None:
        return "not declared in the manifests"
    if not owner.claims(found):
        return owner.describe(found)
    return (
        f"not declared; carries the legacy marker {found}, which another project may have "
        "written, so mpctl does not delete it"
    )
