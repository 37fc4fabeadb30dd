"""What came back over the wire, for an audit trail: one `CallEvent` per HTTP response.

Owns `CallEvent` (method, the shown path, status, Digdir's `correlation_id` or
Maskinporten's `trace_id` when the answer carries one, and the seconds until the answer came),
the `CallObserver` hook type and `watch_calls`, which hangs an observer on an
`httpx.AsyncClient` as a response event hook (and a request hook that notes when it was sent).
The ids are read by the same parsers the typed errors use (`error_for_response`,
`token_refusal`), so they are redacted and bounded like everywhere else. An event never holds a
header, a body, a grant or a token. Must not retry, log, or decide anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from mpctl.remote._redact import redact, shorten
from mpctl.remote.errors import error_for_response, shown_path
from mpctl.remote.oauth_errors import token_refusal

_CORRELATION_HEADER = "x-correlation-id"
_SENT_AT = "mpctl.sent_at"


@dataclass(frozen=True)
class CallEvent:
    """One response: a retried call gives one event per attempt."""

    method: str
    path: str
    """Query values only for known non-secret parameters (`shown_path`)."""
    status: int
    correlation_id: str | None = None
    """Digdir's correlation id or Maskinporten's trace id: what its support asks for."""
    duration: float | None = field(default=None, compare=False)
    """Seconds from sending the request to its answer's headers, when it was watched."""


CallObserver = Callable[[CallEvent], None]
"""Called once per response; it must not raise (the call it reports on would fail)."""


def watch_calls(http: httpx.AsyncClient, observer: CallObserver) -> None:
    """Report every response `http` receives from now on to `observer`."""

    async def sent(request: httpx.Request) -> None:
        request.extensions.setdefault(_SENT_AT, time.perf_counter())

    async def seen(response: httpx.Response) -> None:
        observer(await call_event(response))

    hooks = http.event_hooks
    hooks["request"] = [*hooks.get("request", []), sent]
    hooks["response"] = [*hooks.get("response", []), seen]
    http.event_hooks = hooks


async def call_event(response: httpx.Response) -> CallEvent:
    """The event for `response`; reads the body of a failure (httpx keeps it for the caller)."""
    request = response.request
    path = shown_path(request.url)
    if response.is_success:
        header = response.headers.get(_CORRELATION_HEADER)
        correlation_id = shorten(redact(header), 80) if header else None
    else:
        await response.aread()
        correlation_id = (
            error_for_response(response, method=request.method).correlation_id
            or token_refusal(response, path=path).correlation_id
        )
    sent_at = request.extensions.get(_SENT_AT)
    duration = time.perf_counter() - sent_at if isinstance(sent_at, float) else None
    return CallEvent(request.method, path, response.status_code, correlation_id, duration)
