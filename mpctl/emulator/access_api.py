"""HTTP handlers for scope access: `/scopes/access?scope=`, `/scopes/access/{orgno}`, `/all`.

Owns granting (APPROVED, also re-approving a DENIED record), revoking (the record stays as
DENIED), listing a scope's consumers, and the consumer-side list. The consumer orgno in the
path must be nine digits with a valid check digit and a known organisation, else 400 (this
also stops path tricks like `..`). It must not decide token-time access (`scope_access`).
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mpctl.emulator.bearer import require_any
from mpctl.emulator.errors import ApiError, Problem
from mpctl.emulator.http_input import required_query
from mpctl.emulator.orgno import is_valid_orgno
from mpctl.emulator.representations import access_view
from mpctl.emulator.resource import Resource
from mpctl.emulator.scopes_api import own_scope
from mpctl.emulator.scopes_rules import reading_scopes, writing_scopes
from mpctl.emulator.state import AccessRecord, EmulatorState
from mpctl.emulator.vocabulary import DCR_READ
from mpctl.emulator.wire import json_response

OBJECT: Final = "ScopeAccess"


def _consumer(state: EmulatorState, orgno: str) -> str:
    if not is_valid_orgno(orgno) or orgno not in state.organisations:
        problem = Problem(f"Invalid consumer organization number {orgno}", "consumer_orgno")
        raise ApiError(400, [problem], object_name=OBJECT)
    return orgno


class AccessApi(Resource):
    """`/scopes/access...`."""

    def routes(self) -> list[Route]:
        return [
            Route("/scopes/access/all", self.list_my_access, methods=["GET"]),
            Route("/scopes/access", self.list_consumers, methods=["GET"]),
            Route("/scopes/access/{consumer_orgno}", self.grant, methods=["PUT"]),
            Route("/scopes/access/{consumer_orgno}", self.revoke, methods=["DELETE"]),
        ]

    async def list_consumers(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            caller = self.caller(request, state)
            require_any(caller, reading_scopes(self.emu.switches))
            scope = own_scope(state, caller, required_query(request, "scope", OBJECT))
            records = [r for r in state.access.values() if r.scope == scope.name]
            shown = [access_view(r, state) for r in sorted(records, key=lambda r: r.consumer_orgno)]
        return json_response(shown)

    async def list_my_access(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            caller = self.caller(request, state)
            require_any(caller, reading_scopes(self.emu.switches) | {DCR_READ})
            records = [r for r in state.access.values() if r.consumer_orgno == caller.orgno]
            shown = [access_view(r, state) for r in sorted(records, key=lambda r: r.scope)]
        return json_response(shown)

    async def grant(self, request: Request) -> Response:
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_any(caller, writing_scopes(self.emu.switches))
            consumer = _consumer(state, request.path_params["consumer_orgno"])
            scope = own_scope(state, caller, required_query(request, "scope", OBJECT))
            now = self.emu.now(state)
            key = AccessRecord.key(scope.name, consumer)
            record = state.access.get(key) or AccessRecord(
                scope=scope.name,
                consumer_orgno=consumer,
                owner_orgno=scope.owner_orgno,
                state="APPROVED",
                created=now,
                last_updated=now,
            )
            if record.state != "APPROVED":
                record.state, record.last_updated = "APPROVED", now
            state.access[key] = record
            return json_response(access_view(record, state))

    async def revoke(self, request: Request) -> Response:
        with self.emu.store.write() as state:
            caller = self.caller(request, state)
            require_any(caller, writing_scopes(self.emu.switches))
            consumer = _consumer(state, request.path_params["consumer_orgno"])
            scope = own_scope(state, caller, required_query(request, "scope", OBJECT))
            record = state.access.get(AccessRecord.key(scope.name, consumer))
            if record is None:
                message = f"Organization {consumer} has no access record for {scope.name}"
                raise ApiError(404, message, object_name=OBJECT)
            if record.state != "DENIED":
                record.state, record.last_updated = "DENIED", self.emu.now(state)
            return json_response(access_view(record, state))
