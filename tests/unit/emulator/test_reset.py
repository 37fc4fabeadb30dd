"""`reset_state`: the state file back to what the world file seeds, keeping what the control
surface's reset keeps (CAs, signing key, id counter); an unreadable state file is replaced."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import EmulatorSettings, issue_business_certificate, reset_state
from mpctl.emulator.core import Emulator
from mpctl.emulator.keys import KeySource
from mpctl.errors import UserError

from .worlds import ACME, base_world


@pytest.fixture
def settings(tmp_path: Path, admin_key: rsa.RSAPrivateKey) -> EmulatorSettings:
    world = tmp_path / "world.yaml"
    world.write_text(json.dumps(base_world(admin_key)))
    return EmulatorSettings(world=world, state_path=tmp_path / "state.json")


def _saved(settings: EmulatorSettings) -> dict[str, Any]:
    assert settings.state_path is not None
    document: dict[str, Any] = json.loads(settings.state_path.read_text())
    return document


def test_reset_drops_changes_and_keeps_the_key_material(
    settings: EmulatorSettings, tmp_path: Path, key_source: KeySource
) -> None:
    issue_business_certificate(
        settings, ACME, tmp_path / "c.pem", tmp_path / "k.pem", key_source=key_source
    )
    emulator = Emulator(settings, key_source=key_source)
    with emulator.store.write() as state:
        state.organisations.pop(ACME)
        state.id_counter = 41
    before = _saved(settings)
    assert ACME not in before["organisations"]

    reset_state(settings)
    after = _saved(settings)
    assert ACME in after["organisations"]
    assert after["authorities"] == before["authorities"]
    assert after["id_counter"] == 41
    assert after["world_sha256"] == emulator.world_sha256
    assert settings.state_path is not None
    assert stat.S_IMODE(settings.state_path.stat().st_mode) == 0o600


def test_an_unreadable_state_is_replaced(settings: EmulatorSettings) -> None:
    assert settings.state_path is not None
    settings.state_path.write_text("{not json")
    reset_state(settings)
    assert ACME in _saved(settings)["organisations"]


def test_reset_needs_a_state_file(settings: EmulatorSettings) -> None:
    with pytest.raises(UserError, match="needs its state file"):
        reset_state(settings.model_copy(update={"state_path": None}))
