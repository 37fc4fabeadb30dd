"""The one Retry-After parser: ASCII delta-seconds or an HTTP-date, clamped, never raising."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpctl.remote.errors import RateLimited, error_for_response
from mpctl.remote.retry_after import MAX_RETRY_AFTER, parse_retry_after

NOW = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("\t12\t", 12.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("99999999999999999999999", MAX_RETRY_AFTER),
        ("9" * 5000, MAX_RETRY_AFTER),  # int() of this many digits raises in Python 3.11
        ("²", None),  # str.isdigit() says yes, float() says no
        ("٣", None),  # Arabic-Indic three: a Unicode digit, not an HTTP delta-seconds
        ("１０", None),  # fullwidth digits
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Wed, 99 Foo 2015 07:28:10 GMT", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_known_values(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_superscript_two_from_a_server_is_a_rate_limit_without_a_wait() -> None:
    """Before: `Retry-After: ²` passed isdigit() and crashed float() while mapping the 429."""
    request = httpx.Request("GET", "https://api.test.samarbeid.digdir.no/api/v1/clients")
    response = httpx.Response(429, headers=[(b"Retry-After", "²".encode())], request=request)
    error = error_for_response(response, method="GET")
    assert isinstance(error, RateLimited)
    assert error.retry_after is None


@settings(max_examples=2000, deadline=None)
@given(st.text())
def test_any_text_gives_none_or_a_clamped_wait(header: str) -> None:
    result = parse_retry_after(header, now=NOW)
    assert result is None or 0.0 <= result <= MAX_RETRY_AFTER


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1))
def test_only_ascii_digits_are_delta_seconds(header: str) -> None:
    result = parse_retry_after(header, now=NOW)
    if header.isascii():
        assert result == min(float(int(header)), MAX_RETRY_AFTER)
    else:
        assert result is None


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=-(10**6), max_value=10**7))
def test_http_dates_are_seconds_from_now_clamped(offset: int) -> None:
    header = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(header, now=NOW) == min(max(float(offset), 0.0), MAX_RETRY_AFTER)
