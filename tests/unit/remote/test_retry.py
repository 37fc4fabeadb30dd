"""Which failures are retried, how often, and that a server's Retry-After is honoured."""

from __future__ import annotations

from typing import Any

import pytest

from mpctl.remote import errors as e
from mpctl.remote.retry import RetryNotice, RetryPolicy, retry_decision, with_retries

CTX: dict[str, Any] = {"method": "GET", "path": "/api/v1/clients"}


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (e.ServerError("x", status=503, **CTX), True),
        (e.RateLimited("x", status=429, **CTX), True),
        (e.TransportError("x", sent=False, **CTX), True),
        (e.TransportError("x", sent=True, **CTX), True),
        (e.TransportError("untrusted certificate", sent=False, permanent=True, **CTX), False),
        (e.BadRequest("x", status=400, **CTX), False),
        (e.Unauthorized("x", status=401, **CTX), False),
        (e.Forbidden("x", status=403, **CTX), False),
        (e.NotFound("x", status=404, **CTX), False),
        (e.Conflict("x", status=409, **CTX), False),
        (e.PreconditionRequired("x", status=428, **CTX), False),
        (e.AmbiguousWriteError("x", **CTX), False),
        (e.ResponseFormatError("x", **CTX), False),
        (e.AdminTokenError("x", **CTX), False),
        (ValueError("bug"), False),
    ],
)
def test_decision_table(exc: Exception, expected: bool) -> None:
    assert retry_decision(exc, RetryPolicy()) is expected


def test_retry_after_is_the_wait_plus_bounded_jitter() -> None:
    exc = e.RateLimited("x", retry_after=2.0, status=429, **CTX)
    assert retry_decision(exc, RetryPolicy(wait_jitter=0.0)) == 2.0
    waited = retry_decision(exc, RetryPolicy(wait_jitter=0.5))
    assert isinstance(waited, float)
    assert 2.0 <= waited <= 2.5


def test_retry_after_beyond_the_cap_gives_up() -> None:
    exc = e.RateLimited("x", retry_after=3600.0, status=429, **CTX)
    assert retry_decision(exc, RetryPolicy(max_retry_after=60)) is False


async def test_four_attempts_in_all_then_the_last_error() -> None:
    calls = 0
    notices: list[RetryNotice] = []

    async def always_503() -> str:
        nonlocal calls
        calls += 1
        raise e.ServerError("unavailable", status=503, **CTX)

    policy = RetryPolicy.without_waits()
    policy = RetryPolicy(**{**policy.__dict__, "on_retry": notices.append})
    with pytest.raises(e.ServerError):
        await with_retries(policy, always_503)
    assert calls == 4
    assert [n.attempt for n in notices] == [1, 2, 3]
    assert notices[0].reason == "status 503"


async def test_success_after_transient_failures(no_waits: None) -> None:
    outcomes: list[Exception | str] = [
        e.ServerError("x", status=500, **CTX),
        e.TransportError("x", sent=False, **CTX),
        "ok",
    ]

    async def next_outcome() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert await with_retries(RetryPolicy(), next_outcome) == "ok"


async def test_no_retry_on_client_errors(no_waits: None) -> None:
    calls = 0

    async def not_found() -> None:
        nonlocal calls
        calls += 1
        raise e.NotFound("gone", status=404, **CTX)

    with pytest.raises(e.NotFound):
        await with_retries(RetryPolicy(), not_found)
    assert calls == 1
