"""The public (no token) endpoints: `/scopes/all` and `/delegationsources`.

Owns what anyone may read: active PUBLIC scopes of every owner (optionally only
`accessible_for_all` ones) and the delegation sources. It must not require or read tokens.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mpctl.emulator.http_input import query_flag
from mpctl.emulator.representations import delegation_source_view, scope_view
from mpctl.emulator.resource import Resource
from mpctl.emulator.wire import json_response


class PublicApi(Resource):
    """`/scopes/all` and `/delegationsources`."""

    def scope_routes(self) -> list[Route]:
        return [Route("/scopes/all", self.all_scopes, methods=["GET"])]

    def delegation_source_routes(self) -> list[Route]:
        return [Route("/delegationsources", self.delegation_sources, methods=["GET"])]

    async def all_scopes(self, request: Request) -> Response:
        only_open = query_flag(request, "accessible_for_all")
        with self.emu.store.read() as state:
            shown = [
                scope_view(scope)
                for scope in sorted(state.scopes.values(), key=lambda s: s.name)
                if scope.active
                and scope.visibility == "PUBLIC"
                and (scope.accessible_for_all or not only_open)
            ]
        return json_response(shown)

    async def delegation_sources(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            shown = [delegation_source_view(source) for source in state.delegation_sources]
        return json_response(shown)
