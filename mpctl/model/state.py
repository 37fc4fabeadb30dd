"""Desired state for one environment: the resolved result of loading the manifests.

Owns `DesiredState`, an immutable, sorted view of every client and scope that should exist in
one environment. Must not do I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mpctl.model.config import Environment, Organisation
from mpctl.model.resources import Client, Scope


@dataclass(frozen=True)
class DesiredState:
    """Everything the manifests ask for in one environment, keyed by name, sorted."""

    env_name: str
    environment: Environment
    organisation: Organisation
    clients: Mapping[str, Client]
    scopes: Mapping[str, Scope]
    project: str | None = None
    """The project's identity (`project:` in mpctl.yaml): part of every ownership marker."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "clients", dict(sorted(self.clients.items())))
        object.__setattr__(self, "scopes", dict(sorted(self.scopes.items())))

    def client_orgno(self, client: Client) -> str:
        """The organisation a client is registered for: its `client_orgno`, else our own."""
        return client.client_orgno or self.organisation.orgno

    def is_supplied(self, client: Client) -> bool:
        """Supplier mode: the client is registered for another organisation."""
        return self.client_orgno(client) != self.organisation.orgno

    def client_orgnos(self) -> dict[str, int]:
        """How many clients each organisation gets (own included when it has any), sorted."""
        counts: dict[str, int] = {}
        for client in self.clients.values():
            orgno = self.client_orgno(client)
            counts[orgno] = counts.get(orgno, 0) + 1
        return dict(sorted(counts.items()))
