"""HTTP handlers for a provider's own scopes: `/scopes` with `?scope=`, create, replace, delete.

Owns the request/response flow of scope endpoints (soft delete, 409 on re-creation,
reactivation by PUT with `active: true`). It must not hold scope rules (`scopes_rules`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mpctl.emulator.bearer import Caller, require_any
from mpctl.emulator.errors import ApiError
from mpctl.emulator.http_input import json_object, query_flag, required_query
from mpctl.emulator.representations import scope_view
from mpctl.emulator.resource import Resource
from mpctl.emulator.scopes_rules import (
    OBJECT,
    content_problems,
    new_scope,
    new_scope_name,
    parse_scope_input,
    reading_scopes,
    rename_problems,
    replaced_scope,
    writing_scopes,
)
from mpctl.emulator.state import EmulatorState, ScopeRecord
from mpctl.emulator.wire import json_response


def own_scope(state: EmulatorState, caller: Caller, name: str) -> ScopeRecord:
    """The caller's own scope of that name; 404 for unknown names and other owners' scopes."""
    scope = state.scopes.get(name)
    if scope is None or scope.owner_orgno != caller.orgno:
        raise ApiError(404, f"Scope {name} not found", object_name=OBJECT)
    return scope


class ScopesApi(Resource):
    """`/scopes` (provider side)."""

    def routes(self) -> list[Route]:
        return [
            Route("/scopes", self.get_scopes, methods=["GET"]),
            Route("/scopes", self.create_scope, methods=["POST"]),
            Route("/scopes", self.replace_scope, methods=["PUT"]),
            Route("/scopes", self.delete_scope, methods=["DELETE"]),
        ]

    async def get_scopes(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            caller = self.caller(request, state)
            require_any(caller, reading_scopes(self.emu.switches))
            name = request.query_params.get("scope")
            if name:
                return json_response(scope_view(own_scope(state, caller, name)))
            include_inactive = query_flag(request, "inactive")
            shown = [
                scope_view(scope)
                for scope in sorted(state.scopes.values(), key=lambda s: s.name)
                if scope.owner_orgno == caller.orgno and (scope.active or include_inactive)
            ]
        return json_response(shown)

    async def create_scope(self, request: Request) -> Response:
        raw = await request.body()
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_any(caller, writing_scopes(self.emu.switches))
            data = parse_scope_input(json_object(raw, OBJECT))
            name = new_scope_name(state, data, caller.orgno)
            problems = content_problems(state, data)
            if problems:
                raise ApiError(400, problems, object_name=OBJECT)
            scope = new_scope(data, name, caller.orgno, self.emu.now(state))
            state.scopes[name] = scope
            return json_response(scope_view(scope))

    async def replace_scope(self, request: Request) -> Response:
        raw = await request.body()
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_any(caller, writing_scopes(self.emu.switches))
            existing = own_scope(state, caller, required_query(request, "scope", OBJECT))
            data = parse_scope_input(json_object(raw, OBJECT))
            problems = rename_problems(existing, data) + content_problems(state, data)
            if problems:
                raise ApiError(400, problems, object_name=OBJECT)
            scope = replaced_scope(existing, data, self.emu.now(state))
            state.scopes[scope.name] = scope
            return json_response(scope_view(scope))

    async def delete_scope(self, request: Request) -> Response:
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_any(caller, writing_scopes(self.emu.switches))
            scope = own_scope(state, caller, required_query(request, "scope", OBJECT))
            if scope.active:
                scope.active = False
                scope.last_updated = self.emu.now(state)
            return json_response(scope_view(scope))
