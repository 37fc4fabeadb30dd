"""A faithful local Digdir: the self-service API and the Maskinporten token endpoint.

Written from `reference/digdir-api.md`, sharing no code with mpctl's client (`mpctl.remote`),
planner or applier, so the client's bugs cannot hide in the fake. `create_app` gives one ASGI
app for in-process use (httpx.ASGITransport) and for `serve` (uvicorn on loopback).
"""

from mpctl.emulator.app import create_app
from mpctl.emulator.business_certificate import issue_business_certificate
from mpctl.emulator.clock import Clock, FrozenClock, SystemClock
from mpctl.emulator.fault_rules import FaultRule
from mpctl.emulator.faults import DroppedConnection
from mpctl.emulator.server import DEFAULT_PORT, build_server, serve
from mpctl.emulator.settings import EmulatorSettings, Switches
from mpctl.emulator.world import World, WorldError, load_world

__all__ = [
    "DEFAULT_PORT",
    "Clock",
    "DroppedConnection",
    "EmulatorSettings",
    "FaultRule",
    "FrozenClock",
    "Switches",
    "SystemClock",
    "World",
    "WorldError",
    "build_server",
    "create_app",
    "issue_business_certificate",
    "load_world",
    "serve",
]
