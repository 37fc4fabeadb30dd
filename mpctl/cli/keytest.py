"""The rotation's test phase, made real: mint a token with a key at the Maskinporten endpoint.

Implements `mpctl.apply.context.KeyTester` with `mpctl.verify`'s token exchange. It lives in the
CLI because `apply` and `verify` are independent siblings. Classifies failures so apply can
tell "not propagated yet" (poll) from "clock skew" (never blame the key) from a real refusal.
"""

from __future__ import annotations

import httpx

from mpctl.apply.context import KeyTestResult, Verdict
from mpctl.secrets import PrivateKey
from mpctl.verify import GrantRequest, RetryBudget, TokenResult, fresh_grants, request_token

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
        budget: RetryBudget | None = None,
    ) -> None:
        self._http, self._issuer, self._endpoint = http, issuer, token_endpoint
        self._budget = budget or RetryBudget()

    async def test(
        self,
        *,
        client_id: str,
        key: PrivateKey,
        scopes: tuple[str, ...],
        consumer_org: str | None,
    ) -> KeyTestResult:
        request = GrantRequest(client_id, self._issuer, scopes, consumer_org=consumer_org)
        result = await request_token(
            self._http, self._endpoint, fresh_grants(key, request), budget=self._budget
        )
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
