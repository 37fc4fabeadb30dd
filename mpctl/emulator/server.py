"""Running the emulator as a real HTTP(S) server with uvicorn.

Owns `build_server` and `serve` (binding the listening socket itself, so a port in use is a
clear `UserError` rather than a uvicorn traceback; HTTPS with the files of `tls`), and the
small adapter that lets an injected dropped connection close the socket quietly. It must not
change the app's behaviour otherwise.
"""

from __future__ import annotations

import errno
import socket
from typing import Final

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from mpctl.emulator.app import create_app
from mpctl.emulator.faults import DroppedConnection
from mpctl.emulator.settings import EmulatorSettings
from mpctl.emulator.tls import TlsFiles
from mpctl.errors import UserError

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8089


class _QuietDrop:
    """Lets a dropped connection end the ASGI call: uvicorn then closes the incomplete response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except DroppedConnection:
            return


def build_server(
    settings: EmulatorSettings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    log_level: str = "info",
    tls: TlsFiles | None = None,
) -> uvicorn.Server:
    """A configured, not yet started uvicorn server (tests run it in a thread)."""
    config = uvicorn.Config(
        _QuietDrop(create_app(settings)),
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",
        server_header=False,
        ssl_certfile=str(tls.certificate) if tls is not None else None,
        ssl_keyfile=str(tls.key) if tls is not None else None,
        loop="asyncio",  # the same server wherever it runs, whatever else is installed
        http="h11",
    )
    return uvicorn.Server(config)


def serve(
    settings: EmulatorSettings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    log_level: str = "info",
    tls: TlsFiles | None = None,
    listening: socket.socket | None = None,
) -> None:
    """Serve the emulator until interrupted (HTTPS with `tls`), on `listening` when the caller
    bound it already (`listen`), else on a socket bound here."""
    server = build_server(settings, host, port, log_level=log_level, tls=tls)
    with listening or listen(host, port) as bound:
        server.run(sockets=[bound])


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` (as uvicorn binds it); a taken port is a `UserError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        if error.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} is already in use on {host}; pick another with --port"
            ) from None
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    listening.set_inheritable(True)
    return listening
