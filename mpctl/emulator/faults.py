"""Fault injection on the wire: latency, 5xx, 429 + Retry-After, dropped connections, lost writes.

Owns the ASGI layer that applies `fault_rules` decisions to real traffic. It sits outside
Starlette's own error handling so a dropped connection is really dropped: in-process
(httpx.ASGITransport) the client sees `DroppedConnection`, an `httpx.RemoteProtocolError`;
behind uvicorn the connection is closed before a complete response. The control surface
(`/_emulator/`) is never faulted. It must not change what the API does otherwise.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Final

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mpctl.emulator.core import Emulator
from mpctl.emulator.errors import ApiError, api_error_body
from mpctl.emulator.fault_rules import FaultDecision, FaultRule, any_rule_matches, decide
from mpctl.emulator.wire import JSON_CONTENT_TYPE, encode_json

CONTROL_PREFIX: Final = "/_emulator/"
_PARTIAL: Final = [(b"content-type", JSON_CONTENT_TYPE.encode()), (b"content-length", b"64")]


class DroppedConnection(httpx.RemoteProtocolError):
    """The emulator closed the connection without a response (an injected fault)."""

    def __init__(self) -> None:
        super().__init__("Server disconnected without sending a response.")


class FaultInjector:
    """ASGI middleware that applies the fault rules kept in the emulator state."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emu = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        decision = self._decide(scope["method"], scope["path"])
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.outcome is None:
            await self.app(scope, receive, send)
        else:
            await self._apply(decision.outcome, scope, receive, send)

    def _decide(self, method: str, path: str) -> FaultDecision:
        with self.emu.store.read() as state:
            if not any_rule_matches(state.faults, method, path):
                return FaultDecision()
        with self.emu.store.write() as state:
            return decide(state.faults, self.emu.settings.seed, method, path)

    async def _apply(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        if rule.kind == "rate_limit":
            await self._send_error(send, 429, {"Retry-After": str(rule.retry_after)})
        elif rule.kind == "drop":
            await send({"type": "http.response.start", "status": 200, "headers": _PARTIAL})
            raise DroppedConnection
        elif rule.kind == "lost_write":
            await self.app(scope, receive, _discard)
            await self._send_error(send, 500, {})
        else:
            await self._send_error(send, rule.status, {})

    async def _send_error(self, send: Send, status: int, headers: dict[str, str]) -> None:
        with self.emu.store.read() as state:
            now = self.emu.now(state)
        error = ApiError(status, HTTPStatus(status).phrase, object_name="Request")
        leading = self.emu.switches.error_text_leading_separator
        body = encode_json(api_error_body(error, now, leading_separator=leading))
        raw_headers = [
            (b"content-type", JSON_CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            *[(name.lower().encode(), value.encode()) for name, value in headers.items()],
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


async def _discard(message: Message) -> None:
    """Swallow the real response of a lost write."""
