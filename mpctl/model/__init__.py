"""PURE: pydantic types only. Desired resources (strict) and observed resources (tolerant).

Must not import httpx, files, clocks or printing; must not import any other mpctl package but
`mpctl.errors`.
"""

from mpctl.model.base import ObservedModel, SpecModel
from mpctl.model.config import (
    AdminCredential,
    Defaults,
    EmbeddedEmulator,
    Environment,
    Organisation,
    ProjectConfig,
)
from mpctl.model.identifiers import Duration, Kid, OrgNo, ResourceName, ScopeName, orgno_problem
from mpctl.model.keys import KeySlot, SinkState
from mpctl.model.observed import (
    ObservedAccess,
    ObservedClient,
    ObservedJwk,
    ObservedJwks,
    ObservedScope,
    ObservedState,
)
from mpctl.model.registrations import (
    ClientRegistration,
    PublicJwk,
    Registration,
    ScopeRegistration,
    overlay,
)
from mpctl.model.resources import (
    Client,
    ClientOverride,
    Delegation,
    KeyPolicy,
    Resource,
    Scope,
    ScopeOverride,
)
from mpctl.model.secrets import FileSink, SecretSource, SinkSpec, SinkVariables
from mpctl.model.state import DesiredState

__all__ = [
    "AdminCredential",
    "Client",
    "ClientOverride",
    "ClientRegistration",
    "Defaults",
    "Delegation",
    "DesiredState",
    "Duration",
    "EmbeddedEmulator",
    "Environment",
    "FileSink",
    "KeyPolicy",
    "KeySlot",
    "Kid",
    "ObservedAccess",
    "ObservedClient",
    "ObservedJwk",
    "ObservedJwks",
    "ObservedModel",
    "ObservedScope",
    "ObservedState",
    "OrgNo",
    "Organisation",
    "ProjectConfig",
    "PublicJwk",
    "Registration",
    "Resource",
    "ResourceName",
    "Scope",
    "ScopeName",
    "ScopeOverride",
    "ScopeRegistration",
    "SecretSource",
    "SinkSpec",
    "SinkState",
    "SinkVariables",
    "SpecModel",
    "orgno_problem",
    "overlay",
]
