"""Status → typed exception, v1 error bodies, Retry-After, and transport failure classes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mpctl.errors import RemoteError
from mpctl.remote import errors as e
from mpctl.remote._failures import sanitized_cause, transport_failure
from mpctl.remote.retry_after import parse_retry_after

V1_BODY = {
    "status": 400,
    "timestamp": "2025-07-02T08:30:00.000000000Z",
    "correlation_id": "b496e785cbd430eee802c1eaafa76f46",
    "errors": [
        {"errorMessage": "Invalid scopes", "isFieldError": True, "fieldIdentifier": "scopes"},
        {"errorMessage": "description is required", "isFieldError": True},
    ],
    "error": ", Invalid scopes, description is required",
    "error_description": ", Invalid scopes, description is required",
}


def _response(
    status: int,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    url: str = "https://api.test/api/v1/clients/abc",
) -> httpx.Response:
    content = json.dumps(body).encode() if body is not None else b""
    request = httpx.Request("GET", url)
    return httpx.Response(status, content=content, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, e.BadRequest),
        (401, e.Unauthorized),
        (403, e.Forbidden),
        (404, e.NotFound),
        (409, e.Conflict),
        (428, e.PreconditionRequired),
        (429, e.RateLimited),
        (500, e.ServerError),
        (502, e.ServerError),
        (503, e.ServerError),
        (405, e.HttpStatusError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[e.HttpStatusError]) -> None:
    error = e.error_for_response(_response(status, {"status": status}), method="GET")
    assert type(error) is cls
    assert isinstance(error, RemoteError)
    assert error.status == status


def test_v1_body_gives_messages_and_correlation_id() -> None:
    error = e.error_for_response(_response(400, V1_BODY), method="POST")
    assert isinstance(error, e.BadRequest)
    assert error.messages == ("Invalid scopes", "description is required")
    assert error.correlation_id == "b496e785cbd430eee802c1eaafa76f46"
    assert error.method == "POST"
    assert error.path == "/api/v1/clients/abc"
    assert "Invalid scopes; description is required" in str(error)
    assert "correlation id b496e785cbd430eee802c1eaafa76f46" in str(error)


def test_body_without_errors_falls_back_to_description_without_leading_separator() -> None:
    body = {"error": ", PRECONDITION_REQUIRED: Virksomheten har ikke signert"}
    error = e.error_for_response(_response(428, body), method="GET")
    assert isinstance(error, e.PreconditionRequired)
    assert error.summary.startswith("PRECONDITION_REQUIRED")
    assert error.hint is not None
    assert "terms of use" in error.hint


def test_correlation_id_header_is_a_fallback() -> None:
    response = _response(500, None, headers={"X-Correlation-ID": "abc-123"})
    assert e.error_for_response(response, method="GET").correlation_id == "abc-123"


def test_non_json_error_body_is_kept_as_a_short_excerpt() -> None:
    request = httpx.Request("GET", "https://api.test/api/v1/clients")
    response = httpx.Response(502, content=b"<html>" + b"x" * 2000, request=request)
    error = e.error_for_response(response, method="GET")
    assert error.body_excerpt is not None
    assert len(error.body_excerpt) <= 500
    assert error.summary == "Bad Gateway"


def test_only_known_query_values_are_shown() -> None:
    url = httpx.URL("https://x/api/v1/scopes", params={"scope": "acme:a", "code": "s3cret"})
    assert e.shown_path(url) == "/api/v1/scopes?scope=acme:a&code=…"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds_or_http_date(header: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


def test_rate_limited_carries_retry_after() -> None:
    response = _response(429, None, headers={"Retry-After": "3"})
    error = e.error_for_response(response, method="GET")
    assert isinstance(error, e.RateLimited)
    assert error.retry_after == 3.0


@pytest.mark.parametrize(
    ("exc", "resend_safe", "cls", "sent"),
    [
        (httpx.ConnectError("refused"), False, e.TransportError, False),
        (httpx.ConnectTimeout("slow"), False, e.TransportError, False),
        (httpx.PoolTimeout("busy"), False, e.TransportError, False),
        (httpx.ReadTimeout("timed out"), True, e.TransportError, True),
        (httpx.RemoteProtocolError("dropped"), True, e.TransportError, True),
        (httpx.ReadTimeout("timed out"), False, e.AmbiguousWriteError, None),
        (httpx.WriteTimeout("timed out"), False, e.AmbiguousWriteError, None),
        (httpx.RemoteProtocolError("dropped"), False, e.AmbiguousWriteError, None),
    ],
)
def test_transport_failures_are_classified(
    exc: httpx.TransportError, resend_safe: bool, cls: type[Exception], sent: bool | None
) -> None:
    error = transport_failure(exc, method="POST", path="/clients", resend_safe=resend_safe)
    assert type(error) is cls
    if isinstance(error, e.TransportError):
        assert error.sent is sent


def test_ambiguous_write_tells_the_caller_to_re_read() -> None:
    error = transport_failure(
        httpx.ReadTimeout("timed out"), method="POST", path="/clients", resend_safe=False
    )
    assert error.hint is not None
    assert "re-read" in error.hint
    assert not isinstance(error, e.TransportError)


def test_repr_names_the_call_not_the_body() -> None:
    error = e.error_for_response(_response(400, V1_BODY), method="PUT")
    assert repr(error).startswith("BadRequest(method='PUT', path='/api/v1/clients/abc'")


def test_sanitized_cause_keeps_type_and_traceback_but_not_the_request() -> None:
    request = httpx.Request("GET", "https://x/", headers={"Authorization": "Bearer abc.def.ghi"})

    def time_out() -> None:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(httpx.ReadTimeout) as caught:
        time_out()
    cause = sanitized_cause(caught.value)
    assert str(cause) == "ReadTimeout: timed out"
    assert cause.__traceback__ is not None
    assert not hasattr(cause, "request")
