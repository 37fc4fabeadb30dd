"""The fixed words of Digdir's API: enumerations, admin scopes and grant identifiers.

Owns the constant vocabulary taken from the API reference (integration types, auth methods,
scope visibilities, access states, admin scopes, MP token lifetimes). It must not hold any
behaviour: rules that use these words live in the `*_rules` modules.
"""

from __future__ import annotations

from typing import Final, Literal

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"

IntegrationType = Literal[
    "maskinporten", "idporten", "api_klient", "ansattporten", "krr", "eformidling"
]
ScopeIntegrationType = Literal[
    "maskinporten",
    "idporten",
    "api_klient",
    "ansattporten",
    "krr",
    "eformidling",
    "idporten_saml2",
]
ApplicationType = Literal["web", "browser", "native"]
AuthMethod = Literal["private_key_jwt", "client_secret_basic", "client_secret_post", "none"]
GrantType = Literal[
    "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"
]
RefreshTokenUsage = Literal["ONETIME", "REUSE"]
Visibility = Literal["PUBLIC", "PRIVATE", "INTERNAL"]
TokenType = Literal["SELF_CONTAINED", "OPAQUE"]
AccessState = Literal["REQUESTED", "APPROVED", "DENIED"]
Environment = Literal["test", "prod"]

TOKEN_INTEGRATION_TYPES: Final = frozenset({"maskinporten", "krr"})
SECRET_AUTH_METHODS: Final = frozenset({"client_secret_basic", "client_secret_post"})
GRANT_SIGNING_ALGORITHMS: Final = ("RS256", "RS384", "RS512")

DCR_READ: Final = "idporten:dcr.read"
DCR_WRITE: Final = "idporten:dcr.write"
DCR_MODIFY: Final = "idporten:dcr.modify"
DCR_SUPPLIER: Final = "idporten:dcr.supplier"
SCOPES_READ: Final = "idporten:scopes.read"
SCOPES_WRITE: Final = "idporten:scopes.write"
ADMIN_SCOPES: Final = frozenset(
    {DCR_READ, DCR_WRITE, DCR_MODIFY, DCR_SUPPLIER, SCOPES_READ, SCOPES_WRITE}
)

DEFAULT_ACCESS_TOKEN_LIFETIME: Final = 120
ICD_NORWEGIAN_ORGNO: Final = "0192"
CONSUMER_AUTHORITY: Final = "iso6523-actorid-upis"

DEFAULT_DELEGATION_ISSUERS: Final[dict[str, str]] = {
    "test": "https://tt02.altinn.no/",
    "prod": "https://www.altinn.no/",
}

KEY_MAX_LIFETIME_SECONDS: Final = 365 * 24 * 3600
MAX_KEYS_PER_CLIENT: Final = 5
MIN_RSA_BITS: Final = 2048
