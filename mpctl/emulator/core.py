"""One running emulator: its settings, world, switches, clock, key source and state store.

Owns the wiring every handler shares, including the emulator's notion of "now" (the given
clock plus the offset the control surface may set, kept in the state so every process sharing
a state file agrees). It must not handle HTTP.
"""

from __future__ import annotations

from mpctl.emulator.clock import Clock, SystemClock
from mpctl.emulator.keys import KeySource, generate_rsa_key
from mpctl.emulator.seeding import seed_state
from mpctl.emulator.settings import EmulatorSettings, Switches
from mpctl.emulator.state import EmulatorState
from mpctl.emulator.store import FileStateStore, MemoryStateStore, StateStore
from mpctl.emulator.world import World, load_world, warn_if_world_changed, world_digest


class Emulator:
    """Shared context of the app's handlers."""

    def __init__(
        self,
        settings: EmulatorSettings,
        *,
        clock: Clock | None = None,
        key_source: KeySource | None = None,
    ) -> None:
        self.settings = settings
        self.world = load_world(settings.world) if settings.world is not None else World()
        self.world_sha256 = world_digest(settings.world) if settings.world is not None else None
        self.switches = settings.switches or self.world.switches or Switches()
        self.clock = clock or SystemClock()
        self.key_source = key_source or generate_rsa_key
        self.store = self._open_store()

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    def now(self, state: EmulatorState) -> float:
        """The emulator's time: the clock plus the control surface's offset."""
        return self.clock.now() + state.clock_offset

    def fresh_state(self, keep_from: EmulatorState | None = None) -> EmulatorState:
        """The world's initial state (on reset, key material carries over from `keep_from`)."""
        state = seed_state(
            self.world,
            environment=self.settings.environment,
            seed=self.settings.seed,
            now=self.clock.now() if self.settings.seed_time is None else self.settings.seed_time,
            keep_from=keep_from,
        )
        state.world_sha256 = self.world_sha256
        return state

    def _open_store(self) -> StateStore:
        if self.settings.state_path is None:
            return MemoryStateStore(self.fresh_state)
        path = self.settings.state_path
        shared = FileStateStore(path, self.fresh_state, on_load=self._check_world)
        if self.settings.state_file_writes == "never":
            return MemoryStateStore(shared.load_once)
        return shared

    def _check_world(self, state: EmulatorState) -> None:
        if self.settings.world is not None:
            warn_if_world_changed(self.settings.world, state.world_sha256, self.world_sha256)
