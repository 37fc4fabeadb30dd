"""Starting an emulator's state file over from its world file (`mpctl emulator reset`).

Owns `reset_state`: the state file becomes exactly what the world file seeds, written
atomically under the state lock. What the control surface's reset keeps is kept (the CAs and
the token-signing key, so certificates already issued stay trusted, and the id counter, so no
client id is handed out twice); a state file that cannot be read is replaced by a fresh one.
It must not touch anything but the state file: certificates and keys elsewhere are the
caller's.
"""

from __future__ import annotations

from mpctl.emulator.core import Emulator
from mpctl.emulator.settings import EmulatorSettings
from mpctl.emulator.state import EmulatorState
from mpctl.emulator.store import FileStateStore, UnreadableStateError
from mpctl.errors import UserError


def reset_state(settings: EmulatorSettings) -> EmulatorState:
    """Rewrite `settings.state_path` from the world file; the new state (keys masked in repr)."""
    if settings.state_path is None:
        raise UserError("resetting the emulator needs its state file (state_path)")
    emulator = Emulator(settings)
    store = FileStateStore(settings.state_path, emulator.fresh_state)  # no drift warning
    try:
        with store.write() as state:
            fresh = emulator.fresh_state(keep_from=state)
            for field in EmulatorState.model_fields:
                setattr(state, field, getattr(fresh, field))
    except UnreadableStateError:
        fresh = emulator.fresh_state()
        store.replace(fresh)
    return fresh
