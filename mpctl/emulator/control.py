"""The test-only control surface under `/_emulator/`: reset, dump, faults, clock, world edits.

Owns endpoints that exist only when `control_enabled` is set, clearly apart from the real API.
Dumps never contain private keys. It must not be reachable when the switch is off (`app`
does not mount it then).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mpctl.emulator.errors import ApiError, Problem
from mpctl.emulator.fault_rules import FaultRule
from mpctl.emulator.http_input import json_object, validation_problems
from mpctl.emulator.resource import Resource
from mpctl.emulator.state import Delegation, EmulatorState, Organisation
from mpctl.emulator.wire import json_response, v1_timestamp
from mpctl.emulator.world import WorldDelegation, WorldOrganisation

OBJECT = "Control"
_Model = TypeVar("_Model", bound=BaseModel)


class _FaultList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    faults: list[FaultRule] = Field(default_factory=list)


class _ClockChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advance: float | None = None
    set: float | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> _ClockChange:
        if (self.advance is None) == (self.set is None):
            raise ValueError("give exactly one of 'advance' (seconds) or 'set' (epoch seconds)")
        return self


def _parse(model: type[_Model], raw: bytes) -> _Model:
    try:
        return model.model_validate(json_object(raw, OBJECT))
    except ValidationError as error:
        raise ApiError(400, validation_problems(error), object_name=OBJECT) from None


class ControlApi(Resource):
    """`/_emulator/...` (mounted only when the control surface is enabled)."""

    def routes(self) -> list[Route]:
        return [
            Route("/reset", self.reset, methods=["POST"]),
            Route("/state", self.dump, methods=["GET"]),
            Route("/faults", self.get_faults, methods=["GET"]),
            Route("/faults", self.set_faults, methods=["PUT"]),
            Route("/faults", self.clear_faults, methods=["DELETE"]),
            Route("/clock", self.get_clock, methods=["GET"]),
            Route("/clock", self.change_clock, methods=["POST"]),
            Route("/delegations", self.add_delegation, methods=["POST"]),
            Route("/delegations", self.remove_delegation, methods=["DELETE"]),
            Route("/organisations", self.add_organisation, methods=["POST"]),
        ]

    async def reset(self, request: Request) -> Response:
        with self.emu.store.write() as state:
            fresh = self.emu.fresh_state(keep_from=state)
            for field in EmulatorState.model_fields:
                setattr(state, field, getattr(fresh, field))
        return json_response({"reset": True})

    async def dump(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            return json_response(state.without_secrets())

    async def get_faults(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            return json_response({"faults": [rule.model_dump() for rule in state.faults]})

    async def set_faults(self, request: Request) -> Response:
        rules = _parse(_FaultList, await request.body()).faults
        with self.emu.store.write() as state:
            state.faults = rules
        return json_response({"faults": [rule.model_dump() for rule in rules]})

    async def clear_faults(self, request: Request) -> Response:
        with self.emu.store.write() as state:
            state.faults = []
        return json_response({"faults": []})

    async def get_clock(self, request: Request) -> Response:
        with self.emu.store.read() as state:
            return json_response(_clock_view(self.emu.now(state), state))

    async def change_clock(self, request: Request) -> Response:
        change = _parse(_ClockChange, await request.body())
        with self.emu.store.write() as state:
            if change.advance is not None:
                state.clock_offset += change.advance
            elif change.set is not None:
                state.clock_offset = change.set - self.emu.clock.now()
            return json_response(_clock_view(self.emu.now(state), state))

    async def add_delegation(self, request: Request) -> Response:
        delegation = await self._delegation(request)
        with self.emu.store.write() as state:
            stored = self._stored_delegation(state, delegation)
            if stored not in state.delegations:
                state.delegations.append(stored)
            return json_response(stored.model_dump())

    async def remove_delegation(self, request: Request) -> Response:
        delegation = await self._delegation(request)
        with self.emu.store.write() as state:
            stored = self._stored_delegation(state, delegation)
            state.delegations = [d for d in state.delegations if d != stored]
            return json_response(stored.model_dump())

    async def _delegation(self, request: Request) -> WorldDelegation:
        return _parse(WorldDelegation, await request.body())

    def _stored_delegation(self, state: EmulatorState, delegation: WorldDelegation) -> Delegation:
        scope = state.scopes.get(delegation.scope)
        if scope is None or scope.delegation_source is None:
            problem = Problem("The scope must exist and have a delegation_source", "scope")
            raise ApiError(400, [problem], object_name=OBJECT)
        return Delegation(
            consumer_orgno=delegation.consumer_orgno,
            supplier_orgno=delegation.supplier_orgno,
            scope=delegation.scope,
            delegation_source=delegation.delegation_source or scope.delegation_source,
        )

    async def add_organisation(self, request: Request) -> Response:
        organisation = _parse(WorldOrganisation, await request.body())
        with self.emu.store.write() as state:
            _check_prefixes_free(state, organisation)
            stored = Organisation(**organisation.model_dump())
            state.organisations[stored.orgno] = stored
            return json_response(stored.model_dump())


def _check_prefixes_free(state: EmulatorState, organisation: WorldOrganisation) -> None:
    for other in state.organisations.values():
        taken = set(other.prefixes) & set(organisation.prefixes)
        if other.orgno != organisation.orgno and taken:
            problem = Problem(f"Prefix {sorted(taken)[0]} belongs to {other.orgno}", "prefixes")
            raise ApiError(400, [problem], object_name=OBJECT)


def _clock_view(now: float, state: EmulatorState) -> dict[str, Any]:
    return {"now": now, "iso": v1_timestamp(now), "offset_seconds": state.clock_offset}
