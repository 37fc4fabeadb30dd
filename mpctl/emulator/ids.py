"""Identifiers the emulator hands out: client ids (deterministic) and trace ids (random).

Owns id generation. Client ids are UUID-shaped and derived from the seed and a counter kept in
the state, so a run is reproducible and processes sharing a state file never collide. Trace
and correlation ids are random. It must not store anything itself.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from mpctl.emulator.state import EmulatorState


def new_client_id(state: EmulatorState, seed: int) -> str:
    """A fresh UUID-v4-shaped client id; advances the state's counter."""
    counter = state.next_counter()
    digest = hashlib.sha256(f"mpctl-emulator:{seed}:{counter}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def trace_id() -> str:
    """32 hex characters, like Maskinporten's `trace_id` and the v1 `correlation_id`."""
    return secrets.token_hex(16)
