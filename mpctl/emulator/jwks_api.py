"""HTTP handlers for `/clients/{client_id}/jwks`: read, replace the whole set, delete all.

Owns the request/response flow of key endpoints, including the global-kid-uniqueness switch
lookup. It must not hold the key rules themselves (`jwks_rules`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mpctl.emulator.client_access import (
    CHANGE,
    READ,
    WRITE,
    active_client,
    require_client_scope,
    visible_client,
)
from mpctl.emulator.http_input import json_object
from mpctl.emulator.jwks_rules import OBJECT, build_key_set, key_list
from mpctl.emulator.representations import key_set_view
from mpctl.emulator.resource import Resource
from mpctl.emulator.state import ClientRecord, EmulatorState
from mpctl.emulator.wire import json_response


class JwksApi(Resource):
    """`/clients/{client_id}/jwks`."""

    def routes(self) -> list[Route]:
        path = "/clients/{client_id}/jwks"
        return [
            Route(path, self.get_keys, methods=["GET"]),
            Route(path, self.post_keys, methods=["POST"]),
            Route(path, self.put_keys, methods=["PUT"]),
            Route(path, self.delete_keys, methods=["DELETE"]),
        ]

    async def get_keys(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            caller = self.caller(request, state)
            require_client_scope(caller, READ)
            client = visible_client(state, caller, request.path_params["client_id"], READ)
            return json_response(key_set_view(client.jwks))

    async def post_keys(self, request: Request) -> Response:
        return await self._replace(request, WRITE)

    async def put_keys(self, request: Request) -> Response:
        return await self._replace(request, CHANGE)

    async def _replace(self, request: Request, own_scopes: frozenset[str]) -> Response:
        raw = await request.body()
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_client_scope(caller, own_scopes)
            client = active_client(state, caller, request.path_params["client_id"], own_scopes)
            raw_keys = key_list(json_object(raw, OBJECT))
            client.jwks = build_key_set(
                raw_keys,
                client.jwks,
                self.emu.now(state),
                self.emu.switches,
                lambda kid: self._kid_taken_elsewhere(state, client, kid),
            )
            return json_response(key_set_view(client.jwks))

    async def delete_keys(self, request: Request) -> Response:
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_client_scope(caller, WRITE)
            client = active_client(state, caller, request.path_params["client_id"], WRITE)
            client.jwks = None
        return Response(status_code=200)

    def _kid_taken_elsewhere(self, state: EmulatorState, client: ClientRecord, kid: str) -> bool:
        if self.emu.switches.kid_uniqueness != "global":
            return False
        return any(
            kid == key.kid
            for other in state.clients.values()
            if other.client_id != client.client_id
            for key in other.registered_keys()
        )
