"""What came back over the wire, for an audit trail: one `CallEvent` per HTTP response.

Owns `CallEvent` (method, the shown path, status, and Digdir's `correlation_id` or
Maskinporten's `trace_id` when the answer carries one), the `CallObserver` hook type and
`watch_calls`, which hangs an observer on an `httpx.AsyncClient` as a response event hook.
The ids are read by the same parsers the typed errors use (`error_for_response`,
`token_refusal`), so they are redacted and bounded like everywhere else. An event never holds a
header, a body, a grant or a token. Must not retry, log, or decide anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from mpctl.remote._redact import redact, shorten
from mpctl.remote.errors import error_for_response, shown_path
from mpctl.remote.oauth_errors import token_refusal

_CORRELATION_HEADER = "x-correlation-id"


@dataclass(frozen=True)
class CallEvent:
    """One response: a retried call gives one event per attempt."""

    method: str
    path: str
    """Query values only for known non-secret parameters (`shown_path`)."""
    status: int
    correlation_id: str | None = None
    """Digdir's correlation id or Maskinporten's trace id: what its support asks for."""


CallObserver = Callable[[CallEvent], None]
"""Called once per response; it must not raise (the call it reports on would fail)."""


def watch_calls(http: httpx.AsyncClient, observer: CallObserver) -> None:
    """Report every response `http` receives from now on to `observer`."""

    async def seen(response: httpx.Response) -> None:
        observer(await call_event(response))

    hooks = http.event_hooks
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
    return CallEvent(request.method, path, response.status_code, correlation_id)
