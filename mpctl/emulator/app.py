"""Assembling the ASGI app: routes, error handlers and the fault layer around everything.

Owns `create_app`: the self-service API under `/api/v1` (and at the legacy root paths when
the switch is on), `/delegationsources`, Maskinporten's `/token`, `/jwk` and metadata, and the
control surface under `/_emulator/` only when enabled. It must not contain handler logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mpctl.emulator.access_api import AccessApi
from mpctl.emulator.clients_api import ClientsApi
from mpctl.emulator.clock import Clock
from mpctl.emulator.control import ControlApi
from mpctl.emulator.core import Emulator
from mpctl.emulator.errors import ApiError, TokenError, api_error_body, token_error_body
from mpctl.emulator.faults import FaultInjector
from mpctl.emulator.jwks_api import JwksApi
from mpctl.emulator.keys import KeySource
from mpctl.emulator.public_api import PublicApi
from mpctl.emulator.scopes_api import ScopesApi
from mpctl.emulator.settings import EmulatorSettings
from mpctl.emulator.token_endpoint import MaskinportenApi
from mpctl.emulator.wire import json_response

MAX_BODY_BYTES: Final = 1024 * 1024


class EmulatorApp(Starlette):
    """A Starlette app whose outermost layer injects faults (outside the 500 handler)."""

    def __init__(self, emulator: Emulator, **kwargs: Any) -> None:
        self.emulator = emulator
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return FaultInjector(super().build_middleware_stack(), self.emulator)


def create_app(
    settings: EmulatorSettings,
    *,
    clock: Clock | None = None,
    key_source: KeySource | None = None,
) -> Starlette:
    """The emulator as one ASGI app (self-service API + Maskinporten + optional control)."""
    emulator = Emulator(settings, clock=clock, key_source=key_source)
    handlers = _ErrorHandlers(emulator)
    routes = _routes(emulator)
    _without_slash_redirects(routes)
    app = EmulatorApp(
        emulator,
        routes=routes,
        exception_handlers={
            ApiError: handlers.api_error,
            TokenError: handlers.token_error,
            HTTPException: handlers.http_exception,
        },
        max_body_size=MAX_BODY_BYTES,
    )
    app.router.redirect_slashes = False
    if emulator.switches.trailing_slash == "same_as_without":
        app.add_middleware(_SlashInsensitive, routes=routes)
    return app


def _without_slash_redirects(routes: list[BaseRoute]) -> None:
    """Digdir answers `/api/v1/clients/` itself; Starlette would redirect it (307) instead."""
    for route in routes:
        if isinstance(route, Mount) and isinstance(route.app, Router):
            route.app.redirect_slashes = False
            _without_slash_redirects(list(route.app.routes))


class _SlashInsensitive:
    """The `same_as_without` switch: an unrouted path ending in '/' is served as without it."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.router = Router(routes=routes, redirect_slashes=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._slash_only_mismatch(scope):
            scope = {**scope, "path": scope["path"].rstrip("/") or "/"}
        await self.app(scope, receive, send)

    def _slash_only_mismatch(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/" or not path.endswith("/"):
            return False
        return not _resolves(self.router.routes, scope)


def _resolves(routes: Sequence[BaseRoute], scope: Scope) -> bool:
    """True when some endpoint (inside mounts too) takes this path, whatever the method."""
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.NONE:
            continue
        if isinstance(route, Mount) and isinstance(route.app, Router):
            if _resolves(route.app.routes, {**scope, **child}):
                return True
            continue
        return True
    return False


def _routes(emulator: Emulator) -> list[BaseRoute]:
    public = PublicApi(emulator)
    clients = ClientsApi(emulator)
    api: list[BaseRoute] = [
        *clients.routes(),
        *JwksApi(emulator).routes(),
        *AccessApi(emulator).routes(),
        *public.scope_routes(),
        *ScopesApi(emulator).routes(),
    ]
    routes: list[BaseRoute] = [
        Mount("/api/v1", routes=[*api, *public.delegation_source_routes()]),
        *public.delegation_source_routes(),
        *MaskinportenApi(emulator).routes(),
    ]
    if emulator.switches.legacy_root_paths:
        routes += api
        routes += [
            Route("/clients/", clients.list_clients, methods=["GET"]),
            Route("/clients/", clients.create_client, methods=["POST"]),
        ]
    if emulator.settings.control_enabled:
        routes.append(Mount("/_emulator", routes=list(ControlApi(emulator).routes())))
    return routes


class _ErrorHandlers:
    """Exceptions → the v1 error body (API) or the OAuth2 error body (token endpoint)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator

    def _now(self) -> float:
        with self.emu.store.read() as state:
            return self.emu.now(state)

    def _v1(self, error: ApiError) -> Response:
        leading = self.emu.switches.error_text_leading_separator
        body = api_error_body(error, self._now(), leading_separator=leading)
        return json_response(body, status_code=error.status, headers=error.headers)

    async def api_error(self, request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        return self._v1(error)

    async def http_exception(self, request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        headers = dict(error.headers) if error.headers else None
        return self._v1(ApiError(error.status_code, str(error.detail), headers=headers))

    async def token_error(self, request: Request, error: Exception) -> Response:
        assert isinstance(error, TokenError)
        status = self.emu.switches.forbidden_status if error.error == "forbidden" else 400
        body = token_error_body(error, self.emu.issuer)
        return json_response(body, status_code=status, headers={"Cache-Control": "no-store"})
