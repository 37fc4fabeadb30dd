"""The only HTTP to Digdir: async httpx client, admin auth, retries, error mapping, fetch.

`open_remote(environment, ...)` gives an `HttpRemote` (the `RemoteApi` seam); `fetch(api,
orgno=...)` reads one `ObservedState` snapshot. Failures are the typed exceptions re-exported
here, all `mpctl.errors.RemoteError`s except the two input errors (`UnsafeRequestError`,
`AdminCredentialError`). Must not import `mpctl.plan`, `mpctl.apply` or `mpctl.emulator`: the
client moves data, it does not decide.
"""

from mpctl.remote.auth import (
    GRANT_LIFETIME,
    GRANT_TYPE,
    AdminAuth,
    AdminKey,
    AdminTokenSource,
    build_admin_grant,
    load_admin_credential,
)
from mpctl.remote.client import DEFAULT_CONCURRENCY, HttpRemote
from mpctl.remote.connect import open_http, open_remote
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
from mpctl.remote.protocol import RemoteApi, WireBody
from mpctl.remote.retry import RetryNotice, RetryPolicy

__all__ = [
    "DEFAULT_CONCURRENCY",
    "GRANT_LIFETIME",
    "GRANT_TYPE",
    "AdminAuth",
    "AdminCredentialError",
    "AdminKey",
    "AdminTokenError",
    "AdminTokenSource",
    "AmbiguousWriteError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "HttpRemote",
    "HttpStatusError",
    "NotFound",
    "PreconditionRequired",
    "RateLimited",
    "RemoteApi",
    "RemoteCallError",
    "ResponseFormatError",
    "RetryNotice",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "UnsafeRequestError",
    "WireBody",
    "build_admin_grant",
    "fetch",
    "load_admin_credential",
    "open_http",
    "open_remote",
]
