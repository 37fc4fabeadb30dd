"""A transport wrapper that lets the event loop breathe around every request.

The embedded emulator runs in-process (httpx.ASGITransport) and never waits on I/O, so a whole
apply can run without the event loop getting a turn: signal handlers (Ctrl-C, SIGTERM) and task
cancellation then wait until the end. `YieldingTransport` yields to the loop before and after
each exchange, as a real network round trip does. Must not change requests or responses.
"""

from __future__ import annotations

import asyncio

import httpx


class YieldingTransport(httpx.AsyncBaseTransport):
    """`inner`, with one turn of the event loop before and after each request."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        response = await self._inner.handle_async_request(request)
        await asyncio.sleep(0)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
