"""The file sink: labels, idempotency, S6 refusal, 0600 atomic files, corrupt files, `.env`."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mpctl.errors import SecretSinkError
from mpctl.files import temporary_path
from mpctl.model import FileSink, SinkState, SinkVariables
from mpctl.secrets import (
    SINKS,
    FileSecretSink,
    KidReuseError,
    PrivateKey,
    RotationInFlightError,
    SecretSink,
    SinkContext,
    ThreadedSink,
    open_sink,
    to_pem,
)

PROMOTED = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
LATER = datetime(2026, 12, 1, tzinfo=UTC)
Keys = tuple[PrivateKey, PrivateKey, PrivateKey]


def parse_env(text: str) -> dict[str, str]:
    """A strict reader of the dialect the sink writes: `NAME="value"`, line breaks kept inside."""
    values = {}
    body = "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))
    for match in re.finditer(r'([A-Za-z_][A-Za-z0-9_]*)="([^"\\$`]*)"\n|(.+)', body):
        assert match[3] is None, f"not a valid .env line: {match[3][:20]}"
        values[match[1]] = match[2]
    return values


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def rotated_once(sink: FileSecretSink, keys: Keys) -> None:
    """client 'billing': current = keys[1], previous = keys[0], client id set."""
    sink.set_client_id("billing", "0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10")
    sink.stage("billing", keys[0])
    sink.promote("billing", keys[0].kid, PROMOTED)
    sink.stage("billing", keys[1])
    sink.promote("billing", keys[1].kid, LATER)


def test_registry_builds_a_file_sink(context: SinkContext) -> None:
    assert "file" in SINKS
    sink = open_sink(FileSink(directory="secrets/{env}"), context)
    assert isinstance(sink, ThreadedSink)
    assert isinstance(sink.blocking, FileSecretSink)
    assert isinstance(sink, SecretSink)
    assert sink.blocking.directory == context.base_dir / "secrets" / "test"


def test_nothing_stored_reads_as_empty_state(sink: FileSecretSink) -> None:
    assert sink.read_state("billing") == SinkState()
    assert not sink.json_path("billing").exists()


def test_stage_writes_pending_0600_in_a_0700_directory(sink: FileSecretSink, keys: Keys) -> None:
    sink.stage("billing", keys[0])
    state = sink.read_state("billing")
    assert state.pending == keys[0].slot()
    assert (state.current, state.previous) == (None, None)
    assert mode_of(sink.json_path("billing")) == 0o600
    assert mode_of(sink.directory) == 0o700
    assert not sink.env_path("billing").exists()


def test_stage_is_idempotent_for_the_same_key(sink: FileSecretSink, keys: Keys) -> None:
    sink.stage("billing", keys[0])
    before = sink.json_path("billing").read_bytes()
    sink.stage("billing", keys[0])
    assert sink.json_path("billing").read_bytes() == before


def test_stage_refuses_a_second_rotation_in_flight(sink: FileSecretSink, keys: Keys) -> None:
    sink.stage("billing", keys[0])
    before = sink.json_path("billing").read_bytes()
    with pytest.raises(RotationInFlightError, match=keys[0].kid):
        sink.stage("billing", keys[1])
    assert sink.json_path("billing").read_bytes() == before


def test_stage_refuses_a_kid_with_different_material(sink: FileSecretSink, keys: Keys) -> None:
    sink.stage("billing", keys[0])
    with pytest.raises(KidReuseError):
        sink.stage("billing", keys[1].with_kid(keys[0].kid))


def test_stage_refuses_reusing_the_previous_kid(sink: FileSecretSink, keys: Keys) -> None:
    rotated_once(sink, keys)
    with pytest.raises(KidReuseError):
        sink.stage("billing", keys[0])


def test_stage_of_the_current_key_is_a_no_op(sink: FileSecretSink, keys: Keys) -> None:
    rotated_once(sink, keys)
    before = sink.read_state("billing")
    sink.stage("billing", keys[1])
    assert sink.read_state("billing") == before


def test_promote_moves_the_labels(sink: FileSecretSink, keys: Keys) -> None:
    rotated_once(sink, keys)
    state = sink.read_state("billing")
    assert state.current == keys[1].slot(promoted_at=LATER)
    assert state.previous == keys[0].slot(promoted_at=PROMOTED)
    assert state.pending is None
    assert state.client_id == "0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10"


def test_promote_is_idempotent(sink: FileSecretSink, keys: Keys) -> None:
    rotated_once(sink, keys)
    before = sink.json_path("billing").read_bytes()
    sink.promote("billing", keys[1].kid, datetime(2030, 1, 1, tzinfo=UTC))
    assert sink.json_path("billing").read_bytes() == before


def test_promote_needs_that_kid_pending(sink: FileSecretSink, keys: Keys) -> None:
    with pytest.raises(SecretSinkError, match="not pending"):
        sink.promote("billing", keys[0].kid, PROMOTED)
    sink.stage("billing", keys[0])
    with pytest.raises(SecretSinkError, match="not pending"):
        sink.promote("billing", keys[1].kid, PROMOTED)


def test_promote_refuses_to_drop_a_previous_key(sink: FileSecretSink, keys: Keys) -> None:
    rotated_once(sink, keys)
    sink.stage("billing", keys[2])
    with pytest.raises(SecretSinkError, match="previous key"):
        sink.promote("billing", keys[2].kid, LATER)
    sink.forget_previous("billing", keys[0].kid)
    sink.promote("billing", keys[2].kid, LATER)
    assert sink.read_state("billing").previous == keys[1].slot(promoted_at=LATER)


def test_forget_previous_is_idempotent_and_checks_the_kid(sink: FileSecretSink, keys: Keys) -> None:
    sink.forget_previous("billing")
    rotated_once(sink, keys)
    with pytest.raises(SecretSinkError, match="not"):
        sink.forget_previous("billing", keys[2].kid)
    sink.forget_previous("billing", keys[0].kid)
    sink.forget_previous("billing", keys[0].kid)
    state = sink.read_state("billing")
    assert state.previous is None
    assert state.current is not None


def test_discard_pending_is_explicit_and_idempotent(sink: FileSecretSink, keys: Keys) -> None:
    sink.discard_pending("billing", keys[0].kid)
    sink.stage("billing", keys[0])
    sink.discard_pending("billing", keys[1].kid)
    assert sink.read_state("billing").pending is not None
    sink.discard_pending("billing", keys[0].kid)
    sink.discard_pending("billing", keys[0].kid)
    assert sink.read_state("billing").pending is None


def test_set_client_id_is_idempotent(sink: FileSecretSink) -> None:
    sink.set_client_id("billing", "abc")
    before = sink.json_path("billing").read_bytes()
    sink.set_client_id("billing", "abc")
    assert sink.json_path("billing").read_bytes() == before
    assert sink.read_state("billing").client_id == "abc"


def test_load_private_key_from_every_slot(sink: FileSecretSink, keys: Keys) -> None:
    rotated_once(sink, keys)
    sink.stage("billing", keys[2])
    for key in keys:
        loaded = sink.load_private_key("billing", key.kid)
        assert (loaded.kid, loaded.thumbprint) == (key.kid, key.thumbprint)
    with pytest.raises(SecretSinkError, match="no key"):
        sink.load_private_key("billing", "unknown")


def test_env_file_holds_the_current_key_only(sink: FileSecretSink, keys: Keys) -> None:
    rotated_once(sink, keys)
    sink.stage("billing", keys[2])
    path = sink.env_path("billing")
    assert mode_of(path) == 0o600
    assert parse_env(path.read_text()) == {
        "MASKINPORTEN_MODE": "live",
        "MASKINPORTEN_CLIENT_ID": "0f6c1f4e-3b8a-4c4e-9a51-2d1f1e6c9b10",
        "MASKINPORTEN_KID": keys[1].kid,
        "MASKINPORTEN_PRIVATE_KEY": to_pem(keys[1]),
        "MASKINPORTEN_TOKEN_ENDPOINT": "https://test.maskinporten.no/token",
        "MASKINPORTEN_ISSUER": "https://test.maskinporten.no/",
    }
    text = path.read_text()
    for other in (keys[0], keys[2]):
        assert to_pem(other).split()[4] not in text


def test_env_file_waits_for_a_client_id(sink: FileSecretSink, keys: Keys) -> None:
    sink.stage("billing", keys[0])
    sink.promote("billing", keys[0].kid, PROMOTED)
    assert not sink.env_path("billing").exists()
    sink.set_client_id("billing", "id-1")
    assert parse_env(sink.env_path("billing").read_text())["MASKINPORTEN_KID"] == keys[0].kid


def test_env_file_heals_after_a_crash_between_the_two_writes(
    sink: FileSecretSink, keys: Keys
) -> None:
    rotated_once(sink, keys)
    sink.env_path("billing").unlink()
    sink.promote("billing", keys[1].kid, LATER)
    assert parse_env(sink.env_path("billing").read_text())["MASKINPORTEN_KID"] == keys[1].kid


def test_env_variable_names_are_configurable(context: SinkContext, keys: Keys) -> None:
    variables = SinkVariables(kid="MP_KID", private_key="MP_KEY", mode="MP_MODE")
    sink = FileSecretSink(FileSink(variables=variables), context)
    rotated_once(sink, keys)
    values = parse_env(sink.env_path("billing").read_text())
    assert {"MP_KID", "MP_KEY", "MP_MODE", "MASKINPORTEN_CLIENT_ID"} <= set(values)
    assert "MASKINPORTEN_KID" not in values


def test_env_file_can_be_switched_off(context: SinkContext, keys: Keys) -> None:
    sink = FileSecretSink(FileSink(write_env_file=False), context)
    rotated_once(sink, keys)
    assert not sink.env_path("billing").exists()


def test_file_records_client_and_environment(sink: FileSecretSink, keys: Keys) -> None:
    sink.stage("billing", keys[0])
    document = json.loads(sink.json_path("billing").read_text())
    assert (document["format_version"], document["client"], document["environment"]) == (
        1,
        "billing",
        "test",
    )
    assert document["pending"]["private_key_pem"] == to_pem(keys[0])


@pytest.mark.parametrize(
    ("damage", "detail"),
    [
        (lambda text: "", "empty"),
        (lambda text: text[: len(text) // 2], "not complete, valid JSON"),
        (lambda text: text.replace('"kid"', '"kidd"', 1), "pending"),
        (lambda text: text.replace('"format_version": 1', '"format_version": 7'), "format_version"),
        (lambda text: text.replace('"environment": "test"', '"environment": "prod"'), "prod"),
        (lambda text: "[1, 2]", "document"),
    ],
)
def test_corrupt_file_is_a_clear_error(
    sink: FileSecretSink, keys: Keys, damage: object, detail: str
) -> None:
    sink.stage("billing", keys[0])
    path = sink.json_path("billing")
    path.write_text(damage(path.read_text()))  # type: ignore[operator]
    with pytest.raises(SecretSinkError) as caught:
        sink.read_state("billing")
    message = str(caught.value)
    assert str(path) in message
    assert detail in message
    assert "not treated as empty" in message
    assert "backup" in (caught.value.hint or "")
    with pytest.raises(SecretSinkError):
        sink.stage("billing", keys[1])
    assert caught.value.__context__ is None


def test_tampered_key_does_not_match_its_thumbprint(sink: FileSecretSink, keys: Keys) -> None:
    sink.stage("billing", keys[0])
    path = sink.json_path("billing")
    document = json.loads(path.read_text())
    document["pending"]["private_key_pem"] = to_pem(keys[1])
    path.write_text(json.dumps(document))
    with pytest.raises(SecretSinkError, match="thumbprint"):
        sink.load_private_key("billing", keys[0].kid)


def test_failed_replace_leaves_the_old_file(
    sink: FileSecretSink, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink.stage("billing", keys[0])
    path = sink.json_path("billing")
    before = path.read_bytes()

    def fail_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(SecretSinkError, match="previous version is unchanged"):
        sink.promote("billing", keys[0].kid, PROMOTED)
    assert path.read_bytes() == before
    assert not temporary_path(path).exists()


@pytest.mark.parametrize("client", ["../escape", "Billing", "a/b", ""])
def test_client_names_cannot_escape_the_directory(sink: FileSecretSink, client: str) -> None:
    with pytest.raises(SecretSinkError):
        sink.read_state(client)


def test_environment_names_cannot_escape_the_base(tmp_path: Path) -> None:
    context = SinkContext("../x", tmp_path, "https://i/", "https://i/token")
    with pytest.raises(SecretSinkError):
        FileSecretSink(FileSink(), context)


CRASH_CHILD = """
import os, sys
from datetime import UTC, datetime
from pathlib import Path
from mpctl.model import FileSink
from mpctl.secrets import FileSecretSink, SinkContext

context = SinkContext("test", Path(sys.argv[1]), "https://i/", "https://i/token")
sink = FileSecretSink(FileSink(), context)
os.replace = lambda src, dst: os._exit(9)  # the process dies between fsync and rename
sink.promote("billing", sys.argv[2], datetime.now(UTC))
"""


def test_killed_between_temp_write_and_replace(
    sink: FileSecretSink, keys: Keys, context: SinkContext
) -> None:
    sink.stage("billing", keys[0])
    path = sink.json_path("billing")
    before = path.read_bytes()
    args = [sys.executable, "-c", CRASH_CHILD, str(context.base_dir), keys[0].kid]
    assert subprocess.run(args, check=False, timeout=60).returncode == 9
    assert path.read_bytes() == before
    assert mode_of(temporary_path(path)) == 0o600
    sink.promote("billing", keys[0].kid, PROMOTED)
    assert sink.read_state("billing").current == keys[0].slot(promoted_at=PROMOTED)
    assert not temporary_path(path).exists()


@pytest.mark.parametrize("marker", ["CI", "GITHUB_ACTIONS"])
def test_the_file_sink_refuses_a_ci_runner_naming_the_durable_sinks(
    context: SinkContext, marker: str
) -> None:
    on_runner = dataclasses.replace(context, environ={marker: "true"})
    with pytest.raises(SecretSinkError, match="CI runner") as caught:
        open_sink(FileSink(), on_runner)
    assert "aws-secrets-manager" in (caught.value.hint or "")
    assert "ephemeral_ok: true" in (caught.value.hint or "")


def test_the_file_sink_runs_on_a_ci_runner_when_told_it_is_throwaway(
    context: SinkContext,
) -> None:
    on_runner = dataclasses.replace(context, environ={"CI": "true"})
    open_sink(FileSink(ephemeral_ok=True), on_runner)
    open_sink(FileSink(), dataclasses.replace(on_runner, embedded_emulator=True))
    open_sink(FileSink(), dataclasses.replace(context, environ={"CI": "false"}))


def test_the_sink_context_never_shows_the_environment(context: SinkContext) -> None:
    secret = dataclasses.replace(context, environ={"MPCTL_TEST_ADMIN_PRIVATE_KEY": "s3cr3t"})
    assert "s3cr3t" not in repr(secret)
