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
from mpctl.emulator.reset import reset_state
from mpctl.emulator.server import DEFAULT_PORT, build_server, listen, serve
from mpctl.emulator.settings import EmulatorSettings, Switches
from mpctl.emulator.tls import TlsFiles, ensure_tls_files
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
    "TlsFiles",
    "World",
    "WorldError",
    "build_server",
    "create_app",
    "ensure_tls_files",
    "issue_business_certificate",
    "listen",
    "load_world",
    "reset_state",
    "serve",
]
