"""The behaviour every secret sink must show, whatever store is behind it.

A sink's test module imports these tests (`from tests.sinks.suite import *`) and defines one
fixture, `store`, that yields a `StoreUnderTest`: a fresh, empty store on a real server or a
documented fake, a way to open sinks on it, a way to make its next writes fail, and a way to read
what the workload would read. The tests here know nothing about the store.

What is checked: labels move as the protocol says (stage → pending, promote → current with the
old current as previous, forget_previous, discard_pending), every call is idempotent, the
rotation guards hold (one pending key, no kid reused for other material), a failed write leaves
the current key intact and readable, readers running during writes never see a half-written
key, a second sink opened on the same store (another runner) reads the same labels, the
workload reads exactly the current key, and no private key appears in a log line, an exception
or a `repr`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from mpctl.errors import MpctlError
from mpctl.model import KeySlot
from mpctl.secrets import (
    BlockingSecretSink,
    KidReuseError,
    PrivateKey,
    RotationInFlightError,
    generate_key,
    to_pem,
)

CLIENT = "billing"
CLIENT_ID = "0b0e5c1e-2f4a-4c55-9a3f-4a61a7d9c001"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@dataclass
class StoreUnderTest:
    """One fresh store and the hooks the suite needs (see the module docstring)."""

    open: Callable[[], BlockingSecretSink]
    """A new sink on this store, as a new process (a fresh CI runner) would open it."""
    fail_writes: Callable[[int], None]
    """Make every write request after the next `n` fail at the store (a 5xx, a dropped
    connection) until `heal` is called."""
    heal: Callable[[], None]
    workload: Callable[[], Mapping[str, str]]
    """What the workload reads from the store: variable name → value (at least the client id,
    the kid and the private key in the sink's configured encoding)."""
    kind: str
    wire_log: Callable[[], str] = lambda: ""
    """Everything the store saw on the wire (bodies included), for the leak check; a store that
    cannot show it returns ''."""
    notes: dict[str, int] = field(default_factory=dict)


_KEYS: dict[str, PrivateKey] = {}


def key(kid: str) -> PrivateKey:
    """A 2048-bit key per kid, made once per test session (key generation is slow)."""
    if kid not in _KEYS:
        _KEYS[kid] = generate_key(kid=kid, created_at=T0, size=2048)
    return _KEYS[kid]


def secret_lines(private: PrivateKey) -> list[str]:
    """Lines of the key's PEM body: any one of them in a log or an error is a leak."""
    return [line for line in to_pem(private).splitlines() if line and "-----" not in line]


def rotated(sink: BlockingSecretSink, first: str = "k1", second: str = "k2") -> None:
    """current = `second`, previous = `first`."""
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key(first))
    sink.promote(CLIENT, first, T0)
    sink.stage(CLIENT, key(second))
    sink.promote(CLIENT, second, T0 + timedelta(days=90))


def rotate_to(sink: BlockingSecretSink, kid: str) -> None:
    sink.stage(CLIENT, key(kid))
    sink.promote(CLIENT, kid, T0 + timedelta(days=90))


def kid_of(slot: KeySlot | None) -> str | None:
    return slot.kid if slot else None


# --- labels ---------------------------------------------------------------------------------


def test_an_empty_store_reads_as_no_keys(store: StoreUnderTest) -> None:
    state = store.open().read_state(CLIENT)
    assert (state.current, state.previous, state.pending, state.client_id) == (
        None,
        None,
        None,
        None,
    )


def test_stage_then_promote_moves_the_labels(store: StoreUnderTest) -> None:
    sink = store.open()
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    staged = sink.read_state(CLIENT)
    assert kid_of(staged.pending) == "k1"
    assert staged.pending is not None
    assert staged.pending.thumbprint == key("k1").thumbprint
    assert staged.current is None
    sink.promote(CLIENT, "k1", T0)
    sink.stage(CLIENT, key("k2"))
    sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    state = store.open().read_state(CLIENT)
    assert state.client_id == CLIENT_ID
    assert kid_of(state.current) == "k2"
    assert state.current is not None
    assert state.current.promoted_at == T0 + timedelta(days=90)
    assert kid_of(state.previous) == "k1"
    assert state.pending is None


def test_every_call_is_idempotent(store: StoreUnderTest) -> None:
    sink = store.open()
    for _ in range(2):
        sink.set_client_id(CLIENT, CLIENT_ID)
        sink.stage(CLIENT, key("k1"))
    for _ in range(2):
        sink.promote(CLIENT, "k1", T0)
    sink.stage(CLIENT, key("k2"))
    for _ in range(2):
        sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    for _ in range(2):
        sink.forget_previous(CLIENT, "k1")
    state = sink.read_state(CLIENT)
    assert kid_of(state.current) == "k2"
    assert (state.previous, state.pending) == (None, None)
    assert sink.load_private_key(CLIENT, "k2").thumbprint == key("k2").thumbprint


def test_a_second_pending_key_and_a_reused_kid_are_refused(store: StoreUnderTest) -> None:
    sink = store.open()
    sink.stage(CLIENT, key("k1"))
    with pytest.raises(RotationInFlightError):
        sink.stage(CLIENT, key("k2"))
    sink.promote(CLIENT, "k1", T0)
    impostor = generate_key(kid="k1", created_at=T0, size=2048)
    with pytest.raises(KidReuseError):
        sink.stage(CLIENT, impostor)


def test_discard_pending_abandons_only_the_named_key(store: StoreUnderTest) -> None:
    sink = store.open()
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    sink.stage(CLIENT, key("k2"))
    sink.discard_pending(CLIENT, "other")
    assert sink.read_state(CLIENT).pending is not None
    sink.discard_pending(CLIENT, "k2")
    state = sink.read_state(CLIENT)
    assert state.pending is None
    assert kid_of(state.current) == "k1"


def test_another_runner_reads_what_this_one_wrote(store: StoreUnderTest) -> None:
    rotated(store.open())
    other = store.open()
    state = other.read_state(CLIENT)
    assert kid_of(state.current) == "k2"
    assert other.load_private_key(CLIENT, "k2").thumbprint == key("k2").thumbprint
    assert other.load_private_key(CLIENT, "k1").thumbprint == key("k1").thumbprint


# --- what the workload reads ----------------------------------------------------------------


def test_the_workload_reads_the_current_key_only(store: StoreUnderTest) -> None:
    sink = store.open()
    rotated(sink)
    sink.stage(CLIENT, key("k3"))
    seen = store.workload()
    assert CLIENT_ID in seen.values()
    assert "k2" in seen.values()
    joined = "\n".join(seen.values())
    assert not any(line in joined for line in secret_lines(key("k3")))
    assert not any(line in joined for line in secret_lines(key("k1")))


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("after", [0, 1, 2])
def test_a_failed_write_leaves_the_current_key_intact(store: StoreUnderTest, after: int) -> None:
    sink = store.open()
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    store.fail_writes(after)
    with pytest.raises(MpctlError):
        rotate_to(sink, "k2")
    store.heal()
    state = store.open().read_state(CLIENT)
    assert state.current is not None
    current = store.open().load_private_key(CLIENT, state.current.kid)
    assert current.thumbprint == state.current.thumbprint
    again = store.open()  # a re-run finishes the job
    if state.current.kid == "k1":
        rotate_to(again, "k2")
    final = again.read_state(CLIENT)
    assert kid_of(final.current) == "k2"


def test_readers_during_writes_never_see_a_half_written_key(store: StoreUnderTest) -> None:
    writer = store.open()
    writer.set_client_id(CLIENT, CLIENT_ID)
    writer.stage(CLIENT, key("k1"))
    writer.promote(CLIENT, "k1", T0)
    problems: list[str] = []
    done = threading.Event()

    def read() -> None:
        reader = store.open()
        while not done.is_set():
            state = reader.read_state(CLIENT)
            if state.current is None:
                problems.append("no current key while rotating")
                continue
            try:
                loaded = reader.load_private_key(CLIENT, state.current.kid)
            except MpctlError as exc:
                # Two calls are not one snapshot: the kid may have been retired in between,
                # which a fresh read shows. A key missing while still labelled is a failure.
                now = reader.read_state(CLIENT)
                if now.current is not None and now.current.kid == state.current.kid:
                    problems.append(f"{state.current.kid}: labelled but not loadable: {exc}")
                continue
            if loaded.thumbprint != state.current.thumbprint:
                problems.append(f"{state.current.kid}: key and label disagree")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for n, kid in enumerate(("k2", "k3")):
            writer.stage(CLIENT, key(kid))
            writer.promote(CLIENT, kid, T0 + timedelta(days=90 * (n + 1)))
            writer.forget_previous(CLIENT)
    finally:
        done.set()
        for thread in readers:
            thread.join(timeout=60)
    assert problems == []


# --- secrets never shown --------------------------------------------------------------------


def test_no_private_key_in_logs_errors_or_repr(
    store: StoreUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = store.open()
    rotated(sink)
    shown = [repr(sink), str(sink)]
    store.fail_writes(0)
    try:
        sink.stage(CLIENT, key("k3"))
    except MpctlError as exc:
        shown += [str(exc), repr(exc), str(exc.hint), repr(exc.__cause__), repr(exc.__context__)]
    finally:
        store.heal()
    shown.append(caplog.text)
    text = "\n".join(shown)
    for kid in ("k1", "k2", "k3"):
        leaked = [line for line in secret_lines(key(kid)) if line in text]
        assert leaked == [], f"{store.kind}: private key {kid} shown"


def iter_suite() -> Iterator[str]:
    """The names of the suite's tests, for a sink module's closing count."""
    yield from (name for name in globals() if name.startswith("test_"))
