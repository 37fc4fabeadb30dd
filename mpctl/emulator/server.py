"""Running the emulator as a real HTTP server with uvicorn.

Owns `build_server` and `serve`, and the small adapter that lets an injected dropped
connection close the socket quietly. It must not change the app's behaviour otherwise.
"""

from __future__ import annotations

from typing import Final

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from mpctl.emulator.app import create_app
from mpctl.emulator.faults import DroppedConnection
from mpctl.emulator.settings import EmulatorSettings

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
) -> uvicorn.Server:
    """A configured, not yet started uvicorn server (tests run it in a thread)."""
    config = uvicorn.Config(
        _QuietDrop(create_app(settings)),
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",
        server_header=False,
    )
    return uvicorn.Server(config)


def serve(
    settings: EmulatorSettings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    log_level: str = "info",
) -> None:
    """Serve the emulator until interrupted."""
    build_server(settings, host, port, log_level=log_level).run()
