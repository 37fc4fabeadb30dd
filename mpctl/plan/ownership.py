"""Which remote objects mpctl manages: the explicit ownership marker and its rules.

The marker is the text `[mpctl:<name>]` at the end of a free-text field:

* **Clients.** Digdir has no labels, so a managed client's `description` ends with
  ` [mpctl:<client name>]` (DIGD, the NAIS operator, also keys on `description`). A remote
  client is managed exactly when it carries a marker, and it is matched to the manifest client
  of that name. Clients without a marker are listed in `plan.unmanaged` and never touched;
  only `mpctl import` adopts one (by writing the marker). Two active clients carrying the same
  marker are ambiguous: both are left alone and the plan carries an error. Inactive
  (soft-deleted) clients are ignored.
* **Scopes.** Scope names are assigned to the organisation by Digdir, so declaring a scope in
  the manifests is the ownership claim: a remote scope that is declared is managed, and mpctl
  writes the marker at the end of its `long_description` (after a blank line) when adopting it.
  A remote scope that is not declared is deleted only when it carries the marker (and the
  delete is allowed); otherwise it is listed as not managed and never touched. Inactive scopes
  that are not declared are ignored; a declared inactive scope is reactivated.

Desired text compares without the marker; the marker is its own pseudo-field
(`ownership_marker`) in the compared essence. Must not do I/O.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from mpctl.model.observed import ObservedClient, ObservedScope, ObservedState
from mpctl.model.state import DesiredState
from mpctl.plan.types import UnmanagedObject

_MARKER = re.compile(r"\s*\[mpctl:(?P<name>[^\]\s]+)\]\s*\Z")
CLIENT_SEPARATOR = " "
SCOPE_SEPARATOR = "\n\n"


def marker(name: str) -> str:
    return f"[mpctl:{name}]"


def add_marker(text: str | None, name: str, *, separator: str) -> str:
    """`text` followed by the marker for `name`; the marker alone when `text` is empty."""
    body = strip_marker(text)
    return f"{body}{separator}{marker(name)}" if body else marker(name)


def parse_marker(text: str | None) -> str | None:
    """The name in a trailing marker, or None when `text` carries none."""
    match = _MARKER.search(text or "")
    return match["name"] if match else None


def strip_marker(text: str | None) -> str:
    """`text` without a trailing marker (and the whitespace before it)."""
    return _MARKER.sub("", text or "")


@dataclass(frozen=True)
class ClientOwnership:
    """Remote clients split by the marker: managed (by manifest name), ambiguous, unmanaged."""

    managed: Mapping[str, ObservedClient]
    ambiguous: Mapping[str, tuple[str, ...]]
    unmanaged: tuple[UnmanagedObject, ...]


def classify_clients(observed: ObservedState) -> ClientOwnership:
    by_name: dict[str, list[ObservedClient]] = defaultdict(list)
    unmanaged: list[UnmanagedObject] = []
    for client_id in sorted(observed.clients):
        client = observed.clients[client_id]
        if not client.active:
            continue
        name = parse_marker(client.description)
        if name is None:
            unmanaged.append(_unmanaged_client(client))
        else:
            by_name[name].append(client)
    managed = {name: found[0] for name, found in sorted(by_name.items()) if len(found) == 1}
    ambiguous = {
        name: tuple(c.client_id for c in found)
        for name, found in sorted(by_name.items())
        if len(found) > 1
    }
    return ClientOwnership(managed=managed, ambiguous=ambiguous, unmanaged=tuple(unmanaged))


def _unmanaged_client(client: ObservedClient) -> UnmanagedObject:
    return UnmanagedObject(
        kind="client",
        remote_id=client.client_id,
        name=client.client_name,
        reason="no [mpctl:<name>] marker in its description",
    )


@dataclass(frozen=True)
class ScopeOwnership:
    """Remote scopes split by declaration and marker."""

    managed: Mapping[str, ObservedScope]
    """Declared in the manifests (active or not), by scope name."""
    orphaned: Mapping[str, ObservedScope]
    """Active, not declared, carrying the marker: candidates for deletion."""
    unmanaged: tuple[UnmanagedObject, ...]


def classify_scopes(desired: DesiredState, observed: ObservedState) -> ScopeOwnership:
    managed: dict[str, ObservedScope] = {}
    orphaned: dict[str, ObservedScope] = {}
    unmanaged: list[UnmanagedObject] = []
    for name in sorted(observed.scopes):
        scope = observed.scopes[name]
        if name in desired.scopes:
            managed[name] = scope
        elif not scope.active:
            continue
        elif parse_marker(scope.long_description) == name:
            orphaned[name] = scope
        else:
            unmanaged.append(
                UnmanagedObject(
                    kind="scope", remote_id=name, reason="not declared in the manifests"
                )
            )
    return ScopeOwnership(managed=managed, orphaned=orphaned, unmanaged=tuple(unmanaged))
