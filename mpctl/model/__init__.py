"""PURE: pydantic types only. Desired resources (strict) and observed resources (tolerant).

Must not import httpx, files, clocks or printing; must not import any other mpctl package but
`mpctl.errors`.
"""

from mpctl.model.base import ObservedModel, SpecModel
from mpctl.model.config import (
    DIGDIR,
    DIGDIR_PROD,
    DIGDIR_TEST,
    ENDPOINT_FIELDS,
    Access,
    AdminCredential,
    Defaults,
    EmbeddedEmulator,
    Environment,
    Organisation,
    ProjectConfig,
    endpoint_variable,
    is_loopback_host,
)
from mpctl.model.identifiers import (
    KID_PATTERN,
    RESOURCE_NAME_PATTERN,
    Duration,
    Kid,
    OrgNo,
    ResourceName,
    ScopeName,
    format_duration,
    orgno_problem,
)
from mpctl.model.keys import KeySlot, SinkState, jwk_thumbprint, rsa_thumbprint
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
    MAX_GRANT_LIFETIME_SECONDS,
    MAX_KEYS_PER_CLIENT,
    ROTATION_SLOTS,
    Client,
    ClientOverride,
    Delegation,
    KeyPolicy,
    Resource,
    Scope,
    ScopeOverride,
)
from mpctl.model.schemas import model_schemas
from mpctl.model.secrets import DotenvEncoding, FileSink, SecretSource, SinkSpec, SinkVariables
from mpctl.model.state import DesiredState

__all__ = [
    "DIGDIR",
    "DIGDIR_PROD",
    "DIGDIR_TEST",
    "ENDPOINT_FIELDS",
    "KID_PATTERN",
    "MAX_GRANT_LIFETIME_SECONDS",
    "MAX_KEYS_PER_CLIENT",
    "RESOURCE_NAME_PATTERN",
    "ROTATION_SLOTS",
    "Access",
    "AdminCredential",
    "Client",
    "ClientOverride",
    "ClientRegistration",
    "Defaults",
    "Delegation",
    "DesiredState",
    "DotenvEncoding",
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
    "endpoint_variable",
    "format_duration",
    "is_loopback_host",
    "jwk_thumbprint",
    "model_schemas",
    "orgno_problem",
    "overlay",
    "rsa_thumbprint",
]
