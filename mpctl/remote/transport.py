"""The HTTP transport of mpctl's network clients: httpx's own, with a cheaper idle check.

Owns `PooledTransport`. Whenever a request starts or a response is closed, httpcore's pool asks
each idle connection whether its server has hung up. Through anyio's streams each answer
rebuilds the TLS stream's table of attributes and calls getpeername() before the one poll()
that answers it: about a fifth of the event loop's CPU per request with 16 connections (a
py-spy profile of `benchmarks/apply_scale.py`). The streams here keep each connection's socket
and poll it directly; connecting, TLS, reading and writing stay anyio's and httpcore's.

Must not change what is sent, how a server is verified, or the proxies httpx takes from the
environment (those routes keep httpx's own transports).
"""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
HTTPX_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""httpx's own default pool limits."""


class PooledTransport(httpx.AsyncHTTPTransport):
    """`httpx.AsyncHTTPTransport` whose httpcore pool runs on `_PollingStream`s."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = HTTPX_LIMITS,
    ) -> None:
        context = httpx.create_ssl_context(verify=verify)
        super().__init__(verify=context, limits=limits)
        # The pool httpx builds, with the one argument its transport does not pass on.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PollingBackend(),
        )


class _PollingBackend(httpcore.AsyncNetworkBackend):
    """anyio's connections, each wrapped in a `_PollingStream`."""

    def __init__(self) -> None:
        self._anyio = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._anyio.connect_tcp(host, port, timeout, local_address, socket_options)
        return _PollingStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._anyio.connect_unix_socket(path, timeout, socket_options)
        return _PollingStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._anyio.sleep(seconds)


class _PollingStream(httpcore.AsyncNetworkStream):
    """One connection's stream; answers "is_readable" from the socket it keeps."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = stream.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _PollingStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return readable(self._socket)
        return self._stream.get_extra_info(info)


def readable(sock: socket.socket | None) -> bool:
    """Whether a read of `sock` would not block: for an idle connection, that its server hung
    up (or sent what nobody asked for). A closed or missing socket counts as readable, so the
    pool drops the connection."""
    if sock is None or sock.fileno() < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    ready, _, _ = select.select([sock], [], [], 0)  # Windows: no poll()
    return bool(ready)
