"""`PooledTransport`: httpx's transport whose pool asks idle connections with one poll().

Against a real HTTP/1.1 server on loopback (asyncio streams): a connection kept alive is
reused, one the server hung up on is dropped before the next request instead of failing it,
and the pool's question goes through `mpctl.remote.transport.readable` (so a change in httpx
that bypasses the module's streams fails here, not silently in a benchmark).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest

import mpctl.remote.transport
from mpctl.remote import open_http
from mpctl.remote.transport import PooledTransport, readable

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


@dataclass
class Server:
    """A loopback HTTP/1.1 server answering `ok`; `hang_up` closes each connection after one
    answer (while the client's pool still holds it as idle)."""

    hang_up: bool
    port: int = 0
    connections: int = 0
    requests: int = 0
    closed: list[asyncio.Event] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        done = asyncio.Event()
        self.closed.append(done)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                writer.write(RESPONSE)
                await writer.drain()
                if self.hang_up:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            done.set()


@asynccontextmanager
async def serving(*, hang_up: bool) -> AsyncIterator[Server]:
    server = Server(hang_up=hang_up)
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield server


async def test_a_kept_alive_connection_is_reused() -> None:
    async with serving(hang_up=False) as server, open_http() as http:
        for _ in range(3):
            response = await http.get(f"http://127.0.0.1:{server.port}/")
            assert response.text == "ok"
    assert (server.connections, server.requests) == (1, 3)


async def test_a_connection_the_server_hung_up_on_is_dropped_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[bool] = []

    def watched(sock: socket.socket | None) -> bool:
        answer = readable(sock)
        asked.append(answer)
        return answer

    monkeypatch.setattr(mpctl.remote.transport, "readable", watched)
    async with serving(hang_up=True) as server, open_http() as http:
        for _ in range(3):
            response = await http.get(f"http://127.0.0.1:{server.port}/")
            assert response.text == "ok"
            await server.closed[-1].wait()
            await asyncio.sleep(0.05)  # the server's FIN reaches this side
    assert (server.connections, server.requests) == (3, 3)
    assert True in asked  # the pool saw each hung-up connection through this module


async def test_the_transport_httpx_gets_is_pooled_with_the_given_limits() -> None:
    limits = httpx.Limits(max_connections=3, max_keepalive_connections=3)
    transport = PooledTransport(limits=limits)
    async with serving(hang_up=False) as server, httpx.AsyncClient(transport=transport) as http:
        url = f"http://127.0.0.1:{server.port}/"
        answers = await asyncio.gather(*(http.get(url) for _ in range(9)))
    assert [answer.text for answer in answers] == ["ok"] * 9
    assert 1 <= server.connections <= 3


def test_readable_tells_an_idle_socket_from_one_whose_peer_closed() -> None:
    here, there = socket.socketpair()
    with here:
        assert readable(here) is False
        there.close()
        assert readable(here) is True
    assert readable(here) is True  # closed on this side: the pool drops it
    assert readable(None) is True
