"""The state remembers which world file it was seeded from; a changed world file is warned
about once (not an error), and a reset makes the state current again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import EmulatorSettings, FrozenClock
from mpctl.emulator.core import Emulator
from mpctl.emulator.keys import KeySource
from mpctl.emulator.world import WORLD_CHANGED

from .worlds import CUSTOMER, base_world

WARNING = "warning: " + WORLD_CHANGED.format(name="world.yaml")


def _emulator(world: Path, state: Path, key_source: KeySource) -> Emulator:
    settings = EmulatorSettings(world=world, state_path=state)
    return Emulator(settings, clock=FrozenClock(1_780_000_000.0), key_source=key_source)


def _recorded(emulator: Emulator) -> str | None:
    with emulator.store.read() as state:
        return state.world_sha256


@pytest.fixture
def world_data(admin_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return base_world(admin_key)


def test_a_new_state_records_the_world_files_digest(
    tmp_path: Path, world_data: dict[str, Any], key_source: KeySource
) -> None:
    world = tmp_path / "world.yaml"
    world.write_text(json.dumps(world_data))
    emulator = _emulator(world, tmp_path / "state.json", key_source)
    assert _recorded(emulator) == hashlib.sha256(world.read_bytes()).hexdigest()
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["world_sha256"] == _recorded(emulator)


def test_a_changed_world_file_is_warned_about_once(
    tmp_path: Path,
    world_data: dict[str, Any],
    key_source: KeySource,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world, state = tmp_path / "world.yaml", tmp_path / "state.json"
    world.write_text(json.dumps(world_data))
    _recorded(_emulator(world, state, key_source))
    assert capsys.readouterr().err == ""

    world_data["organisations"][0]["name"] = "ACME Renamed AS"
    world.write_text(json.dumps(world_data))
    changed = _emulator(world, state, key_source)
    old_digest = _recorded(changed)
    assert capsys.readouterr().err.strip() == WARNING
    _recorded(_emulator(world, state, key_source))
    assert capsys.readouterr().err == ""
    assert old_digest != hashlib.sha256(world.read_bytes()).hexdigest()
    with changed.store.read() as current:
        assert current.organisations[CUSTOMER].name  # the state is still usable


def test_a_reset_state_is_current_again(
    tmp_path: Path,
    world_data: dict[str, Any],
    key_source: KeySource,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world, state = tmp_path / "world.yaml", tmp_path / "state.json"
    world.write_text(json.dumps(world_data))
    _recorded(_emulator(world, state, key_source))
    world.write_text(json.dumps(world_data) + "\n")
    emulator = _emulator(world, state, key_source)
    with emulator.store.write() as current:
        fresh = emulator.fresh_state(keep_from=current)
        current.world_sha256 = fresh.world_sha256
    capsys.readouterr()
    assert _recorded(_emulator(world, state, key_source)) == emulator.world_sha256
    assert capsys.readouterr().err == ""


def test_a_state_without_a_digest_is_not_judged(
    tmp_path: Path,
    world_data: dict[str, Any],
    key_source: KeySource,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world, state = tmp_path / "world.yaml", tmp_path / "state.json"
    world.write_text(json.dumps(world_data))
    _recorded(_emulator(world, state, key_source))
    saved = json.loads(state.read_text())
    del saved["world_sha256"]
    state.write_text(json.dumps(saved))
    world.write_text(json.dumps(world_data) + "\n")
    assert _recorded(_emulator(world, state, key_source)) is None
    assert capsys.readouterr().err == ""
