"""`HttpRemote`: `RemoteApi` over one `httpx.AsyncClient` (one connection pool).

Owns the requests themselves: URLs under the environment's API base, `Accept:
application/json` (httpx sets `Content-Type: application/json` for every JSON body), the scope as
a `?scope=` query parameter, bounded concurrency (an `asyncio.Semaphore` held per attempt, never
while waiting to retry), the count of requests sent, the shared `Throttle` (every API request
passes it just before it goes on the wire, in a request hook, so resends after a 401 do too; a
response hook starts the shared pause the moment a 429 or a 503 with Retry-After arrives), and
turning each response into an observed model or a typed error. Retry decisions are `retry.py`'s,
authentication is `auth.py`'s. Must not decide what to change, and must not log request or
response bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from mpctl.model import (
    ClientRegistration,
    ObservedAccess,
    ObservedClient,
    ObservedJwks,
    ObservedScope,
    ScopeRegistration,
)
from mpctl.remote import _wire
from mpctl.remote._failures import ambiguous_create, sanitized_cause, transport_failure
from mpctl.remote._paths import client_id_segment, orgno_segment, public_keys
from mpctl.remote.call_events import CallObserver, watch_calls
from mpctl.remote.errors import ServerError, error_for_response, shown_path
from mpctl.remote.protocol import WireBody
from mpctl.remote.retry import Replay, RetryPolicy, shared_pause, with_retries
from mpctl.remote.retry_after import parse_retry_after
from mpctl.remote.throttle import Throttle

DEFAULT_CONCURRENCY = 16
_ACCEPT_JSON = {"Accept": "application/json"}
_REPLACE = Replay.SAME_RESULT


@dataclass(frozen=True)
class _Call:
    """One logical API call and how safe it is to send again (see `retry.Replay`)."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    replay: Replay = Replay.SAFE


class HttpRemote:
    """Digdir's self-service API for the organisation that owns the admin token.

    `requests_made` counts every HTTP request sent through `http` once this object exists: API
    calls, retries, resends after a 401, and admin-token exchanges. `throttle` gates the API
    requests (not the token endpoint's): one shared pause after a rate limit, and the
    environment's request-rate ceiling if it has one.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_base_url: str,
        auth: httpx.Auth | None,
        retry: RetryPolicy | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        throttle: Throttle | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._http = http
        self._base = api_base_url.rstrip("/")
        self._auth = auth
        self._retry = retry or RetryPolicy()
        self._slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self.throttle = throttle or Throttle()
        self.requests_made = 0
        hooks = http.event_hooks
        hooks["request"] = [*hooks.get("request", []), self._count_request, self._pass_throttle]
        hooks["response"] = [self._pause_when_rate_limited, *hooks.get("response", [])]
        http.event_hooks = hooks

    def __repr__(self) -> str:
        return (
            f"HttpRemote(api_base_url={self._base!r}, concurrency={self.concurrency}, "
            f"max_requests_per_second={self.throttle.rate!r})"
        )

    async def _count_request(self, request: httpx.Request) -> None:
        self.requests_made += 1

    def _is_api(self, url: httpx.URL) -> bool:
        return str(url).startswith(self._base + "/")

    async def _pass_throttle(self, request: httpx.Request) -> None:
        """The last request hook: nothing awaits between it and the transport."""
        if self._is_api(request.url):
            await self.throttle.acquire()

    async def _pause_when_rate_limited(self, response: httpx.Response) -> None:
        """The first response hook: the pause starts before any other worker runs again."""
        if response.status_code not in (429, 503) or not self._is_api(response.request.url):
            return
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        self.throttle.pause(shared_pause(self._retry, response.status_code, retry_after))

    def watch(self, observer: CallObserver) -> None:
        """Report every response from now on (API calls, each retry, admin-token exchanges)
        to `observer`, with Digdir's correlation id when the answer has one."""
        watch_calls(self._http, observer)

    # clients

    async def list_clients(self) -> tuple[ObservedClient, ...]:
        response = await self._send(_Call("GET", "/clients"))
        return _wire.many(response, ObservedClient, method="GET")

    async def get_client(self, client_id: str) -> ObservedClient:
        path = f"/clients/{client_id_segment(client_id)}"
        response = await self._send(_Call("GET", path))
        return _wire.one(response, ObservedClient, method="GET")

    async def create_client(self, body: ClientRegistration) -> ObservedClient:
        response = await self._send(
            _Call("POST", "/clients", body=body.wire(), replay=Replay.CREATE)
        )
        return _wire.one(response, ObservedClient, method="POST")

    async def update_client(self, client_id: str, body: ClientRegistration) -> ObservedClient:
        path = f"/clients/{client_id_segment(client_id)}"
        call = _Call("PUT", path, body=body.for_update().wire(), replay=_REPLACE)
        response = await self._send(call)
        return _wire.one(response, ObservedClient, method="PUT")

    async def delete_client(self, client_id: str) -> None:
        await self._send(
            _Call("DELETE", f"/clients/{client_id_segment(client_id)}", replay=_REPLACE)
        )

    # keys

    async def get_jwks(self, client_id: str) -> ObservedJwks:
        path = f"/clients/{client_id_segment(client_id)}/jwks"
        response = await self._send(_Call("GET", path))
        return _wire.jwks_body(response, ObservedJwks, method="GET")

    async def put_jwks(self, client_id: str, keys: Sequence[WireBody]) -> ObservedJwks:
        path = f"/clients/{client_id_segment(client_id)}/jwks"
        body = {"keys": public_keys(keys)}
        response = await self._send(_Call("POST", path, body=body, replay=_REPLACE))
        return _wire.jwks_body(response, ObservedJwks, method="POST")

    async def delete_jwks(self, client_id: str) -> None:
        await self._send(
            _Call("DELETE", f"/clients/{client_id_segment(client_id)}/jwks", replay=_REPLACE)
        )

    # scopes

    async def list_scopes(self, *, inactive: bool = True) -> tuple[ObservedScope, ...]:
        params = {"inactive": "true"} if inactive else {}
        response = await self._send(_Call("GET", "/scopes", params))
        return _wire.many(response, ObservedScope, method="GET")

    async def get_scope(self, name: str) -> ObservedScope:
        response = await self._send(_Call("GET", "/scopes", {"scope": name}))
        return _wire.one(response, ObservedScope, method="GET")

    async def create_scope(self, body: ScopeRegistration) -> ObservedScope:
        response = await self._send(
            _Call("POST", "/scopes", body=body.wire(), replay=Replay.CREATE)
        )
        return _wire.one(response, ObservedScope, method="POST")

    async def update_scope(self, name: str, body: ScopeRegistration) -> ObservedScope:
        wire = body.for_update().wire()
        response = await self._send(
            _Call("PUT", "/scopes", {"scope": name}, body=wire, replay=_REPLACE)
        )
        return _wire.one(response, ObservedScope, method="PUT")

    async def delete_scope(self, name: str) -> None:
        await self._send(_Call("DELETE", "/scopes", {"scope": name}, replay=_REPLACE))

    # access

    async def list_access(self, scope: str) -> tuple[ObservedAccess, ...]:
        call = _Call("GET", "/scopes/access", {"scope": scope})
        response = await self._send(call)
        return _wire.many(response, ObservedAccess, method="GET", defaults={"scope": scope})

    async def grant_access(self, scope: str, orgno: str) -> ObservedAccess:
        path = f"/scopes/access/{orgno_segment(orgno)}"
        response = await self._send(_Call("PUT", path, {"scope": scope}))
        return _wire.one(response, ObservedAccess, method="PUT")

    async def revoke_access(self, scope: str, orgno: str) -> None:
        path = f"/scopes/access/{orgno_segment(orgno)}"
        await self._send(_Call("DELETE", path, {"scope": scope}, replay=_REPLACE))

    async def list_access_all(self) -> tuple[ObservedAccess, ...]:
        response = await self._send(_Call("GET", "/scopes/access/all"))
        return _wire.many(response, ObservedAccess, method="GET")

    async def list_public_scopes(self) -> tuple[ObservedScope, ...]:
        response = await self._send(_Call("GET", "/scopes/all"))
        return _wire.many(response, ObservedScope, method="GET")

    async def list_delegation_sources(self) -> Mapping[str, str]:
        response = await self._send(_Call("GET", "/delegationsources"))
        return _delegation_sources(response)

    # the one place requests are sent

    async def _send(self, call: _Call) -> httpx.Response:
        return await with_retries(self._retry, lambda: self._attempt(call))

    async def _attempt(self, call: _Call) -> httpx.Response:
        url = httpx.URL(self._base + call.path, params=dict(call.params))
        async with self._slots:
            try:
                response = await self._http.request(
                    call.method, url, json=call.body, headers=_ACCEPT_JSON, auth=self._auth
                )
            except httpx.TransportError as exc:
                path = shown_path(url)
                raise transport_failure(
                    exc, method=call.method, path=path, resend_safe=call.replay is Replay.SAFE
                ) from sanitized_cause(exc)
        if response.is_success:
            return response
        error = error_for_response(response, method=call.method)
        if call.replay is Replay.CREATE and isinstance(error, ServerError):
            raise ambiguous_create(error) from error
        raise error


def _delegation_sources(response: httpx.Response) -> dict[str, str]:
    body = _wire.json_body(response, method="GET")
    valid = isinstance(body, list) and all(
        isinstance(i, dict) and isinstance(i.get("name"), str) and isinstance(i.get("issuer"), str)
        for i in body
    )
    if not valid:
        raise _wire.format_error("expected an array of {name, issuer}", response, "GET")
    return {item["name"]: item["issuer"] for item in body}
