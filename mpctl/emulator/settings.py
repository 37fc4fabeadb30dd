"""How one emulator instance is configured: settings and the switches for unconfirmed behaviour.

Owns `EmulatorSettings` (issuer, environment, files, seed, control surface) and `Switches`, one
field per behaviour the API reference marks as unconfirmed ([?]). It must not load files or
build state; `core` and `world` do that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mpctl.emulator.vocabulary import Environment

DEFAULT_ISSUER = "http://emulator.mpctl.local/"


class Switches(BaseModel):
    """Choices for behaviours the reference could not confirm. Defaults follow the best evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    create_client_status: Literal[200, 201] = 200
    key_expiry_on_repost: Literal["reset_when_absent", "keep_existing", "renew_all"] = (
        "reset_when_absent"
    )
    kid_uniqueness: Literal["client", "global"] = "client"
    key_exp_beyond_one_year: Literal["reject", "clamp"] = "reject"
    key_propagation_delay_seconds: float = Field(default=0.0, ge=0)
    forbidden_status: Literal[403, 400] = 403
    legacy_root_paths: bool = True
    aud_accepts_single_element_array: bool = False
    scopes_write_accepts_dcr_write: bool = False
    error_text_leading_separator: bool = True
    supplier_clients_with_dcr_read: bool = Field(
        default=False,
        description="Whether dcr.read alone shows a supplier the clients it made for other "
        "organisations (GET /clients and GET /clients/{id}). The reference says dcr.read "
        "reads the caller's own organisation's clients and dcr.supplier reads, creates, "
        "changes and deletes customers' ones; it does not say whether dcr.read reaches them "
        "too. Default: only with dcr.supplier.",
    )
    trailing_slash: Literal["not_found", "same_as_without"] = Field(
        default="not_found",
        description="A path with a trailing slash the API does not list (`/api/v1/clients/`): "
        "404 as any unknown path (Spring 6's default, and the 2025-05-22 API dropped the "
        "slash), or answered as the path without it. Never a redirect.",
    )


class EmulatorSettings(BaseModel):
    """Everything one emulator needs to start. `state_path=None` keeps state in memory only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = DEFAULT_ISSUER
    environment: Environment = "test"
    world: Path | None = None
    state_path: Path | None = None
    state_file_writes: Literal["every_write", "never"] = Field(
        default="every_write",
        description="every_write: each change is written to state_path, which other processes "
        "may share. never: state_path is read once at start (seeded from the world when "
        "missing) and later changes stay in this process's memory, each costing O(size of "
        "the change) instead of a rewrite of the whole file (one process owns the state; "
        "the benchmarks serve this way).",
    )
    switches: Switches | None = Field(
        default=None, description="None: the world file's switches, else the defaults."
    )
    control_enabled: bool = False
    seed: int = 0
    seed_time: float | None = Field(
        default=None,
        description="Epoch seconds a fresh state is seeded at (None: now). Two emulators with "
        "the same world and seed_time start from identical states, so a plan made on a "
        "throwaway copy matches the state a later apply creates.",
    )

    @field_validator("issuer")
    @classmethod
    def _issuer_ends_with_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or not value.endswith("/"):
            raise ValueError("issuer must be an http(s) URL ending with '/'")
        return value
