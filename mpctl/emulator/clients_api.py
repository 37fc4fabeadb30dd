"""HTTP handlers for `/clients`: list, read, create, replace, soft-delete, rotate secret.

Owns the request/response flow of client endpoints (status codes, the create-status switch,
the one-time `client_secret` for secret-based clients). It must not hold validation rules
(`clients_rules`) or ownership rules (`client_access`).
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mpctl.emulator.bearer import Caller, require_any
from mpctl.emulator.client_access import (
    CHANGE,
    READ,
    WRITE,
    active_client,
    listed,
    require_client_scope,
    visible_client,
)
from mpctl.emulator.clients_rules import (
    OBJECT,
    change_problems,
    new_client,
    parse_client_input,
    replaced_client,
    rule_problems,
)
from mpctl.emulator.errors import ApiError, Problem
from mpctl.emulator.http_input import json_object, query_flag
from mpctl.emulator.ids import new_client_id
from mpctl.emulator.orgno import is_valid_orgno
from mpctl.emulator.representations import client_view, encoded_client_view
from mpctl.emulator.resource import Resource
from mpctl.emulator.state import ClientRecord, EmulatorState
from mpctl.emulator.vocabulary import DCR_SUPPLIER, DCR_WRITE, SECRET_AUTH_METHODS
from mpctl.emulator.wire import json_array_response, json_response


class ClientsApi(Resource):
    """`/clients` and `/clients/{client_id}`."""

    def routes(self) -> list[Route]:
        return [
            Route("/clients", self.list_clients, methods=["GET"]),
            Route("/clients", self.create_client, methods=["POST"]),
            Route("/clients/{client_id}", self.get_client, methods=["GET"]),
            Route("/clients/{client_id}", self.replace_client, methods=["PUT"]),
            Route("/clients/{client_id}", self.delete_client, methods=["DELETE"]),
            Route("/clients/{client_id}/secret", self.rotate_secret, methods=["POST"]),
        ]

    async def list_clients(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            caller = self.caller(request, state)
            require_client_scope(caller, READ)
            include_inactive = query_flag(request, "inactive")
            reads_supplied = self.emu.switches.supplier_clients_with_dcr_read
            clients = sorted(state.clients.values(), key=lambda c: (c.created, c.client_id))
            shown = [
                encoded_client_view(client)
                for client in clients
                if listed(client, caller, reads_supplied) and (client.active or include_inactive)
            ]
        return json_array_response(shown)

    async def get_client(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            caller = self.caller(request, state)
            require_client_scope(caller, READ)
            reads_supplied = self.emu.switches.supplier_clients_with_dcr_read
            client_id = request.path_params["client_id"]
            client = visible_client(state, caller, client_id, READ, reads_supplied=reads_supplied)
            return json_response(client_view(client))

    async def create_client(self, request: Request) -> Response:
        raw = await request.body()
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_client_scope(caller, WRITE)
            data = parse_client_input(json_object(raw, OBJECT))
            owner, supplier = _ownership(state, caller, data.client_orgno)
            problems = rule_problems(state, data, owner)
            if problems:
                raise ApiError(400, problems, object_name=OBJECT)
            client_id = new_client_id(state, self.emu.settings.seed)
            client = new_client(data, client_id, owner, supplier, self.emu.now(state))
            state.clients[client_id] = client
        status = self.emu.switches.create_client_status
        return json_response(_with_new_secret(client), status_code=status)

    async def replace_client(self, request: Request) -> Response:
        raw = await request.body()
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_client_scope(caller, CHANGE)
            existing = active_client(state, caller, request.path_params["client_id"], CHANGE)
            data = parse_client_input(json_object(raw, OBJECT))
            problems = change_problems(existing, data)
            problems += rule_problems(state, data, existing.client_orgno)
            if problems:
                raise ApiError(400, problems, object_name=OBJECT)
            client = replaced_client(existing, data, self.emu.now(state))
            state.clients[client.client_id] = client
        return json_response(client_view(client))

    async def delete_client(self, request: Request) -> Response:
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_client_scope(caller, WRITE)
            client = visible_client(state, caller, request.path_params["client_id"], WRITE)
            if client.active:
                client.active = False
                client.last_updated = self.emu.now(state)
        return Response(status_code=200)

    async def rotate_secret(self, request: Request) -> Response:
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_client_scope(caller, WRITE)
            client = active_client(state, caller, request.path_params["client_id"], WRITE)
            if client.token_endpoint_auth_method not in SECRET_AUTH_METHODS:
                problem = Problem(
                    "Client does not use a client secret", "token_endpoint_auth_method"
                )
                raise ApiError(400, [problem], object_name=OBJECT)
            client.last_updated = self.emu.now(state)
        return json_response(_with_new_secret(client))


def _ownership(
    state: EmulatorState, caller: Caller, client_orgno: str | None
) -> tuple[str, str | None]:
    """(owner, supplier) of a new client; other organisations need `dcr.supplier`."""
    if client_orgno is None or client_orgno == caller.orgno:
        require_any(caller, {DCR_WRITE})
        return caller.orgno, None
    require_any(caller, {DCR_SUPPLIER})
    if not is_valid_orgno(client_orgno) or client_orgno not in state.organisations:
        problem = Problem(f"Unknown organization number {client_orgno}", field="client_orgno")
        raise ApiError(400, [problem], object_name=OBJECT)
    supplier = state.organisations.get(caller.orgno)
    if supplier is not None and not supplier.may_supply(client_orgno):
        message = f"Organization {caller.orgno} is not a supplier for {client_orgno}"
        raise ApiError(403, message, object_name="Authorization")
    return client_orgno, caller.orgno


def _with_new_secret(client: ClientRecord) -> dict[str, object]:
    """The client's view; secret-based clients get a fresh secret shown this once only."""
    view = client_view(client)
    if client.token_endpoint_auth_method in SECRET_AUTH_METHODS:
        view["client_secret"] = secrets.token_urlsafe(32)
    return view
