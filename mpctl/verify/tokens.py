"""Mint a client's token for `mpctl verify` and the rotation's key test, and read the outcome.

Owns `TokenResult` (how one exchange ended: `success`, `client_error`, `exhausted`, `timeout`,
with the refusal read against Maskinporten's error catalogue) and `signing_key`, a sink's
`PrivateKey` as the grant signer. The exchange itself (grant, POST, retry policy, events) is
`mpctl.remote`'s `TokenExchange`. Never raises for HTTP outcomes; the grant and the token never
appear in a result's repr.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from mpctl.remote import (
    TOKEN_REQUEST_TIMEOUT,
    TOKEN_RETRY,
    GrantFactory,
    Outcome,
    ReasonCode,
    RemoteCallError,
    RetryPolicy,
    SigningKey,
    TokenExchange,
    TokenObserver,
    TokenRefusedError,
    null_observer,
    outcome_of,
    reason_code,
)
from mpctl.secrets import PrivateKey
from mpctl.verify.catalogue import Diagnosis, diagnose


@dataclass(frozen=True)
class TokenError:
    """A refused request: the status and the endpoint's error body, read against the catalogue."""

    http_status: int
    diagnosis: Diagnosis


@dataclass(frozen=True)
class TokenResult:
    """How the exchange ended. `access_token` is set only on success and never shows in a repr."""

    outcome: Outcome
    attempts: int
    duration_ms: int
    access_token: SecretStr | None = None
    expires_in: int | None = None
    scope: str | None = None
    http_status: int | None = None
    reason_code: ReasonCode | None = None
    error: TokenError | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


def signing_key(key: PrivateKey) -> SigningKey:
    """A sink's key as a grant signs with it: its pinned `alg` and its `kid`."""
    return SigningKey(key.crypto_key, algorithm=key.algorithm, kid=key.kid)


async def request_token(
    http: httpx.AsyncClient,
    token_endpoint: str,
    make_grant: GrantFactory,
    *,
    policy: RetryPolicy = TOKEN_RETRY,
    request_timeout: float = TOKEN_REQUEST_TIMEOUT,
    observer: TokenObserver = null_observer,
    client: str | None = None,
) -> TokenResult:
    """POST fresh grants to `token_endpoint` under `policy`; never raises for HTTP outcomes."""
    exchange = TokenExchange(
        http,
        token_endpoint,
        make_grant,
        policy=policy,
        request_timeout=request_timeout,
        observer=observer,
        client=client,
    )
    try:
        issued = await exchange.run()
    except TokenRefusedError as refused:
        return _refused(exchange, refused)
    except RemoteCallError as failure:
        return TokenResult(
            outcome=outcome_of(failure),
            attempts=exchange.attempts,
            duration_ms=exchange.duration_ms,
            http_status=failure.status,
            reason_code=reason_code(failure),
        )
    return TokenResult(
        outcome="success",
        attempts=exchange.attempts,
        duration_ms=exchange.duration_ms,
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        scope=issued.scope,
        http_status=issued.http_status,
    )


def _refused(exchange: TokenExchange, refused: TokenRefusedError) -> TokenResult:
    status = refused.status or 400
    return TokenResult(
        outcome="client_error",
        attempts=exchange.attempts,
        duration_ms=exchange.duration_ms,
        http_status=status,
        error=TokenError(status, diagnose(refused.error_body())),
    )
