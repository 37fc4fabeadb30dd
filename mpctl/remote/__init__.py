"""The only HTTP to Digdir: async httpx client, admin auth, retries, error mapping, fetch.

`open_remote(environment, ...)` gives an `HttpRemote` (the `RemoteApi` seam); `fetch(api,
orgno=...)` reads one `ObservedState` snapshot. `TokenExchange` is the one OAuth token
exchange (JWT grant → access token) for the admin token, `verify` and the rotation's key test.
Failures are the typed exceptions re-exported here, all `mpctl.errors.RemoteError`s except
the input errors (`UnsafeRequestError`, `AdminCredentialError`, `GrantError`). Must not import
`mpctl.plan`, `mpctl.apply` or `mpctl.emulator`: the client moves data, it does not decide.
"""

from mpctl.remote.auth import (
    AdminAuth,
    AdminKey,
    AdminTokenSource,
    admin_grants,
    load_admin_credential,
)
from mpctl.remote.call_events import CallEvent, CallObserver, watch_calls
from mpctl.remote.client import DEFAULT_CONCURRENCY, HttpRemote
from mpctl.remote.connect import (
    admin_credential_for,
    effective_environment,
    network_transport,
    open_http,
    open_remote,
)
from mpctl.remote.credentials import UNSET_HINT, unset_variables
from mpctl.remote.errors import (
    AdminCredentialError,
    AdminTokenError,
    AmbiguousWriteError,
    BadRequest,
    Conflict,
    Forbidden,
    HttpStatusError,
    NotFound,
    PreconditionRequired,
    RateLimited,
    RemoteCallError,
    ResponseFormatError,
    ServerError,
    TransportError,
    Unauthorized,
    UnsafeRequestError,
)
from mpctl.remote.fetch import fetch
from mpctl.remote.oauth import (
    TOKEN_REQUEST_TIMEOUT,
    TOKEN_RETRY,
    IssuedToken,
    TokenExchange,
    outcome_of,
    reason_code,
)
from mpctl.remote.oauth_errors import TokenRefusedError, TokenTimeoutError
from mpctl.remote.oauth_events import (
    Outcome,
    ReasonCode,
    TokenEvent,
    TokenObserver,
    null_observer,
)
from mpctl.remote.oauth_grant import (
    GRANT_LIFETIME,
    GRANT_TYPE,
    GrantError,
    GrantFactory,
    GrantRequest,
    SigningKey,
    fresh_grants,
    grant_claims,
    new_jti,
    sign_grant,
)
from mpctl.remote.protocol import RemoteApi, WireBody
from mpctl.remote.retry import RetryNotice, RetryPolicy
from mpctl.remote.retry_after import parse_retry_after

__all__ = [
    "DEFAULT_CONCURRENCY",
    "GRANT_LIFETIME",
    "GRANT_TYPE",
    "TOKEN_REQUEST_TIMEOUT",
    "TOKEN_RETRY",
    "UNSET_HINT",
    "AdminAuth",
    "AdminCredentialError",
    "AdminKey",
    "AdminTokenError",
    "AdminTokenSource",
    "AmbiguousWriteError",
    "BadRequest",
    "CallEvent",
    "CallObserver",
    "Conflict",
    "Forbidden",
    "GrantError",
    "GrantFactory",
    "GrantRequest",
    "HttpRemote",
    "HttpStatusError",
    "IssuedToken",
    "NotFound",
    "Outcome",
    "PreconditionRequired",
    "RateLimited",
    "ReasonCode",
    "RemoteApi",
    "RemoteCallError",
    "ResponseFormatError",
    "RetryNotice",
    "RetryPolicy",
    "ServerError",
    "SigningKey",
    "TokenEvent",
    "TokenExchange",
    "TokenObserver",
    "TokenRefusedError",
    "TokenTimeoutError",
    "TransportError",
    "Unauthorized",
    "UnsafeRequestError",
    "WireBody",
    "admin_credential_for",
    "admin_grants",
    "effective_environment",
    "fetch",
    "fresh_grants",
    "grant_claims",
    "load_admin_credential",
    "network_transport",
    "new_jti",
    "null_observer",
    "open_http",
    "open_remote",
    "outcome_of",
    "parse_retry_after",
    "reason_code",
    "sign_grant",
    "unset_variables",
    "watch_calls",
]
