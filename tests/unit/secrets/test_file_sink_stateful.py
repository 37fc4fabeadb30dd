"""Any sequence of sink operations agrees with a tiny pure model of the three labels.

Checks after every step: the labels read back as the model says, refusals happen exactly when
the model refuses (S6 and friends), a repeated successful call changes no byte, files stay
0600, and the `.env` always names the current key.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mpctl.errors import SecretSinkError
from mpctl.model import FileSink
from mpctl.secrets import FileSecretSink, PrivateKey, SinkContext, generate_key

CREATED = datetime(2026, 11, 21, tzinfo=UTC)
KEYS = [generate_key(kid=f"k{i}", created_at=CREATED, size=2048) for i in range(3)]
CLIENT = "billing"


@dataclass(frozen=True)
class Labels:
    pending: str | None = None
    current: str | None = None
    previous: str | None = None
    client_id: str | None = None


def model_stage(labels: Labels, kid: str) -> Labels | None:
    if kid in (labels.pending, labels.current):
        return labels
    if kid == labels.previous or labels.pending is not None:
        return None
    return replace(labels, pending=kid)


def model_promote(labels: Labels, kid: str) -> Labels | None:
    if labels.current == kid:
        return labels
    if labels.pending != kid or labels.previous is not None:
        return None
    return replace(labels, pending=None, current=kid, previous=labels.current)


class SinkMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = Path(tempfile.mkdtemp())
        context = SinkContext("test", self.base, "https://i.example/", "https://i.example/token")
        self.sink = FileSecretSink(FileSink(), context)
        self.labels = Labels()
        self.clock = 0

    def teardown(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def _bytes(self) -> bytes | None:
        path = self.sink.json_path(CLIENT)
        return path.read_bytes() if path.exists() else None

    def _apply(self, expected: Labels | None, call: object) -> None:
        try:
            call()  # type: ignore[operator]
        except SecretSinkError:
            assert expected is None, "the sink refused what the model allows"
            return
        assert expected is not None, "the sink allowed what the model refuses"
        self.labels = expected
        before = self._bytes()
        call()  # type: ignore[operator]
        assert self._bytes() == before, "a repeated call changed the file"

    @rule(index=st.integers(0, 2))
    def stage(self, index: int) -> None:
        key: PrivateKey = KEYS[index]
        self._apply(model_stage(self.labels, key.kid), lambda: self.sink.stage(CLIENT, key))

    @rule(index=st.integers(0, 2))
    def promote(self, index: int) -> None:
        kid = KEYS[index].kid
        self.clock += 1
        now = datetime.fromtimestamp(1_800_000_000 + self.clock, UTC)
        self._apply(model_promote(self.labels, kid), lambda: self.sink.promote(CLIENT, kid, now))

    @rule()
    def forget_previous(self) -> None:
        expected = replace(self.labels, previous=None)
        self._apply(expected, lambda: self.sink.forget_previous(CLIENT))

    @rule(index=st.integers(0, 2))
    def discard_pending(self, index: int) -> None:
        kid = KEYS[index].kid
        expected = replace(self.labels, pending=None) if self.labels.pending == kid else self.labels
        self._apply(expected, lambda: self.sink.discard_pending(CLIENT, kid))

    @rule(client_id=st.sampled_from(["id-a", "id-b"]))
    def set_client_id(self, client_id: str) -> None:
        expected = replace(self.labels, client_id=client_id)
        self._apply(expected, lambda: self.sink.set_client_id(CLIENT, client_id))

    @invariant()
    def labels_read_back(self) -> None:
        state = self.sink.read_state(CLIENT)
        got = Labels(
            pending=state.pending.kid if state.pending else None,
            current=state.current.kid if state.current else None,
            previous=state.previous.kid if state.previous else None,
            client_id=state.client_id,
        )
        assert got == self.labels

    @invariant()
    def files_are_private_and_env_is_current(self) -> None:
        for path in self.sink.directory.glob("*") if self.sink.directory.exists() else ():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        env = self.sink.env_path(CLIENT)
        if self.labels.current and self.labels.client_id:
            assert f'MASKINPORTEN_KID="{self.labels.current}"' in env.read_text()
        else:
            assert not env.exists()


SinkMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_file_sink_matches_the_model = SinkMachine.TestCase
