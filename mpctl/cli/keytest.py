"""The rotation's test phase, made real: mint a token with a key at the Maskinporten endpoint.

Implements `mpctl.apply.context.KeyTester` with `mpctl.remote`'s token exchange, read through
`mpctl.verify`'s `TokenResult`. It lives in the
CLI because `apply` and `verify` are independent siblings. Classifies failures so apply can
tell "not propagated yet" (poll) from "clock skew" (never blame the key) from a real refusal.
"""

from __future__ import annotations

import httpx

from mpctl.apply import KeyTestResult, Verdict
from mpctl.remote import TOKEN_RETRY, GrantRequest, RetryPolicy, fresh_grants
from mpctl.secrets import PrivateKey
from mpctl.verify import TokenResult, request_token, signing_key

_NOT_YET_KNOWN = frozenset({"unknown-kid", "MP-100"})
_CLOCK = frozenset({"MP-130", "issue-time-after-now"})


class TokenKeyTester:
    """Tests keys against one environment's token endpoint."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        issuer: str,
        token_endpoint: str,
        policy: RetryPolicy = TOKEN_RETRY,
    ) -> None:
        self._http, self._issuer, self._endpoint = http, issuer, token_endpoint
        self._policy = policy

    async def test(
        self,
        *,
        client_id: str,
        key: PrivateKey,
        scopes: tuple[str, ...],
        consumer_org: str | None,
    ) -> KeyTestResult:
        request = GrantRequest(client_id, self._issuer, scopes, consumer_org=consumer_org)
        grants = fresh_grants(signing_key(key), request)
        result = await request_token(self._http, self._endpoint, grants, policy=self._policy)
        return classify(result)


def classify(result: TokenResult) -> KeyTestResult:
    """Map a token exchange outcome onto what it proves about the key."""
    if result.ok:
        return KeyTestResult(Verdict.OK)
    if result.error is None:
        return KeyTestResult(Verdict.UNAVAILABLE, f"token endpoint {result.outcome}")
    entry = result.error.diagnosis.best
    detail = _describe(result)
    if entry is not None and entry.id in _NOT_YET_KNOWN:
        return KeyTestResult(Verdict.NOT_YET_KNOWN, detail)
    if entry is not None and entry.id in _CLOCK:
        return KeyTestResult(Verdict.CLOCK_SKEW, detail)
    return KeyTestResult(Verdict.REFUSED, detail)


def _describe(result: TokenResult) -> str:
    assert result.error is not None
    diagnosis = result.error.diagnosis
    entry = diagnosis.best
    code = f"{entry.id}: " if entry else ""
    text = diagnosis.description or diagnosis.error or f"HTTP {result.error.http_status}"
    return f"{code}{text}"
