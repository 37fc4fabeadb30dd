"""An example secret sink plug-in for mpctl: keys in a directory of versioned JSON documents.

A separate distribution (`mpctl-example-sink`, its `*.dist-info` beside this package) that
declares `[mpctl.sinks] example-dir = mpctl_example_sink:PLUGIN`: mpctl finds it through the
entry point, validates the manifest's `type: example-dir` block with `ExampleDirSink`, and opens
`ExampleDirSecretSink`. The store (`store.DocumentStore`) is a folder that every runner mounts
(a shared volume): per client, `key-<thumbprint>` documents hold the private keys and `labels`
(versioned, check-and-set) says which key is pending, current and previous. Key material is
written before the labels that name it and removed only after no label names it. The workload
reads `workload_variables`. Must not be imported by mpctl itself: tests put it on the path.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mpctl.errors import SecretSinkError
from mpctl.model import KeySlot, SinkState
from mpctl.secrets import (
    KeyMaterialError,
    PrivateKey,
    RotationInFlightError,
    SinkContext,
    SinkPlugin,
    from_pem,
    label_holding,
    to_pem,
)

from .store import DocumentStore, VersionConflictError

LABELS = "labels"


class ExampleDirSink(BaseModel):
    """The manifest block: `{type: example-dir, root: PATH, prefix: NAME}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["example-dir"]
    root: str = Field(
        min_length=1, description="The shared folder (relative to mpctl.yaml, or absolute)"
    )
    prefix: str = Field(default="mpctl", description="A folder under root for this project")

    @field_validator("prefix")
    @classmethod
    def _one_folder_name(cls, prefix: str) -> str:
        if not prefix or not all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in prefix):
            raise ValueError(
                f"prefix {prefix!r} must be one folder name of letters, digits and '-' "
                "(it is created under root), e.g. 'acme-platform'"
            )
        return prefix


class ExampleDirSecretSink:
    """The `BlockingSecretSink` on one environment's folder of the store."""

    def __init__(self, spec: ExampleDirSink, context: SinkContext) -> None:
        root = Path(spec.root).expanduser()
        self.directory = (root if root.is_absolute() else context.base_dir / root) / spec.prefix
        self.directory = self.directory / context.environment

    def __repr__(self) -> str:
        return f"ExampleDirSecretSink({str(self.directory)!r})"

    def read_state(self, client: str) -> SinkState:
        return self._labels(client)[1]

    def stage(self, client: str, key: PrivateKey) -> None:
        version, state = self._labels(client)
        if label_holding(state, key.kid, key.thumbprint) is not None:
            return
        if state.pending is not None:
            raise RotationInFlightError(
                f"client {client!r} has the pending key {state.pending.kid!r}; one rotation at "
                "a time"
            )
        self._write_key(client, key)
        slot = KeySlot(
            kid=key.kid,
            thumbprint=key.thumbprint,
            algorithm=key.algorithm,
            created_at=key.created_at,
        )
        self._write_labels(client, state.model_copy(update={"pending": slot}), after=version)

    def promote(self, client: str, kid: str, now: datetime) -> None:
        version, state = self._labels(client)
        if state.current is not None and state.current.kid == kid:
            return
        if state.pending is None or state.pending.kid != kid:
            raise SecretSinkError(f"client {client!r} has no pending key {kid!r} to promote")
        promoted = state.pending.model_copy(update={"promoted_at": now})
        moved = {"current": promoted, "previous": state.current, "pending": None}
        self._write_labels(client, state.model_copy(update=moved), after=version)

    def discard_pending(self, client: str, kid: str) -> None:
        version, state = self._labels(client)
        if state.pending is not None and state.pending.kid == kid:
            self._write_labels(client, state.model_copy(update={"pending": None}), after=version)

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        version, state = self._labels(client)
        if state.previous is not None and kid in (None, state.previous.kid):
            self._write_labels(client, state.model_copy(update={"previous": None}), after=version)

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        _, state = self._labels(client)
        slot = next((s for s in _slots(state) if s.kid == kid), None)
        if slot is None:
            raise SecretSinkError(f"client {client!r} has no key {kid!r} in {self!r}")
        return self._read_key(client, slot)

    def set_client_id(self, client: str, client_id: str) -> None:
        version, state = self._labels(client)
        if state.client_id != client_id:
            update = {"client_id": client_id}
            self._write_labels(client, state.model_copy(update=update), after=version)

    # --- the store ----------------------------------------------------------------------------

    def _store(self, client: str) -> DocumentStore:
        if not client or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in client):
            raise SecretSinkError(f"client name {client!r} cannot name a folder")
        return DocumentStore(self.directory / client)

    def _labels(self, client: str) -> tuple[int, SinkState]:
        try:
            found = self._store(client).latest(LABELS)
            return (
                (0, SinkState())
                if found is None
                else (found[0], SinkState.model_validate(found[1]))
            )
        except (OSError, ValueError, ValidationError) as exc:
            raise SecretSinkError(
                f"the labels of client {client!r} in {self!r} cannot be read: {type(exc).__name__}",
            ) from None

    def _write_labels(self, client: str, state: SinkState, *, after: int) -> None:
        store = self._store(client)
        try:
            store.write(LABELS, state.model_dump(mode="json"), after=after)
        except VersionConflictError:
            raise SecretSinkError(
                f"another writer changed the labels of client {client!r} in {self!r}; nothing "
                "was overwritten",
                hint="run again: the next run reads the newer labels",
            ) from None
        except OSError as exc:
            raise SecretSinkError(
                f"the labels of client {client!r} could not be written: {exc.strerror}"
            ) from None
        kept = {f"key-{slot.thumbprint}" for slot in _slots(state)}
        for name in store.names():
            if name.startswith("key-") and name not in kept:
                store.delete(name)

    def _write_key(self, client: str, key: PrivateKey) -> None:
        store = self._store(client)
        name = f"key-{key.thumbprint}"
        document = {
            "kid": key.kid,
            "algorithm": key.algorithm,
            "created_at": key.created_at.isoformat(),
            "private_key_pem": to_pem(key),
        }
        try:
            if store.latest(name) is None:
                store.write(name, document, after=0)
        except VersionConflictError:
            return  # a racing writer stored the same material (the name is its thumbprint)
        except OSError as exc:
            raise SecretSinkError(
                f"the key {key.kid!r} of client {client!r} could not be written: {exc.strerror}"
            ) from None

    def _read_key(self, client: str, slot: KeySlot) -> PrivateKey:
        try:
            found = self._store(client).latest(f"key-{slot.thumbprint}")
            if found is None:
                raise SecretSinkError(f"the key {slot.kid!r} of client {client!r} is missing")
            document = found[1]
            key = from_pem(
                document["private_key_pem"],
                kid=slot.kid,
                algorithm=slot.algorithm,
                created_at=datetime.fromisoformat(document["created_at"]),
            )
        except (OSError, ValueError, KeyError, KeyMaterialError) as exc:
            raise SecretSinkError(
                f"the key {slot.kid!r} of client {client!r} cannot be read: {type(exc).__name__}"
            ) from None
        if key.thumbprint != slot.thumbprint:
            raise SecretSinkError(
                f"the key {slot.kid!r} of client {client!r} is not the labelled one"
            )
        return key


def _slots(state: SinkState) -> list[KeySlot]:
    return [slot for slot in (state.pending, state.current, state.previous) if slot is not None]


def workload_variables(sink: ExampleDirSecretSink, client: str) -> dict[str, str]:
    """What the workload reads: the client id, and the current key's kid and PEM."""
    state = sink.read_state(client)
    if state.current is None:
        return {}
    key = sink.load_private_key(client, state.current.kid)
    return {
        "MASKINPORTEN_CLIENT_ID": state.client_id or "",
        "MASKINPORTEN_KID": key.kid,
        "MASKINPORTEN_PRIVATE_KEY": to_pem(key),
    }


def open_example_dir_sink(spec: ExampleDirSink, context: SinkContext) -> ExampleDirSecretSink:
    return ExampleDirSecretSink(spec, context)


PLUGIN = SinkPlugin(
    type="example-dir", spec=ExampleDirSink, open=open_example_dir_sink, durable=True
)
"""Named by the entry point `example-dir = mpctl_example_sink:PLUGIN`. Durable: the folder is
meant to be a volume every runner mounts, not a runner's own disk."""
