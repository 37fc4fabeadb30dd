"""The HashiCorp Vault sink: a client's keys in a KV version 2 secret, labels in its metadata.

Owns the layout in a KV v2 mount and the label moves of the `BlockingSecretSink` protocol on it,
through `hvac` (imported when the sink is opened: a missing hvac is a `SecretSinkError` with the
pip hint, not a crash at start), and the three ways to log in (token, AppRole, Kubernetes).
Must not generate keys, decide when to rotate, delete anything, or let a key or a Vault token
reach a log, an error or a `repr`.

Layout, for the sink's `path` P (default `mpctl/{env}/{client}`) in mount M (default `secret`):

- `M/data/P`: what the workload reads. Each *version* is one key that was current, its data
  seed 002's variables (`MASKINPORTEN_MODE`, `MASKINPORTEN_CLIENT_ID`, `MASKINPORTEN_KID`,
  `MASKINPORTEN_PRIVATE_KEY` (PKCS#8 PEM), `MASKINPORTEN_TOKEN_ENDPOINT`,
  `MASKINPORTEN_ISSUER`; names from `variables:`) and nothing else. Only `promote` (and a new
  client_id, which republishes the current key) writes a version here, so the *latest* version,
  which `vault kv get -mount=M P`, Vault Agent templates, the CSI provider and External Secrets
  read, is the current key. `previous` is simply the older version the labels name.
- `M/data/P-pending`: staged keys, one version each (kid, thumbprint, algorithm, created_at,
  the PEM), never read by the workload: a key that is not yet registered and tested never is
  the latest version of `P`.
- `M/metadata/P` `custom_metadata`: the labels, one compact JSON value per label (kid,
  thumbprint, algorithm, times, and the version number of `P` or `P-pending` holding it), plus
  `mpctl-client`, `mpctl-environment` (a secret without them is never written) and
  `mpctl-client-id`. No key material. `read_state` (all `plan` needs) is one metadata GET.

Writes: every data write carries `options.cas` = the version read at the start of the call, and
both secrets are set to `cas_required`, so two writers never overwrite each other: Vault's 400
"check-and-set parameter did not match the current version" becomes `VaultWriteConflictError`
("another writer changed …; nothing was overwritten"), never retried. A latest version of `P`
that holds neither the labelled current key nor the pending key (a human's `vault kv put`) is
refused the same way. Metadata writes have no cas in Vault: the labels are re-read right
before they are written (a change since the call began is the same conflict) and read back
after. Order: the version first, then the labels that point at it; so a crash between two
writes leaves the old labels on intact versions, and the re-run adopts a version it finds
already written (a promote cut there has made the latest version the new key, registered and
tested, one write before the labels say so). Old versions stay in the history (the mount's
`max_versions`, 10 by default): `forget_previous` and `discard_pending` only move labels.

Least privileges (Vault policy, for the default path and mount; `<env>` the environment):

    # plan: labels only, no key material
    path "secret/metadata/mpctl/<env>/*" { capabilities = ["read"] }
    # verify: + the keys
    path "secret/data/mpctl/<env>/*"     { capabilities = ["read"] }
    # apply: + writes (data: new versions with cas; metadata: labels, cas_required)
    path "secret/data/mpctl/<env>/*"     { capabilities = ["create", "read", "update"] }
    path "secret/metadata/mpctl/<env>/*" { capabilities = ["create", "read", "update"] }
    # the workload of client <client>: its current key only, not `-pending`
    path "secret/data/mpctl/<env>/<client>" { capabilities = ["read"] }

Logging: hvac logs nothing about requests; urllib3 logs method, path and status at DEBUG (the
path names the secret, never a value); requests logs nothing. Tokens travel in the
`X-Vault-Token` header only, AppRole and Kubernetes credentials in login bodies only. Errors
quote Vault's `errors` (which name paths and parameters, never data) and are raised with no
hvac exception attached (it holds the response).
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from mpctl.errors import SecretSinkError
from mpctl.model import (
    KeySlot,
    SecretSource,
    SinkSpec,
    SinkState,
    VaultAppRoleAuth,
    VaultKubernetesAuth,
    VaultKvSink,
    VaultTokenAuth,
)
from mpctl.secrets.dotenv import workload_variables
from mpctl.secrets.keys import KeyMaterialError, PrivateKey, from_pem, key_for_record, to_pem
from mpctl.secrets.labels import Labels
from mpctl.secrets.protocol import RotationInFlightError, SinkContext, SinkPlugin, label_holding
from mpctl.secrets.references import describe_reference, read_reference

T = TypeVar("T")

PENDING_SUFFIX = "-pending"
FORMAT_VERSION = "1"
META_FORMAT = "mpctl-format"
META_CLIENT = "mpctl-client"
META_ENVIRONMENT = "mpctl-environment"
META_CLIENT_ID = "mpctl-client-id"
META_SLOT = "mpctl-{}"
"""+ current / previous / pending: that label's `_Pointer` as compact JSON."""
_PREFIX = "mpctl-"
_MAX_VALUE_BYTES = 512  # Vault's limit for one custom_metadata value
_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_PEM_START = "-----BEGIN PRIVATE KEY-----"
_UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
"""created_at of a key found in the history, whose label (and its time) moved on."""
_INSTALL_HINT = "pip install 'mpctl[vault]'"
_CAS_MISMATCH = "check-and-set parameter did not match"
_POLICY_HINT = (
    "mpctl's Vault policy needs, on {mount}/data/{prefix}* and {mount}/metadata/{prefix}*: "
    "read (plan: metadata only; verify: data too) and create, update (apply)"
)


class VaultWriteConflictError(SecretSinkError):
    """Another writer changed the secret after mpctl read it; mpctl wrote nothing over it."""

    code = "SINK_CONFLICT"


class _Pointer(KeySlot):
    """One label: the public view of a key and the version (of `P` or `P-pending`) holding it."""

    model_config = ConfigDict(extra="forbid")

    version: int


class _Labels(Labels[_Pointer]):
    """The labels as `custom_metadata` of `P` holds them (see the module docstring)."""

    environment: str

    def to_custom_metadata(self) -> dict[str, str]:
        entries = {
            META_FORMAT: FORMAT_VERSION,
            META_CLIENT: self.client,
            META_ENVIRONMENT: self.environment,
        }
        if self.client_id is not None:
            entries[META_CLIENT_ID] = self.client_id
        for label in ("current", "previous", "pending"):
            pointer: _Pointer | None = getattr(self, label)
            if pointer is not None:
                entries[META_SLOT.format(label)] = pointer.model_dump_json(exclude_none=True)
        for name, value in entries.items():
            if not 0 < len(value.encode()) <= _MAX_VALUE_BYTES:
                raise SecretSinkError(
                    f"the label {name} of client {self.client!r} does not fit Vault's "
                    f"custom_metadata ({_MAX_VALUE_BYTES} bytes at most); nothing was written",
                    hint="use shorter kids (keys.kid_format) or client names",
                )
        return entries


class _PendingRecord(BaseModel):
    """One version of `P-pending`: a staged key and whose it is."""

    model_config = ConfigDict(extra="forbid")

    client: str
    environment: str
    kid: str
    thumbprint: str
    algorithm: str
    created_at: datetime
    private_key: SecretStr


@dataclass(frozen=True)
class _Metadata:
    """A secret's metadata as one GET saw it."""

    current_version: int
    custom: Mapping[str, str]
    versions: tuple[int, ...]
    """Versions not destroyed, newest first (a deleted one reads as missing)."""
    delete_version_after: str

    def mpctl_entries(self) -> dict[str, str]:
        return {k: v for k, v in self.custom.items() if k.startswith(_PREFIX)}


def _entries(metadata: _Metadata | None) -> dict[str, str]:
    return metadata.mpctl_entries() if metadata else {}


# --- the sink ---------------------------------------------------------------------------------


class VaultKvSecretSink:
    """`BlockingSecretSink` over one KV v2 mount (see the module docstring for the layout)."""

    def __init__(self, spec: VaultKvSink, context: SinkContext, api: VaultApi) -> None:
        self._spec = spec
        self._context = context
        self.api = api
        """The Vault calls (tests use them to act as a stale writer; never logged)."""

    def __repr__(self) -> str:
        return (
            f"VaultKvSecretSink(address={self._spec.address!r}, mount={self._spec.mount!r}, "
            f"path={self._spec.path!r}, auth={self._spec.auth.method!r})"
        )

    def path(self, client: str) -> str:
        """The secret the workload reads, inside the mount."""
        path = self._spec.path.replace("{env}", self._context.environment)
        path = path.replace("{client}", client)
        if not _PATH.match(path) or ".." in path.split("/"):
            raise SecretSinkError(
                f"Vault path {path!r} (the sink's path {self._spec.path!r}) is not allowed",
                hint="use letters, digits and _ . - in segments separated by '/'",
            )
        return path

    def pending_path(self, client: str) -> str:
        return self.path(client) + PENDING_SUFFIX

    # --- the protocol ---------------------------------------------------------------------------

    def read_state(self, client: str) -> SinkState:
        _, labels = self._load(client)
        return labels.state() if labels else SinkState()

    def stage(self, client: str, key: PrivateKey) -> None:
        metadata, labels = self._load_or_new(client)
        if label_holding(labels.state(), key.kid, key.thumbprint):
            return
        if labels.pending is not None:
            raise RotationInFlightError(
                f"client {client!r} already has pending key {labels.pending.kid!r} in Vault "
                f"({self._where(self.pending_path(client))}); refusing to stage {key.kid!r} "
                "(one rotation at a time)",
                hint="let the running rotation finish (mpctl apply), or discard it explicitly",
            )
        version = self._store_pending(client, key)
        labels.pending = _pointer(key, version)
        self._save(client, metadata, labels)

    def promote(self, client: str, kid: str, now: datetime) -> None:
        metadata, labels = self._load_or_new(client)
        if labels.current is not None and labels.current.kid == kid:
            return
        key = self._pending_key(client, labels.promotable(kid))
        version = self._publish(client, metadata, labels, key)
        labels.previous = labels.current
        labels.current = _pointer(key, version, promoted_at=now)
        labels.pending = None
        self._save(client, metadata, labels)

    def discard_pending(self, client: str, kid: str) -> None:
        metadata, labels = self._load(client)
        if labels is None or labels.pending is None or labels.pending.kid != kid:
            return
        labels.pending = None
        self._save(client, metadata, labels)

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        metadata, labels = self._load(client)
        if labels is None or labels.previous is None:
            return
        if kid is not None and labels.previous.kid != kid:
            raise SecretSinkError(
                f"client {client!r} holds previous key {labels.previous.kid!r}, not {kid!r}; "
                "nothing was forgotten"
            )
        labels.previous = None
        self._save(client, metadata, labels)

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        _, labels = self._load(client)
        if labels is not None:
            if labels.pending is not None and labels.pending.kid == kid:
                return self._pending_key(client, labels.pending)
            for pointer in (labels.current, labels.previous):
                if pointer is not None and pointer.kid == kid:
                    return self._published_key(client, pointer)
        found = self._find_in_history(client, kid)
        if found is None:
            raise SecretSinkError(
                f"no key with kid {kid!r} is stored for client {client!r} in Vault "
                f"({self._where(self.path(client))})"
            )
        return found

    def set_client_id(self, client: str, client_id: str) -> None:
        metadata, labels = self._load_or_new(client)
        if labels.client_id == client_id:
            return
        labels.client_id = client_id
        if labels.current is not None:  # the workload's MASKINPORTEN_CLIENT_ID changes
            key = self._published_key(client, labels.current)
            version = self._publish(client, metadata, labels, key)
            labels.current = labels.current.model_copy(update={"version": version})
        self._save(client, metadata, labels)

    # --- labels -----------------------------------------------------------------------------

    def _load(self, client: str) -> tuple[_Metadata | None, _Labels | None]:
        path = self.path(client)
        metadata = self.api.read_metadata(path)
        if metadata is None:
            return None, None
        entries = metadata.mpctl_entries()
        if not entries:
            if metadata.current_version > 0:
                raise self._not_ours(path, client)
            return metadata, None  # created empty (`vault kv metadata put`): adopted
        return metadata, self._parse_labels(path, client, entries)

    def _load_or_new(self, client: str) -> tuple[_Metadata | None, _Labels]:
        metadata, labels = self._load(client)
        return metadata, labels or _Labels(client=client, environment=self._context.environment)

    def _parse_labels(self, path: str, client: str, entries: Mapping[str, str]) -> _Labels:
        owner = (entries.get(META_CLIENT), entries.get(META_ENVIRONMENT))
        if owner != (client, self._context.environment):
            raise self._not_ours(path, client, owner)
        problem = None
        try:
            slots = {
                label: _Pointer.model_validate_json(entries[META_SLOT.format(label)])
                for label in ("current", "previous", "pending")
                if META_SLOT.format(label) in entries
            }
            if entries.get(META_FORMAT) != FORMAT_VERSION:
                problem = f"{META_FORMAT} is {entries.get(META_FORMAT)!r}, not {FORMAT_VERSION!r}"
            else:
                return _Labels(
                    client=client,
                    environment=self._context.environment,
                    client_id=entries.get(META_CLIENT_ID),
                    **slots,
                )
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            problem = f"{first['msg']}"
        raise self._unreadable(path, f"its custom_metadata labels: {problem}")

    def _save(self, client: str, based_on: _Metadata | None, labels: _Labels) -> None:
        """Write the labels over the ones `based_on` holds, unless another writer changed them
        since; then read them back."""
        path = self.path(client)
        wanted = labels.to_custom_metadata()
        now = self.api.read_metadata(path)
        if _entries(now) != _entries(based_on):
            raise VaultWriteConflictError(
                f"another writer changed the labels of {self._where(path)} since mpctl read "
                "them; nothing was overwritten",
                hint="run mpctl apply again: it starts from what is stored now",
            )
        kept = {k: v for k, v in (now.custom if now else {}).items() if not k.startswith(_PREFIX)}
        self.api.write_metadata(path, {**kept, **wanted}, now.delete_version_after if now else None)
        after = self.api.read_metadata(path)
        if _entries(after) != wanted:
            raise SecretSinkError(
                f"the labels of {self._where(path)} did not read back as written (another "
                "writer at the same time?); nothing was assumed",
                hint="make sure one apply at a time writes to this secret, then run it again",
            )

    # --- keys -------------------------------------------------------------------------------

    def _store_pending(self, client: str, key: PrivateKey) -> int:
        """The version of `P-pending` holding `key`: the latest if a stage cut short wrote it,
        else a new one."""
        path = self.pending_path(client)
        metadata = self.api.read_metadata(path)
        ownership = {META_CLIENT: client, META_ENVIRONMENT: self._context.environment}
        if metadata is None or metadata.mpctl_entries() != ownership:
            if metadata is not None and metadata.current_version > 0:
                raise self._not_ours(path, client)
            previous = metadata.delete_version_after if metadata else None
            self.api.write_metadata(path, ownership, previous)
        latest = metadata.current_version if metadata else 0
        if latest > 0:
            stored = self.api.read_version(path, latest)
            record = self._pending_record(path, client, stored) if stored else None
            if record is not None and (record.kid, record.thumbprint) == (
                key.kid,
                key.thumbprint,
            ):
                return latest
        document = _PendingRecord(
            client=client,
            environment=self._context.environment,
            kid=key.kid,
            thumbprint=key.thumbprint,
            algorithm=key.algorithm,
            created_at=key.created_at,
            private_key=SecretStr(to_pem(key)),
        )
        data = document.model_dump(mode="json")
        data["private_key"] = document.private_key.get_secret_value()
        return self._write(path, data, cas=latest)

    def _publish(
        self, client: str, metadata: _Metadata | None, labels: _Labels, key: PrivateKey
    ) -> int:
        """The version of `P` that gives the workload `key` with the labels' client_id: the
        latest if a call cut short wrote it, else a new one written over the version read."""
        path = self.path(client)
        latest = metadata.current_version if metadata else 0
        labelled = labels.current.version if labels.current else 0
        document = self._document(key, labels.client_id)
        if latest not in (0, labelled):
            stored = self.api.read_version(path, latest)
            if stored == document:
                return latest
            known = [p.thumbprint for p in (labels.current, labels.pending) if p is not None]
            if stored is None or _thumbprint_in(stored, self._spec) not in known:
                raise VaultWriteConflictError(
                    f"version {latest} of {self._where(path)}, the one the workload reads, was "
                    "not written by mpctl (it holds neither the current nor the pending key); "
                    "nothing was overwritten",
                    hint=f"inspect it (vault kv get -mount={self._spec.mount} -version={latest} "
                    f"{path}); to hand the secret back to mpctl, `vault kv rollback "
                    f"-mount={self._spec.mount} -version={labelled} {path}`, then run mpctl "
                    "apply again",
                )
        return self._write(path, document, cas=latest)

    def _document(self, key: PrivateKey, client_id: str | None) -> dict[str, str]:
        """What the workload reads: seed 002's variables for `key`."""
        variables = workload_variables(
            self._spec.variables,
            client_id=client_id or "",
            kid=key.kid,
            private_key_pem=to_pem(key),
            token_endpoint=self._context.token_endpoint,
            issuer=self._context.issuer,
        )
        if client_id is None:
            del variables[self._spec.variables.client_id]
        return variables

    def _published_key(self, client: str, pointer: _Pointer) -> PrivateKey:
        path = self.path(client)
        stored = self.api.read_version(path, pointer.version)
        if stored is None:
            raise self._missing_version(path, pointer)
        key = _key_in(stored, self._spec, pointer.kid, pointer.algorithm, pointer.created_at)
        if key is None or key.thumbprint != pointer.thumbprint:
            raise self._unreadable(
                path, f"version {pointer.version} does not hold key {pointer.kid!r} as labelled"
            )
        return key

    def _pending_key(self, client: str, pointer: _Pointer) -> PrivateKey:
        path = self.pending_path(client)
        stored = self.api.read_version(path, pointer.version)
        if stored is None:
            raise self._missing_version(path, pointer)
        record = self._pending_record(path, client, stored)
        key = _key_of(record)
        if key is None or (key.kid, key.thumbprint) != (pointer.kid, pointer.thumbprint):
            raise self._unreadable(
                path, f"version {pointer.version} does not hold key {pointer.kid!r} as labelled"
            )
        return key

    def _pending_record(self, path: str, client: str, stored: Mapping[str, Any]) -> _PendingRecord:
        try:
            record = _PendingRecord.model_validate(stored)
        except ValidationError:
            record = None
        if record is None or (record.client, record.environment) != (
            client,
            self._context.environment,
        ):
            raise self._unreadable(path, "a version is not a staged key of this client")
        return record

    def _find_in_history(self, client: str, kid: str) -> PrivateKey | None:
        """A key whose label moved on since the caller read it: versions are immutable."""
        path, pending = self.path(client), self.pending_path(client)
        for version in self._versions(path):
            stored = self.api.read_version(path, version)
            if stored is not None and stored.get(self._spec.variables.kid) == kid:
                key = _key_in(stored, self._spec, kid, "RS256", _UNKNOWN_TIME)
                if key is not None:
                    return key
        for version in self._versions(pending):
            stored = self.api.read_version(pending, version)
            if stored is not None and stored.get("kid") == kid:
                return _key_of(self._pending_record(pending, client, stored))
        return None

    def _versions(self, path: str) -> tuple[int, ...]:
        metadata = self.api.read_metadata(path)
        return metadata.versions if metadata else ()

    def _write(self, path: str, data: dict[str, Any], *, cas: int) -> int:
        """A new version of `path` written with check-and-set over `cas`, read back."""
        version = self.api.write_data(path, data, cas)
        if self.api.read_version(path, version) != data:
            raise SecretSinkError(
                f"version {version} of {self._where(path)} did not read back as written",
                hint="make sure one apply at a time writes to this secret, then run it again",
            )
        return version

    # --- errors -----------------------------------------------------------------------------

    def _where(self, path: str) -> str:
        return f"secret {self._spec.mount}/{path} at {self._spec.address}"

    def _not_ours(
        self, path: str, client: str, owner: tuple[str | None, str | None] = (None, None)
    ) -> SecretSinkError:
        environment = self._context.environment
        return SecretSinkError(
            f"{self._where(path)} exists but is not mpctl's secret for client {client!r} in "
            f"environment {environment!r} (its custom_metadata {META_CLIENT}, "
            f"{META_ENVIRONMENT} say {owner[0]!r}, {owner[1]!r}); mpctl does not write to it",
            hint="give the sink a path with {client} and {env} that no one else uses",
        )

    def _unreadable(self, path: str, detail: str) -> SecretSinkError:
        return SecretSinkError(
            f"{self._where(path)} is unreadable: {detail}; it was not treated as empty",
            hint=f"restore an earlier version (vault kv rollback -mount={self._spec.mount}) or "
            "its metadata, or move the secret aside and run mpctl plan",
        )

    def _missing_version(self, path: str, pointer: _Pointer) -> SecretSinkError:
        return SecretSinkError(
            f"version {pointer.version} of {self._where(path)} is deleted or destroyed, but the "
            f"labels point at it (key {pointer.kid!r})",
            hint=f"undelete it (vault kv undelete -mount={self._spec.mount} "
            f"-versions={pointer.version} {path}); if it was destroyed, the key is lost: run "
            "mpctl plan to stage a new one",
        )


def _pointer(key: PrivateKey, version: int, *, promoted_at: datetime | None = None) -> _Pointer:
    return _Pointer(**key.slot(promoted_at=promoted_at).model_dump(), version=version)


def _pem_in(stored: Mapping[str, Any], spec: VaultKvSink) -> str | None:
    """The PEM of a version of `P`: under the spec's variable, or (renamed since) any value
    that is one."""
    named = stored.get(spec.variables.private_key)
    if isinstance(named, str):
        return named
    return next(
        (v for v in stored.values() if isinstance(v, str) and v.startswith(_PEM_START)), None
    )


def _key_in(
    stored: Mapping[str, Any], spec: VaultKvSink, kid: str, algorithm: str, created_at: datetime
) -> PrivateKey | None:
    pem = _pem_in(stored, spec)
    if pem is None:
        return None
    try:
        return from_pem(pem, kid=kid, algorithm=algorithm, created_at=created_at)
    except KeyMaterialError:
        return None


def _thumbprint_in(stored: Mapping[str, Any], spec: VaultKvSink) -> str | None:
    key = _key_in(stored, spec, "?", "RS256", _UNKNOWN_TIME)
    return key.thumbprint if key else None


def _key_of(record: _PendingRecord) -> PrivateKey | None:
    try:
        return key_for_record(record.private_key.get_secret_value(), record)
    except KeyMaterialError:
        return None


# --- Vault over hvac ------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Credentials:
    """How the sink logs in, with the values its references point at (never shown)."""

    method: Literal["token", "approle", "kubernetes"]
    secrets: Mapping[str, SecretStr]
    """token: token; approle: role_id, secret_id; kubernetes: jwt."""
    mount: str = ""
    role: str = ""
    source: str = ""
    """Where the values were read (for hints): `env VAULT_TOKEN`, `file PATH`."""

    def __repr__(self) -> str:
        return f"Credentials(method={self.method!r}, mount={self.mount!r}, <hidden>)"


@dataclass
class VaultApi:
    """The KV v2 and login calls the sink makes, through hvac; every failure a
    `SecretSinkError` naming the call, the path and the fix."""

    spec: VaultKvSink
    credentials: Credentials
    hvac: Any
    """The hvac module, imported when the sink was opened."""
    verify: str | bool = True
    _token: SecretStr | None = field(default=None, init=False)
    _login_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _local: threading.local = field(default_factory=threading.local, init=False)
    _checked_mount: bool = field(default=False, init=False)

    def __repr__(self) -> str:
        return f"VaultApi(address={self.spec.address!r}, {self.credentials!r})"

    # --- KV v2 ------------------------------------------------------------------------------

    def read_metadata(self, path: str) -> _Metadata | None:
        answer = self._call(
            f"read the metadata of {path!r}",
            path,
            lambda kv: kv.read_secret_metadata(path=path, mount_point=self.spec.mount),
            writing=False,
            missing_ok=True,
        )
        if answer is None:
            return None
        data = _data_of(answer)
        versions = data.get("versions") or {}
        return _Metadata(
            current_version=int(data.get("current_version") or 0),
            custom=dict(data.get("custom_metadata") or {}),
            versions=tuple(
                sorted(
                    (int(v) for v, info in versions.items() if not info.get("destroyed")),
                    reverse=True,
                )
            ),
            delete_version_after=str(data.get("delete_version_after") or "0s"),
        )

    def read_version(self, path: str, version: int) -> dict[str, Any] | None:
        """The data of a version; None when it does not exist or is deleted or destroyed."""
        answer = self._call(
            f"read version {version} of {path!r}",
            path,
            lambda kv: kv.read_secret_version(
                path=path,
                version=version,
                mount_point=self.spec.mount,
                raise_on_deleted_version=True,
            ),
            writing=False,
            missing_ok=True,
        )
        if answer is None:
            return None
        data = _data_of(answer).get("data")
        if not isinstance(data, dict):
            raise _not_kv2(self.spec, path)
        return data

    def write_data(self, path: str, data: dict[str, Any], cas: int) -> int:
        """A new version of `path`, only if its current version is `cas` (0: none yet)."""
        self._check_mount(path)
        answer = self._call(
            f"write a new version of {path!r} over version {cas}",
            path,
            lambda kv: kv.create_or_update_secret(
                path=path, secret=data, cas=cas, mount_point=self.spec.mount
            ),
            writing=True,
            cas=cas,
        )
        version = _data_of(answer).get("version") if isinstance(answer, dict) else None
        if not isinstance(version, int):
            raise _not_kv2(self.spec, path)
        return version

    def write_metadata(
        self, path: str, custom: Mapping[str, str], delete_version_after: str | None
    ) -> None:
        """custom_metadata (replaced whole) and cas_required; `delete_version_after` as read."""
        self._check_mount(path)
        self._call(
            f"write the metadata of {path!r}",
            path,
            lambda kv: kv.update_metadata(
                path=path,
                cas_required=True,
                delete_version_after=delete_version_after or "0s",
                custom_metadata=dict(custom),
                mount_point=self.spec.mount,
            ),
            writing=True,
        )

    def _check_mount(self, path: str) -> None:
        """Before the first write: the mount must be KV version 2. A KV v1 mount would store
        `data/<path>` as a plain secret holding the key where no reader looks. Asked the way
        the vault CLI does (`sys/internal/ui/mounts/<mount>`, open to any token that may use
        the mount, but internal to Vault's UI and CLI); an answer that does not say is let
        through: the write's own answer is checked too."""
        if self._checked_mount:
            return
        client = self._client()
        answer = None
        failure = None
        try:
            answer = client.adapter.get(f"/v1/sys/internal/ui/mounts/{self.spec.mount}")
        except self.hvac.exceptions.VaultError:
            pass  # the server does not say; the write's answer will
        except _requests_errors() as exc:
            failure = _unreachable(self.spec, f"read the type of mount {self.spec.mount!r}", exc)
        if failure is not None:
            raise failure
        mount = _data_of(answer)
        version = str((mount.get("options") or {}).get("version", ""))
        if mount.get("type") == "kv" and version != "2":
            raise _not_kv2(self.spec, path)
        self._checked_mount = True

    # --- the client and login ---------------------------------------------------------------

    def _client(self) -> Any:
        """This thread's hvac client (requests sessions are not shared between threads),
        logged in."""
        token = self._logged_in()
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client("")
            self._local.client = client
        client.token = token.get_secret_value()
        return client

    def _new_client(self, token: str) -> Any:
        return self.hvac.Client(
            url=self.spec.address,
            token=token,
            verify=self.verify,
            namespace=self.spec.namespace,
            timeout=30,
        )

    def _logged_in(self) -> SecretStr:
        with self._login_lock:
            if self._token is None:
                self._token = self._login()
            return self._token

    def _login(self) -> SecretStr:
        credentials = self.credentials
        if credentials.method == "token":
            return credentials.secrets["token"]
        client = self._new_client("")
        values = {k: v.get_secret_value() for k, v in credentials.secrets.items()}
        problem: SecretSinkError
        try:
            if credentials.method == "approle":
                answer = client.auth.approle.login(
                    role_id=values["role_id"],
                    secret_id=values["secret_id"],
                    mount_point=credentials.mount,
                )
            else:
                answer = client.auth.kubernetes.login(
                    role=credentials.role, jwt=values["jwt"], mount_point=credentials.mount
                )
            token = answer["auth"]["client_token"]
            if isinstance(token, str) and token:
                return SecretStr(token)
            problem = SecretSinkError(f"Vault's {credentials.method} login returned no token")
        except self.hvac.exceptions.VaultError as exc:
            problem = self._login_refused(exc)
        except _requests_errors() as exc:
            problem = _unreachable(self.spec, "log in", exc)
        except (KeyError, TypeError):
            problem = SecretSinkError(f"Vault's {credentials.method} login answer has no token")
        raise problem

    def _login_refused(self, exc: Any) -> SecretSinkError:
        credentials = self.credentials
        where = f"auth/{credentials.mount}/login"
        said = _said(exc)
        if credentials.method == "approle":
            return SecretSinkError(
                f"Vault refused the AppRole login at {where} ({_status(exc)}: {said})",
                hint="check role_id and secret_id (read from "
                f"{credentials.source}); a secret_id expires (secret_id_ttl) or runs out "
                "(secret_id_num_uses): make a new one with `vault write -f "
                f"auth/{credentials.mount}/role/<role>/secret-id`",
            )
        return SecretSinkError(
            f"Vault refused the Kubernetes login of role {credentials.role!r} at {where} "
            f"({_status(exc)}: {said})",
            hint=f"check that role {credentials.role!r} exists in auth/{credentials.mount} and "
            "is bound to this pod's service account and namespace "
            f"(bound_service_account_names/namespaces), and that {credentials.source} is the "
            "pod's service-account token",
        )

    # --- errors -----------------------------------------------------------------------------

    def _call(
        self,
        action: str,
        path: str,
        call: Callable[[Any], T],
        *,
        writing: bool,
        missing_ok: bool = False,
        cas: int | None = None,
    ) -> T | None:
        """One KV v2 call; a failure becomes a `SecretSinkError` raised outside the `except`,
        so no hvac exception (it holds the response) is chained to it."""
        client = self._client()
        problem: SecretSinkError
        exceptions = self.hvac.exceptions
        try:
            return call(client.secrets.kv.v2)
        except exceptions.InvalidPath:
            if missing_ok:
                return None
            problem = self._failed(
                action,
                "HTTP 404 no such path",
                f"check that {self.spec.mount!r} is a KV version 2 mount "
                f"(vault secrets enable -path={self.spec.mount} kv-v2)",
            )
        except exceptions.InvalidRequest as exc:
            problem = self._bad_request(action, path, exc, cas)
        except exceptions.Forbidden as exc:
            problem = self._forbidden(action, path, exc, writing=writing)
        except (exceptions.VaultDown, exceptions.InternalServerError, exceptions.BadGateway) as exc:
            problem = self._failed(
                action,
                f"{_status(exc)}: {_said(exc)}",
                "Vault is sealed or unavailable; nothing after this call was written: run "
                "mpctl again",
            )
        except exceptions.VaultError as exc:
            problem = self._failed(action, f"{_status(exc)}: {_said(exc)}")
        except _requests_errors() as exc:
            problem = _unreachable(self.spec, action, exc)
        raise problem

    def _failed(self, action: str, detail: str, hint: str | None = None) -> SecretSinkError:
        return SecretSinkError(
            f"Vault at {self.spec.address}: could not {action} in mount {self.spec.mount!r}: "
            f"{detail}",
            hint=hint,
        )

    def _bad_request(self, action: str, path: str, exc: Any, cas: int | None) -> SecretSinkError:
        said = _said(exc)
        if _CAS_MISMATCH in said:
            return VaultWriteConflictError(
                f"another writer changed secret {self.spec.mount}/{path} at "
                f"{self.spec.address} after mpctl read its version {cas}; nothing was "
                f"overwritten (Vault: {said})",
                hint="run mpctl apply again: it starts from what is stored now; if the other "
                f"writer was not mpctl, look at `vault kv metadata get -mount={self.spec.mount} "
                f"{path}` first",
            )
        return self._failed(action, f"HTTP 400: {said}")

    def _forbidden(self, action: str, path: str, exc: Any, *, writing: bool) -> SecretSinkError:
        if not self._token_is_valid():
            return SecretSinkError(
                f"Vault at {self.spec.address} refused mpctl's token (HTTP 403: {_said(exc)}) "
                f"trying to {action}, and the token cannot look itself up: it is invalid, "
                "expired or revoked",
                hint=self._token_hint(),
            )
        prefix = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
        namespace = f" in namespace {self.spec.namespace!r}" if self.spec.namespace else ""
        return SecretSinkError(
            f"Vault at {self.spec.address}: could not {action} in mount {self.spec.mount!r}: "
            f"HTTP 403: {_said(exc)} (this call {'writes' if writing else 'reads'})",
            hint=_POLICY_HINT.format(mount=self.spec.mount, prefix=prefix) + namespace,
        )

    def _token_is_valid(self) -> bool:
        try:
            self._client().auth.token.lookup_self()
        except self.hvac.exceptions.VaultError:
            return False
        except _requests_errors():
            return True  # unknown: report the refusal as a policy problem
        return True

    def _token_hint(self) -> str:
        credentials = self.credentials
        if credentials.method == "token":
            return (
                f"set {credentials.source} to a valid Vault token with mpctl's policy "
                "(`vault token lookup` shows whether a token is valid; `vault token create "
                "-policy=mpctl-apply` makes one)"
            )
        return (
            f"the token from the {credentials.method} login was refused: check the token_ttl "
            f"and token_policies of the role in auth/{credentials.mount}"
        )


def _data_of(answer: Any) -> dict[str, Any]:
    data = answer.get("data") if isinstance(answer, dict) else None
    return data if isinstance(data, dict) else {}


def _said(exc: Any) -> str:
    """Vault's `errors`, on one line, cut short (they name paths and parameters, not data)."""
    errors = getattr(exc, "errors", None) or []
    text = "; ".join(str(e) for e in errors) or "no details"
    return " ".join(text.split())[:300]


def _status(exc: Any) -> str:
    statuses = {
        "InvalidRequest": 400,
        "Unauthorized": 401,
        "Forbidden": 403,
        "InvalidPath": 404,
        "RateLimitExceeded": 429,
        "InternalServerError": 500,
        "VaultNotInitialized": 501,
        "BadGateway": 502,
        "VaultDown": 503,
    }
    status = statuses.get(type(exc).__name__)
    return f"HTTP {status}" if status else type(exc).__name__


def _requests_errors() -> type[Exception]:
    return importlib.import_module("requests").exceptions.RequestException  # type: ignore[no-any-return]


def _unreachable(spec: VaultKvSink, action: str, exc: Exception) -> SecretSinkError:
    kind = type(exc).__name__
    hint = "check the sink's address, DNS and the network path to Vault"
    if "SSL" in kind:
        hint = "Vault's certificate is not trusted: set the sink's ca_cert to the CA bundle"
    return SecretSinkError(f"cannot reach Vault at {spec.address} to {action} ({kind})", hint=hint)


def _not_kv2(spec: VaultKvSink, path: str) -> SecretSinkError:
    return SecretSinkError(
        f"mount {spec.mount!r} at {spec.address} did not answer for {path!r} as a KV version 2 "
        "engine does",
        hint=f"the vault-kv sink needs KV version 2: vault secrets enable -path={spec.mount} "
        "kv-v2 (or `vault kv enable-versioning`)",
    )


# --- opening the sink -----------------------------------------------------------------------


def _read(source: SecretSource, context: SinkContext, what: str, fix: str) -> str:
    return read_reference(source, context, what=f"the vault-kv sink's {what}", fix=fix)


def credentials_for(spec: VaultKvSink, context: SinkContext) -> Credentials:
    """The login of `spec.auth`, its references read now (a missing one is reported before
    any request)."""
    auth = spec.auth
    if isinstance(auth, VaultTokenAuth):
        token = _read(
            auth.token,
            context,
            "token",
            "set it to a Vault token with mpctl's policy (in CI, from a secret), or use "
            "AppRole or Kubernetes auth",
        )
        source = describe_reference(auth.token)
        return Credentials("token", {"token": SecretStr(token)}, source=source)
    if isinstance(auth, VaultAppRoleAuth):
        fix = f"set it from `vault read auth/{auth.mount}/role/<role>/role-id` and a secret_id"
        role_id = _read(auth.role_id, context, "AppRole role_id", fix)
        secret_id = _read(auth.secret_id, context, "AppRole secret_id", fix)
        return Credentials(
            "approle",
            {"role_id": SecretStr(role_id), "secret_id": SecretStr(secret_id)},
            mount=auth.mount,
            source=f"{describe_reference(auth.role_id)} and {describe_reference(auth.secret_id)}",
        )
    assert isinstance(auth, VaultKubernetesAuth)
    jwt_path = Path(auth.jwt_path).expanduser()
    jwt_path = jwt_path if jwt_path.is_absolute() else context.base_dir / jwt_path
    jwt = _read(
        SecretSource(file=str(jwt_path)),
        context,
        "Kubernetes service-account token",
        "run mpctl in a pod whose service account Vault's role trusts, or set jwt_path",
    )
    return Credentials(
        "kubernetes",
        {"jwt": SecretStr(jwt)},
        mount=auth.mount,
        role=auth.role,
        source=f"file {jwt_path}",
    )


def _import_hvac() -> Any:
    try:
        return importlib.import_module("hvac")
    except ImportError:
        raise SecretSinkError(
            "the vault-kv sink needs hvac (HashiCorp Vault's Python client)", hint=_INSTALL_HINT
        ) from None


def open_vault_sink(spec: SinkSpec, context: SinkContext) -> VaultKvSecretSink:
    """Registry factory for sinks of type `vault-kv` (logs in on the first call)."""
    if not isinstance(spec, VaultKvSink):
        raise SecretSinkError(f"a Vault sink cannot be built from a {spec.type!r} sink spec")
    hvac = _import_hvac()
    verify: str | bool = True
    if spec.ca_cert is not None:
        ca = Path(spec.ca_cert).expanduser()
        verify = str(ca if ca.is_absolute() else context.base_dir / ca)
    api = VaultApi(spec, credentials_for(spec, context), hvac, verify)
    return VaultKvSecretSink(spec, context, api)


PLUGIN = SinkPlugin(type="vault-kv", spec=VaultKvSink, open=open_vault_sink, durable=True)
"""The entry point `vault-kv = "mpctl.secrets.vault:PLUGIN"` (pyproject.toml)."""
