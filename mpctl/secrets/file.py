"""The local file sink: one JSON file per client and environment, plus a `.env` for the workload.

Owns the on-disk format (`<directory>/<client>.json`, `format_version` 1) and the label moves of
the `SecretSink` protocol for it. Files are 0600 and replaced atomically (`mpctl.secrets.atomic`);
a file that does not parse is an error naming the file, never an empty state. `<client>.env`
holds seed 002's variables for the *current* key only and is rewritten after every operation,
so a crash between the two writes heals on the next call; its dialect follows the spec's
`dotenv_encoding` (`mpctl.secrets.dotenv`). A sink file or directory that another user owns or
could write to is refused before anything in it is read (`mpctl.secrets.directories`). Must not
generate keys or decide when to rotate; it does no locking (apply holds the environment lock).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, SecretStr, ValidationError, field_serializer

from mpctl.errors import SecretSinkError
from mpctl.model import (
    RESOURCE_NAME_PATTERN,
    FileSink,
    KeySlot,
    SinkSpec,
    SinkState,
)
from mpctl.secrets.atomic import write_private_file
from mpctl.secrets.directories import check_private_file, check_private_tree
from mpctl.secrets.dotenv import render_env_file, workload_variables
from mpctl.secrets.keys import KeyMaterialError, PrivateKey, key_for_record, to_pem
from mpctl.secrets.labels import Labels
from mpctl.secrets.protocol import (
    SINKS,
    RotationInFlightError,
    SinkContext,
    SinkPlugin,
    label_holding,
)

FORMAT_VERSION: Literal[1] = 1
_RESTORE_HINT = (
    "restore the file from a backup; if its keys are lost, move it aside and run `mpctl plan`: "
    "mpctl will stage a new key (the kids left in the JWKS are reported, never removed)"
)


class _StoredKey(KeySlot):
    """One slot on disk: the public view plus the private key as PKCS#8 PEM."""

    model_config = ConfigDict(extra="forbid")

    private_key_pem: SecretStr

    @field_serializer("private_key_pem", when_used="json")
    def _reveal_for_disk(self, value: SecretStr) -> str:
        return value.get_secret_value()

    @classmethod
    def of(cls, key: PrivateKey) -> _StoredKey:
        return cls(**key.slot().model_dump(), private_key_pem=SecretStr(to_pem(key)))


class _Document(Labels[_StoredKey]):
    """The whole file: the labels with the keys themselves, and which environment it is for."""

    environment: str


class FileSecretSink:
    """`SecretSink` over local files under `context.base_dir / spec.directory` ({env} filled in)."""

    def __init__(self, spec: FileSink, context: SinkContext) -> None:
        if not RESOURCE_NAME_PATTERN.match(context.environment):
            raise SecretSinkError(
                f"environment name {context.environment!r} cannot be used in a sink path"
            )
        self._spec = spec
        self._context = context
        self.directory = context.base_dir / spec.directory.replace("{env}", context.environment)

    def __repr__(self) -> str:
        return f"FileSecretSink(directory={str(self.directory)!r})"

    def json_path(self, client: str) -> Path:
        return self.directory / f"{_checked_client(client)}.json"

    def env_path(self, client: str) -> Path:
        return self.directory / f"{_checked_client(client)}.env"

    def read_state(self, client: str) -> SinkState:
        document = self._load(client)
        return document.state() if document else SinkState()

    def stage(self, client: str, key: PrivateKey) -> None:
        document = self._load_or_new(client)
        thumbprint = key.thumbprint
        if label_holding(document.state(), key.kid, thumbprint):
            self._sync_env_file(client, document)
            return
        if document.pending is not None:
            raise RotationInFlightError(
                f"client {client!r} already has pending key {document.pending.kid!r}; "
                f"refusing to stage {key.kid!r} (one rotation at a time)",
                hint="let the running rotation finish (mpctl apply), or discard it explicitly",
            )
        document.pending = _StoredKey.of(key)
        self._save(client, document)

    def promote(self, client: str, kid: str, now: datetime) -> None:
        document = self._load_or_new(client)
        if document.current is not None and document.current.kid == kid:
            self._sync_env_file(client, document)
            return
        pending = document.promotable(kid)
        document.previous = document.current
        document.current = pending.model_copy(update={"promoted_at": now})
        document.pending = None
        self._save(client, document)

    def discard_pending(self, client: str, kid: str) -> None:
        document = self._load(client)
        if document is not None and document.discard_pending(kid):
            self._save(client, document)

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        document = self._load(client)
        if document is not None and document.forget_previous(kid):
            self._save(client, document)

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        document = self._load(client)
        for stored in document.slots() if document else ():
            if stored.kid == kid:
                return self._private_key(client, stored)
        raise SecretSinkError(f"no key with kid {kid!r} is stored for client {client!r}")

    def set_client_id(self, client: str, client_id: str) -> None:
        document = self._load_or_new(client)
        if document.client_id == client_id:
            self._sync_env_file(client, document)
            return
        document.client_id = client_id
        self._save(client, document)

    def _private_key(self, client: str, stored: _StoredKey) -> PrivateKey:
        path = self.json_path(client)
        try:
            return key_for_record(stored.private_key_pem.get_secret_value(), stored)
        except KeyMaterialError as exc:
            raise _corrupt(path, f"key {stored.kid!r}: {exc.message}") from None

    def _load_or_new(self, client: str) -> _Document:
        return self._load(client) or _Document(client=client, environment=self._context.environment)

    def _load(self, client: str) -> _Document | None:
        path = self.json_path(client)
        self._check_ownership(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretSinkError(f"cannot read secret file {path}: {exc.strerror}") from None
        document = _parse(path, raw)
        if (document.client, document.environment) != (client, self._context.environment):
            raise _corrupt(
                path,
                f"it belongs to client {document.client!r} in environment {document.environment!r}",
            )
        return document

    def _check_ownership(self, path: Path) -> None:
        """Refuse a sink another user could have written to, before anything in it is used."""
        check_private_tree(self.directory, root=self._context.base_dir)
        check_private_file(path)

    def _save(self, client: str, document: _Document) -> None:
        """Write the `.env` first, then the JSON (the record of truth).

        The `.env` is derived from the new document, so a crash between the two writes leaves
        it at most *ahead* of the JSON, and the JSON's next write repeats it. The other order
        could leave the workload's file behind for good: once the JSON holds the change, no
        later call has a reason to write again.
        """
        self._sync_env_file(client, document)
        text = document.model_dump_json(indent=2) + "\n"
        write_private_file(self.json_path(client), text.encode("utf-8"))

    def _sync_env_file(self, client: str, document: _Document) -> None:
        if not self._spec.write_env_file or document.current is None or not document.client_id:
            return
        values = workload_variables(
            self._spec.variables,
            client_id=document.client_id,
            kid=document.current.kid,
            private_key_pem=document.current.private_key_pem.get_secret_value(),
            token_endpoint=self._context.token_endpoint,
            issuer=self._context.issuer,
            encoding=self._spec.dotenv_encoding,
        )
        header = (
            f"Written by mpctl for client {client} in environment {self._context.environment}.\n"
            "Current key only. Holds a private key: never commit or print this file."
        )
        data = render_env_file(values, header=header, encoding=self._spec.dotenv_encoding)
        path = self.env_path(client)
        self._check_ownership(path)
        if _read_or_none(path) != data.encode("utf-8"):
            write_private_file(path, data.encode("utf-8"))


def _parse(path: Path, raw: bytes) -> _Document:
    if not raw.strip():
        raise _corrupt(path, "it is empty (a truncated write?)")
    problem = None
    try:
        return _Document.model_validate_json(raw)
    except ValidationError as exc:
        problem = _describe_validation(exc)
    raise _corrupt(path, problem)


def _describe_validation(exc: ValidationError) -> str:
    """Where the document is wrong, without ever quoting its (secret) content."""
    first = exc.errors(include_input=False, include_url=False)[0]
    if first["type"].startswith("json"):
        return "it is not complete, valid JSON (a truncated write?)"
    where = ".".join(str(part) for part in first["loc"]) or "document"
    return f"{where}: {first['msg']}"


def _corrupt(path: Path, detail: str) -> SecretSinkError:
    return SecretSinkError(
        f"secret file {path} is unreadable: {detail}; it was not treated as empty",
        hint=_RESTORE_HINT,
    )


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _checked_client(client: str) -> str:
    if not RESOURCE_NAME_PATTERN.match(client):
        raise SecretSinkError(f"client name {client!r} cannot be used as a secret file name")
    return client


def open_file_sink(spec: SinkSpec, context: SinkContext) -> FileSecretSink:
    """Registry factory for sinks of type `file`; refuses a CI runner (see `on_a_ci_runner`)."""
    if not isinstance(spec, FileSink):
        raise SecretSinkError(f"a file sink cannot be built from a {spec.type!r} sink spec")
    runner = on_a_ci_runner(context.environ)
    if runner and not spec.ephemeral_ok and not context.embedded_emulator:
        raise SecretSinkError(
            f"environment {context.environment!r} keeps its keys in a local file sink, and "
            f"this is a CI runner ({runner} is set): the keys would be lost with the runner, "
            "and every run would mint new ones the workload never sees",
            hint="give the environment a durable `sink:` (type: "
            f"{', '.join(SINKS.durable_types())}), or set `ephemeral_ok: true` on the file sink "
            "if losing the keys is intended",
        )
    return FileSecretSink(spec, context)


def on_a_ci_runner(environ: Mapping[str, str]) -> str | None:
    """The variable that says this is a CI runner (`CI`, `GITHUB_ACTIONS`), if one does."""
    for name in ("GITHUB_ACTIONS", "CI"):
        if environ.get(name, "").strip().lower() not in ("", "0", "false", "no"):
            return name
    return None


PLUGIN = SinkPlugin(type="file", spec=FileSink, open=open_file_sink, durable=False)
"""The entry point `file = "mpctl.secrets.file:PLUGIN"` (pyproject.toml)."""
