"""The base of every group of HTTP handlers: access to the emulator and to the caller.

Owns the one way handlers learn who is calling (bearer token checked against the state at the
emulator's current time). It must not define routes itself.
"""

from __future__ import annotations

from starlette.requests import Request

from mpctl.emulator.bearer import Caller, authenticate
from mpctl.emulator.core import Emulator
from mpctl.emulator.state import EmulatorState


class Resource:
    """Handlers bound to one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator

    def caller(self, request: Request, state: EmulatorState) -> Caller:
        authorization = request.headers.get("authorization")
        return authenticate(authorization, state, self.emu.issuer, self.emu.now(state))
