"""The AWS Secrets Manager sink: one secret per client, the rotation labels as its staging labels.

Owns the mapping of the `SecretSink` protocol onto Secrets Manager (boto3's `secretsmanager`
client, imported when the sink is opened: a missing boto3 is a `SecretSinkError`, not a crash at
start). Must not generate keys, decide when to rotate, or let a key reach a log or an error.

Layout of the secret `spec.secret_name` ({env}, {client} filled in):
- every key is one *version* of the secret; its SecretString is a JSON object holding seed 002's
  variables (`MASKINPORTEN_MODE`, `MASKINPORTEN_CLIENT_ID`, `MASKINPORTEN_KID`,
  `MASKINPORTEN_PRIVATE_KEY` (PKCS#8 PEM), `MASKINPORTEN_TOKEN_ENDPOINT`, `MASKINPORTEN_ISSUER`;
  names from `spec.variables`), so a workload reading AWSCURRENT gets exactly those, plus an
  `mpctl` object with the public metadata (kid, thumbprint, algorithm, created_at, client,
  environment). Versions are immutable, so a reader never sees a key that disagrees with its
  label: a label moves only to a version that is complete.
- the labels are Secrets Manager's own: AWSPENDING = pending, AWSCURRENT = current,
  AWSPREVIOUS = previous (AWS moves AWSPREVIOUS to the old current when AWSCURRENT moves).
  stage = PutSecretValue [AWSPENDING]; promote = UpdateSecretVersionStage AWSCURRENT to it, then
  AWSPENDING off it; forget_previous / discard_pending = that label off its version.
- Secrets Manager gives the first version of a secret AWSCURRENT whatever label is asked for,
  so the secret is created with a *placeholder* version (metadata only, no key, no variables):
  the first staged key is AWSPENDING like every other, and no untested key is ever current.
- companion data in the secret's tags (no key material): `mpctl:client` and
  `mpctl:environment` (the secret is mpctl's; a secret without them is never written),
  `mpctl:client-id` (Digdir's client_id, known before any key exists),
  `mpctl:key:<version id>` (that version's kid, thumbprint, algorithm, created_at and
  client_id, tagged *before* the version is written) and `mpctl:promoted-at:<version id>` (when
  it became AWSCURRENT, tagged *before* the label moves). So `read_state` (all `plan` needs) is
  one DescribeSecret and reads no key material; a version without its tag is read from its
  content. Tags of versions no label points at are removed (a secret holds at most 50 tags).
- a version's ClientRequestToken (its VersionId) is a UUID derived from the document's public
  part (kid, thumbprint, client_id, endpoints, variable names): re-running a stage is a no-op,
  and a kid already stored with another thumbprint is refused (KidReuseError).
- a new client_id (a replaced client) republishes the current key as a new version, made
  current through a working label (MPCTL_REPUBLISH); the real previous is recorded in the tag
  `mpctl:previous-version` and its AWSPREVIOUS put back (see `_republish_current`).

Least privileges (IAM), on `arn:aws:secretsmanager:<region>:<account>:secret:mpctl/*` (the
default `secret_name` prefix): `plan` needs only `secretsmanager:DescribeSecret`; `verify` also
`secretsmanager:GetSecretValue` and `secretsmanager:ListSecretVersionIds`; `apply` also
`secretsmanager:CreateSecret`, `secretsmanager:PutSecretValue`,
`secretsmanager:UpdateSecretVersionStage`, `secretsmanager:TagResource` and
`secretsmanager:UntagResource`. With `kms_key_id`, on that key: `kms:GenerateDataKey` and
`kms:Decrypt` (apply), `kms:Decrypt` (verify). The workload needs only
`secretsmanager:GetSecretValue` on its own secret (and `kms:Decrypt` with a customer key).

botocore logs request and response bodies at DEBUG, and those bodies hold the private key: the
sink raises the `botocore` and `boto3` loggers (and their children) to INFO when it is opened,
for the whole process. Errors never quote AWS messages other than AccessDenied's (validation
messages may quote a parameter's value) and are raised with no botocore exception chained.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from mpctl.errors import SecretSinkError
from mpctl.model import AwsSecretsManagerSink, KeySlot, SinkSpec, SinkState
from mpctl.secrets.dotenv import workload_variables
from mpctl.secrets.keys import KeyMaterialError, PrivateKey, key_for_record, to_pem
from mpctl.secrets.protocol import (
    RotationInFlightError,
    SinkContext,
    SinkPlugin,
    label_holding,
)
from mpctl.secrets.sdk_logs import quiet_loggers

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
REPUBLISH = "MPCTL_REPUBLISH"
"""A working label: the current key rewritten with a new client_id, until it is made current."""
TAG_CLIENT = "mpctl:client"
TAG_ENVIRONMENT = "mpctl:environment"
TAG_CLIENT_ID = "mpctl:client-id"
TAG_KEY = "mpctl:key:"
"""+ version id: the version's public view, `kid thumbprint algorithm created_at client_id`
(`none` for the placeholder), so labels are read with DescribeSecret alone."""
TAG_PROMOTED = "mpctl:promoted-at:"
TAG_PREVIOUS = "mpctl:previous-version"
"""Set only while a republished current (a new client_id) moves AWSPREVIOUS back to it."""

_TOKENS = uuid.UUID("6d8e2f0c-6a55-4b8e-9a7e-3a1f6b0c2d11")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_TAG_WORD = re.compile(r"^[A-Za-z0-9+=._:/@-]+$")
_NO_KEY = "none"
_PER_VERSION = (TAG_KEY, TAG_PROMOTED)
_INSTALL_HINT = "the aws-secrets-manager sink needs boto3: pip install 'mpctl[aws]'"
AWS_SDK_LOGGERS = ("botocore", "boto3")
"""At DEBUG they log request and response bodies, which hold private keys."""
_WRITE_ACTIONS = (
    "CreateSecret, PutSecretValue, UpdateSecretVersionStage, TagResource, UntagResource"
)


class _Meta(BaseModel):
    """The public `mpctl` object of a version; `kid` is None in the placeholder."""

    model_config = ConfigDict(extra="ignore")

    format_version: int = 1
    client: str
    environment: str
    kid: str | None = None
    thumbprint: str | None = None
    algorithm: str = "RS256"
    created_at: datetime | None = None
    private_key_variable: str = "MASKINPORTEN_PRIVATE_KEY"
    client_id_variable: str = "MASKINPORTEN_CLIENT_ID"
    """Where this version keeps its key and client_id (the spec's names when it was written)."""


@dataclass(frozen=True, repr=False)
class _Version:
    """One version of the secret as read: its id, public view and (hidden) PEM."""

    version_id: str
    meta: _Meta
    client_id: str | None
    pem: SecretStr | None

    def __repr__(self) -> str:
        return f"_Version({self.version_id!r}, kid={self.meta.kid!r})"

    @property
    def kid(self) -> str | None:
        return self.meta.kid

    def slot(self, promoted_at: datetime | None) -> KeySlot | None:
        meta = self.meta
        if meta.kid is None or meta.thumbprint is None or meta.created_at is None:
            return None
        return KeySlot(
            kid=meta.kid,
            thumbprint=meta.thumbprint,
            algorithm=meta.algorithm,
            created_at=meta.created_at,
            promoted_at=promoted_at,
        )


@dataclass(frozen=True)
class _Secret:
    """The secret as one DescribeSecret saw it, with the versions its labels point at."""

    name: str
    tags: Mapping[str, str]
    stages: Mapping[str, str]
    """Label → version id."""
    labelled: Mapping[str, _Version]
    """Label → version, for AWSCURRENT, AWSPENDING and AWSPREVIOUS."""

    @property
    def client_id(self) -> str | None:
        return self.tags.get(TAG_CLIENT_ID)

    def key(self, label: str) -> _Version | None:
        """The version under `label` when it holds a key (not the placeholder); AWSPENDING on
        the current version (a promote stopped before its last call) and AWSPREVIOUS on a
        version with the current kid (a republish stopped) do not count."""
        version = self.labelled.get(label)
        if version is None or version.kid is None:
            return None
        current = self.labelled.get(CURRENT)
        if label == PENDING and current is not None and current.version_id == version.version_id:
            return None
        if label == PREVIOUS and current is not None and version.kid == current.kid:
            return self._interrupted_previous()
        return version

    def _interrupted_previous(self) -> _Version | None:
        version_id = self.tags.get(TAG_PREVIOUS)
        return self.labelled.get(f"{TAG_PREVIOUS}:{version_id}") if version_id else None

    def promoted_at(self, version: _Version | None) -> datetime | None:
        if version is None:
            return None
        value = self.tags.get(TAG_PROMOTED + version.version_id)
        return datetime.fromisoformat(value) if value else None

    def slot(self, label: str) -> KeySlot | None:
        version = self.key(label)
        return version.slot(self.promoted_at(version)) if version else None


class AwsSinkError(SecretSinkError):
    """Secrets Manager refused a call; `aws_code` is its error code (never its parameters)."""

    def __init__(self, message: str, *, aws_code: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.aws_code = aws_code


class _NotFoundError(AwsSinkError):
    """ResourceNotFoundException: the secret (or version) does not exist."""


class AwsSecretsManagerSecretSink:
    """`BlockingSecretSink` over one boto3 `secretsmanager` client (see the module docstring)."""

    def __init__(self, spec: AwsSecretsManagerSink, context: SinkContext, client: Any) -> None:
        self._spec = spec
        self._context = context
        self.client = client
        """The boto3 client (tests hook its events; never logged)."""
        self._versions: dict[tuple[str, str], _Version] = {}
        exceptions = importlib.import_module("botocore.exceptions")
        self._client_error: type[Exception] = exceptions.ClientError
        self._botocore_error: type[Exception] = exceptions.BotoCoreError

    def __repr__(self) -> str:
        return (
            f"AwsSecretsManagerSecretSink(secret_name={self._spec.secret_name!r}, "
            f"region={self.client.meta.region_name!r})"
        )

    def secret_name(self, client: str) -> str:
        name = self._spec.secret_name.replace("{env}", self._context.environment)
        name = name.replace("{client}", client)
        if not _SECRET_NAME.match(name):
            raise SecretSinkError(
                f"secret name {name!r} (secret_name {self._spec.secret_name!r}) is not a valid "
                "Secrets Manager name",
                hint="use letters, digits and / _ + = . @ - only, at most 512 characters",
            )
        return name

    # --- the protocol -----------------------------------------------------------------------

    def read_state(self, client: str) -> SinkState:
        secret = self._read(client)
        return SinkState() if secret is None else self._state(secret)

    @staticmethod
    def _state(secret: _Secret) -> SinkState:
        return SinkState(
            client_id=secret.client_id,
            current=secret.slot(CURRENT),
            previous=secret.slot(PREVIOUS),
            pending=secret.slot(PENDING),
        )

    def stage(self, client: str, key: PrivateKey) -> None:
        secret = self._ensure(client)
        holding = label_holding(self._state(secret), key.kid, key.thumbprint)
        staged = {"pending": PENDING, "current": CURRENT}.get(holding or "")
        if staged == CURRENT:
            return
        if staged == PENDING:
            self._follow_client_id(client, secret, PENDING)
            return
        pending = secret.key(PENDING)
        if pending is not None:
            raise RotationInFlightError(
                f"client {client!r} already has pending key {pending.kid!r} in secret "
                f"{secret.name!r}; refusing to stage {key.kid!r} (one rotation at a time)",
                hint="let the running rotation finish (mpctl apply), or discard it explicitly",
            )
        self._put(client, secret, key, secret.client_id, PENDING)

    def promote(self, client: str, kid: str, now: datetime) -> None:
        secret = self._existing(client)
        current, pending = secret.key(CURRENT), secret.key(PENDING)
        if current is not None and current.kid == kid:
            if secret.stages.get(PENDING) == current.version_id:  # the promote's last call
                self._unlabel(secret, PENDING, current.version_id)
                self._drop_stale_tags(self._existing(client))
            return
        if pending is None or pending.kid != kid:
            raise SecretSinkError(f"kid {kid!r} is not pending for client {client!r}")
        previous = secret.key(PREVIOUS)
        if previous is not None:
            raise SecretSinkError(
                f"client {client!r} still holds previous key {previous.kid!r}; refusing to "
                f"promote {kid!r}, which would drop it while it may be registered",
                hint="retire the previous key (JWKS − old, then forget_previous) first",
            )
        if pending.client_id != secret.client_id and secret.client_id is not None:
            secret = self._follow_client_id(client, secret, PENDING)
            pending = secret.key(PENDING)
            assert pending is not None
        self._tag(secret.name, {TAG_PROMOTED + pending.version_id: now.isoformat()})
        self._move(secret, CURRENT, pending.version_id)
        self._unlabel(secret, PENDING, pending.version_id)
        after = self._existing(client)
        if after.stages.get(CURRENT) != pending.version_id:
            raise _read_back_failed(secret.name, f"AWSCURRENT is not on {kid!r}")
        self._drop_stale_tags(after)

    def discard_pending(self, client: str, kid: str) -> None:
        secret = self._read(client)
        pending = secret.labelled.get(PENDING) if secret else None
        if secret is None or pending is None or pending.kid != kid:
            return
        self._unlabel(secret, PENDING, pending.version_id)
        if self._existing(client).stages.get(PENDING) == pending.version_id:
            raise _read_back_failed(secret.name, f"AWSPENDING is still on {kid!r}")

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        secret = self._read(client)
        if secret is None:
            return
        previous = secret.key(PREVIOUS)
        if previous is None:  # already forgotten; a run cut short may have left its tags
            self._drop_stale_tags(secret, also=(TAG_PREVIOUS,))
            return
        if kid is not None and previous.kid != kid:
            raise SecretSinkError(
                f"client {client!r} holds previous key {previous.kid!r}, not {kid!r}; "
                "nothing was forgotten"
            )
        self._unlabel(secret, PREVIOUS, secret.stages[PREVIOUS])
        after = self._existing(client)
        if after.key(PREVIOUS) is not None:
            raise _read_back_failed(secret.name, f"AWSPREVIOUS is still on {previous.kid!r}")
        self._drop_stale_tags(after, also=(TAG_PREVIOUS,))

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        secret = self._existing(client)
        for version in self._versions_with_kid(secret, kid):
            return _private_key(secret.name, version)
        raise SecretSinkError(
            f"no key with kid {kid!r} is stored in secret {secret.name!r} for client {client!r}"
        )

    def set_client_id(self, client: str, client_id: str) -> None:
        secret = self._ensure(client, client_id)
        if secret.client_id != client_id:
            self._tag(secret.name, {TAG_CLIENT_ID: client_id})
            secret = self._existing(client)
            if secret.client_id != client_id:
                raise _read_back_failed(secret.name, f"tag {TAG_CLIENT_ID} is not {client_id!r}")
        secret = self._follow_client_id(client, secret, CURRENT)
        self._follow_client_id(client, secret, PENDING)

    # --- reading ----------------------------------------------------------------------------

    def _read(self, client: str) -> _Secret | None:
        name = self.secret_name(client)
        try:
            described = self._call("DescribeSecret", name, SecretId=name)
        except _NotFoundError:
            return None
        if described.get("DeletedDate") is not None:
            raise SecretSinkError(
                f"secret {name!r} of client {client!r} is scheduled for deletion",
                hint=f"restore it (aws secretsmanager restore-secret --secret-id {name}) or "
                "delete it for good before mpctl creates it again",
            )
        tags = {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}
        self._check_ownership(name, client, tags)
        stages: dict[str, str] = {}
        for version_id, labels in described.get("VersionIdsToStages", {}).items():
            for label in labels:
                stages[label] = version_id
        labelled: dict[str, _Version] = {}
        seen: dict[str, _Version] = {}
        wanted = [(label, stages.get(label)) for label in (CURRENT, PENDING, PREVIOUS)]
        if tags.get(TAG_PREVIOUS):
            wanted.append((f"{TAG_PREVIOUS}:{tags[TAG_PREVIOUS]}", tags[TAG_PREVIOUS]))
        for label, version_id in wanted:
            if version_id is None:
                continue
            if version_id not in seen:
                seen[version_id] = _from_key_tag(
                    version_id, tags.get(TAG_KEY + version_id), client, self._context.environment
                ) or self._get_version(name, client, version_id)
            labelled[label] = seen[version_id]
        return _Secret(name, tags, stages, labelled)

    def _existing(self, client: str) -> _Secret:
        secret = self._read(client)
        if secret is None:
            raise SecretSinkError(
                f"secret {self.secret_name(client)!r} of client {client!r} does not exist",
                hint="run mpctl apply: the first stage creates it",
            )
        return secret

    def _check_ownership(self, name: str, client: str, tags: Mapping[str, str]) -> None:
        owner = (tags.get(TAG_CLIENT), tags.get(TAG_ENVIRONMENT))
        if owner != (client, self._context.environment):
            raise SecretSinkError(
                f"secret {name!r} exists but is not mpctl's secret for client {client!r} in "
                f"environment {self._context.environment!r} (its tags {TAG_CLIENT}, "
                f"{TAG_ENVIRONMENT} say {owner[0]!r}, {owner[1]!r}); mpctl does not write to it",
                hint="choose another secret_name for the sink, or tag the secret "
                f"{TAG_CLIENT}={client} {TAG_ENVIRONMENT}={self._context.environment} to adopt it",
            )

    def _get_version(self, name: str, client: str, version_id: str) -> _Version:
        """A version's content, read once per sink: a version id names immutable content."""
        cached = self._versions.get((name, version_id))
        if cached is not None:
            return cached
        try:
            answer = self._call("GetSecretValue", name, SecretId=name, VersionId=version_id)
        except _NotFoundError:
            raise _corrupt(name, f"version {version_id} is labelled but missing") from None
        version = _parse_version(name, client, self._context.environment, version_id, answer)
        self._versions[(name, version_id)] = version
        return version

    def _private_key(self, secret: _Secret, version: _Version) -> PrivateKey:
        """The key of `version`, read from its content, which must agree with its tag."""
        content = self._get_version(secret.name, secret.tags[TAG_CLIENT], version.version_id)
        if (content.kid, content.meta.thumbprint) != (version.kid, version.meta.thumbprint):
            raise _corrupt(secret.name, f"version {version.version_id} disagrees with its tag")
        return _private_key(secret.name, content)

    def _versions_with_kid(self, secret: _Secret, kid: str) -> Iterator[_Version]:
        """Labelled versions first; then every other version (a reader that saw a label just
        before it moved still finds the key it names)."""
        checked: set[str] = set()
        client = secret.tags[TAG_CLIENT]
        for version in secret.labelled.values():
            checked.add(version.version_id)
            if version.kid == kid:
                yield self._get_version(secret.name, client, version.version_id)
        for version_id in self._all_version_ids(secret.name):
            if version_id not in checked:
                version = self._get_version(secret.name, client, version_id)
                if version.kid == kid:
                    yield version

    def _all_version_ids(self, name: str) -> Iterator[str]:
        params: dict[str, Any] = {"SecretId": name, "IncludeDeprecated": True}
        while True:
            page = self._call("ListSecretVersionIds", name, **params)
            yield from (version["VersionId"] for version in page.get("Versions", []))
            if not page.get("NextToken"):
                return
            params["NextToken"] = page["NextToken"]

    # --- writing ----------------------------------------------------------------------------

    def _ensure(self, client: str, client_id: str | None = None) -> _Secret:
        """The secret, created with its placeholder version and tags when missing."""
        secret = self._read(client)
        if secret is not None:
            return secret
        name = self.secret_name(client)
        tags = {TAG_CLIENT: client, TAG_ENVIRONMENT: self._context.environment}
        if client_id is not None:
            tags[TAG_CLIENT_ID] = client_id
        placeholder = _Meta(client=client, environment=self._context.environment)
        token = str(uuid.uuid5(_TOKENS, f"placeholder\n{name}"))
        tags[TAG_KEY + token] = _NO_KEY
        params: dict[str, Any] = {
            "Name": name,
            "ClientRequestToken": token,
            "Description": f"Maskinporten key of client {client} "
            f"({self._context.environment}), managed by mpctl: the key is in AWSCURRENT",
            "SecretString": json.dumps({"mpctl": placeholder.model_dump(mode="json")}),
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }
        if self._spec.kms_key_id:
            params["KmsKeyId"] = self._spec.kms_key_id
        try:
            self._call("CreateSecret", name, **params)
        except AwsSinkError as exc:
            if exc.aws_code != "ResourceExistsException":
                raise
        return self._existing(client)

    def _put(
        self, client: str, secret: _Secret, key: PrivateKey, client_id: str | None, label: str
    ) -> str:
        """Write `key` as a new version under `label` (its key tag first: no label ever points
        at a version without one), then read it back."""
        public, document = _document(self._spec, self._context, client, key, client_id)
        version_id = _version_id(public)
        tag = _key_tag(key, client_id)
        if tag is not None and secret.tags.get(TAG_KEY + version_id) != tag:
            self._tag(secret.name, {TAG_KEY + version_id: tag})
        answer = self._call(
            "PutSecretValue",
            secret.name,
            SecretId=secret.name,
            ClientRequestToken=version_id,
            SecretString=document,
            VersionStages=[label],
        )
        if label not in answer.get("VersionStages", []):  # the same version existed, unlabelled
            self._move(self._existing(client), label, version_id)
        back = self._call("GetSecretValue", secret.name, SecretId=secret.name, VersionStage=label)
        read = _parse_version(secret.name, client, self._context.environment, version_id, back)
        if back.get("VersionId") != version_id or read.meta.thumbprint != key.thumbprint:
            raise _read_back_failed(secret.name, f"{label} does not hold key {key.kid!r}")
        return version_id

    def _follow_client_id(self, client: str, secret: _Secret, label: str) -> _Secret:
        """Republish the key under `label` when its document holds another client_id."""
        version = secret.key(label)
        if version is None or secret.client_id in (None, version.client_id):
            return self._finish_republish(client, secret) if label == CURRENT else secret
        if label == PENDING:
            key = self._private_key(secret, version)
            self._put(client, secret, key, secret.client_id, PENDING)
            return self._existing(client)
        return self._republish_current(client, secret, version)

    def _republish_current(self, client: str, secret: _Secret, version: _Version) -> _Secret:
        """The current key as a new version holding the new client_id, made current.

        Moving AWSCURRENT makes AWS move AWSPREVIOUS to the old current (the same key), so the
        real previous is recorded in a tag first and its label put back after; the new
        version's promoted-at is the old one's (the key's grace does not restart). A run cut
        short anywhere is finished by the next `set_client_id` (`_finish_republish`), and
        `read_state` reports the real previous meanwhile.
        """
        key = self._private_key(secret, version)
        public, _ = _document(self._spec, self._context, client, key, secret.client_id)
        new_id = _version_id(public)
        tags: dict[str, str] = {}
        previous = secret.key(PREVIOUS)
        if previous is not None:
            tags[TAG_PREVIOUS] = previous.version_id
        promoted = secret.promoted_at(version)
        if promoted is not None:
            tags[TAG_PROMOTED + new_id] = promoted.isoformat()
        if tags:
            self._tag(secret.name, tags)
        self._put(client, secret, key, secret.client_id, REPUBLISH)
        self._move(self._existing(client), CURRENT, new_id)
        return self._finish_republish(client, self._existing(client))

    def _finish_republish(self, client: str, secret: _Secret) -> _Secret:
        """AWSPREVIOUS back on the real previous (or off the old current), then the working
        label and the tag that recorded the previous removed. Nothing to do: no call."""
        recorded = secret.tags.get(TAG_PREVIOUS)
        on_previous, current = secret.labelled.get(PREVIOUS), secret.labelled.get(CURRENT)
        moved = on_previous is not None and current is not None and on_previous.kid == current.kid
        working = secret.stages.get(REPUBLISH)
        if recorded is None and not moved and working is None:
            return secret
        if moved and on_previous is not None:
            if recorded:
                self._move(secret, PREVIOUS, recorded)
            else:
                self._unlabel(secret, PREVIOUS, on_previous.version_id)
        if working is not None:
            self._unlabel(secret, REPUBLISH, working)
        if recorded is not None:
            self._untag(secret.name, [TAG_PREVIOUS])
        after = self._existing(client)
        self._drop_stale_tags(after)
        return after

    def _move(self, secret: _Secret, label: str, version_id: str) -> None:
        params: dict[str, Any] = {"MoveToVersionId": version_id}
        holder = secret.stages.get(label)
        if holder == version_id:
            return
        if holder is not None:
            params["RemoveFromVersionId"] = holder
        self._stage_call(secret.name, label, **params)

    def _unlabel(self, secret: _Secret, label: str, version_id: str) -> None:
        self._stage_call(secret.name, label, RemoveFromVersionId=version_id)

    def _stage_call(self, name: str, label: str, **params: str) -> None:
        self._call("UpdateSecretVersionStage", name, SecretId=name, VersionStage=label, **params)

    def _tag(self, name: str, tags: Mapping[str, str]) -> None:
        pairs = [{"Key": k, "Value": v} for k, v in tags.items()]
        self._call("TagResource", name, SecretId=name, Tags=pairs)

    def _untag(self, name: str, keys: list[str]) -> None:
        self._call("UntagResource", name, SecretId=name, TagKeys=keys)

    def _drop_stale_tags(self, secret: _Secret, also: tuple[str, ...] = ()) -> None:
        """Forget key and promoted-at tags of versions no label points at (a secret holds at
        most 50 tags), and the tags `also` names; such a version is still found by
        `load_private_key` from its content."""
        live = {p + version_id for version_id in secret.stages.values() for p in _PER_VERSION}
        stale = [k for k in secret.tags if k.startswith(_PER_VERSION) and k not in live]
        stale += [k for k in also if k in secret.tags]
        if stale:
            self._untag(secret.name, stale)

    # --- errors -----------------------------------------------------------------------------

    def _call(self, operation: str, name: str, **params: Any) -> dict[str, Any]:
        """One API call; every failure becomes a `SecretSinkError` that names the operation,
        the secret and the fix, raised outside the `except` so no botocore error (whose
        parameter report could quote a value) is chained to it."""
        method: Callable[..., dict[str, Any]] = getattr(self.client, _snake(operation))
        problem: SecretSinkError
        try:
            return method(**params)
        except self._client_error as exc:
            problem = self._from_client_error(operation, name, exc)
        except self._botocore_error as exc:
            problem = _from_botocore_error(operation, name, exc)
        raise problem

    def _from_client_error(self, operation: str, name: str, exc: Any) -> SecretSinkError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        where = f"AWS Secrets Manager {operation} on secret {name!r}"
        arn = f"arn:aws:secretsmanager:{self.client.meta.region_name}:<account>:secret:{name}-*"
        problem = _explain(code, operation, arn, str(error.get("Message", ""))[:300])
        if code == "ResourceNotFoundException":
            return _NotFoundError(f"{where}: not found", aws_code=code)
        return AwsSinkError(f"{where} failed: {code} (HTTP {status})", aws_code=code, hint=problem)


def _explain(code: str, operation: str, arn: str, message: str) -> str:
    """How to fix an AWS error code (only AccessDenied's message is quoted: it names the
    principal, action and resource; validation messages may quote a parameter's value)."""
    if code == "AccessDeniedException":
        if "kms" in message.lower():
            return (
                f"the caller needs kms:GenerateDataKey and kms:Decrypt on the secret's KMS key "
                f"(AWS said: {message})"
            )
        return (
            f"the caller's IAM policy needs secretsmanager:{operation} on {arn} "
            f"(AWS said: {message}); mpctl apply needs DescribeSecret, GetSecretValue, "
            f"ListSecretVersionIds, {_WRITE_ACTIONS}"
        )
    if code in ("DecryptionFailure", "EncryptionFailure"):
        return "the caller needs kms:Decrypt and kms:GenerateDataKey on the secret's KMS key"
    if code in (
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
    ):
        return (
            "the AWS credentials are invalid or expired: renew them (aws sts get-caller-identity)"
        )
    if code == "InvalidRequestException":
        return "the secret may be scheduled for deletion: aws secretsmanager restore-secret"
    if code == "LimitExceededException":
        return "the secret holds too many versions or tags; nothing was changed"
    return "nothing was half-written (versions are immutable, labels move in one call): run again"


def _from_botocore_error(operation: str, name: str, exc: Exception) -> SecretSinkError:
    kind = type(exc).__name__
    where = f"AWS Secrets Manager {operation} on secret {name!r} failed: {kind}"
    if kind in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return SecretSinkError(
            where,
            hint="give boto3 credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
            "or web identity in CI (aws-actions/configure-aws-credentials)",
        )
    if kind in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return SecretSinkError(where, hint="check the network, the region and endpoint_url")
    return SecretSinkError(where)


def _parse_version(
    name: str, client: str, environment: str, version_id: str, answer: Mapping[str, Any]
) -> _Version:
    """A version's SecretString, checked; errors never quote it."""
    problem = None
    try:
        document = json.loads(answer.get("SecretString") or "")
    except ValueError:
        document, problem = None, "its SecretString is not JSON"
    if not isinstance(document, dict) or not isinstance(document.get("mpctl"), dict):
        raise _corrupt(name, f"version {version_id}: {problem or 'no mpctl metadata'}")
    try:
        meta = _Meta.model_validate(document["mpctl"])
    except ValidationError:
        meta, problem = None, "its mpctl metadata is invalid"
    if meta is None:
        raise _corrupt(name, f"version {version_id}: {problem}")
    if (meta.client, meta.environment) != (client, environment):
        raise _corrupt(
            name, f"version {version_id} belongs to {meta.client!r}/{meta.environment!r}"
        )
    pem = document.get(meta.private_key_variable)
    client_id = document.get(meta.client_id_variable)
    return _Version(
        version_id=version_id,
        meta=meta,
        client_id=client_id if isinstance(client_id, str) else None,
        pem=SecretStr(pem) if isinstance(pem, str) else None,
    )


def _key_tag(key: PrivateKey, client_id: str | None) -> str | None:
    """The key tag's value, or None when a part has characters a tag cannot hold (then readers
    fall back to the version's content)."""
    parts = (key.kid, key.thumbprint, key.algorithm, key.created_at.isoformat(), client_id or "-")
    value = " ".join(parts)
    return value if all(_TAG_WORD.match(p) for p in parts) and len(value) <= 256 else None


def _from_key_tag(
    version_id: str, value: str | None, client: str, environment: str
) -> _Version | None:
    """A version's public view from its key tag; None when there is no usable tag."""
    if value == _NO_KEY:
        return _Version(version_id, _Meta(client=client, environment=environment), None, None)
    parts = (value or "").split(" ")
    if len(parts) != 5:
        return None
    kid, thumbprint, algorithm, created, client_id = parts
    try:
        created_at = datetime.fromisoformat(created)
    except ValueError:
        return None
    meta = _Meta(
        client=client,
        environment=environment,
        kid=kid,
        thumbprint=thumbprint,
        algorithm=algorithm,
        created_at=created_at,
    )
    return _Version(version_id, meta, None if client_id == "-" else client_id, None)


def _private_key(name: str, version: _Version) -> PrivateKey:
    slot = version.slot(None)
    if slot is None or version.pem is None:
        raise _corrupt(name, f"version {version.version_id} holds no key")
    try:
        return key_for_record(version.pem.get_secret_value(), slot)
    except KeyMaterialError as exc:
        raise _corrupt(name, f"key {slot.kid!r}: {exc.message}") from None


def _document(
    spec: AwsSecretsManagerSink,
    context: SinkContext,
    client: str,
    key: PrivateKey,
    client_id: str | None,
) -> tuple[str, str]:
    """A version's public part (its private key replaced by the thumbprint: the source of its
    VersionId) and its full SecretString."""
    meta = _Meta(
        client=client,
        environment=context.environment,
        kid=key.kid,
        thumbprint=key.thumbprint,
        algorithm=key.algorithm,
        created_at=key.created_at,
        private_key_variable=spec.variables.private_key,
        client_id_variable=spec.variables.client_id,
    )
    variables = workload_variables(
        spec.variables,
        client_id=client_id or "",
        kid=key.kid,
        private_key_pem=to_pem(key),
        token_endpoint=context.token_endpoint,
        issuer=context.issuer,
    )
    if client_id is None:
        del variables[spec.variables.client_id]
    values: dict[str, object] = {**variables, "mpctl": meta.model_dump(mode="json")}
    public = {**values, spec.variables.private_key: key.thumbprint}
    return json.dumps(public, sort_keys=True), json.dumps(values)


def _version_id(public: str) -> str:
    """The ClientRequestToken (VersionId) of a document: a UUID of its public part, so the same
    key for the same client_id and endpoints is always the same version (re-runs are no-ops)."""
    return str(uuid.uuid5(_TOKENS, hashlib.sha256(public.encode()).hexdigest()))


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _corrupt(name: str, detail: str) -> SecretSinkError:
    return SecretSinkError(
        f"secret {name!r} is unreadable: {detail}; it was not treated as empty",
        hint="restore an earlier version (aws secretsmanager update-secret-version-stage) or "
        "move the secret aside and run mpctl plan: the kids left in the JWKS are reported",
    )


def _read_back_failed(name: str, detail: str) -> SecretSinkError:
    return SecretSinkError(
        f"secret {name!r} did not read back as written: {detail}",
        hint="another process may be writing the same secret; run mpctl apply again",
    )


@functools.cache
def _shared_loader() -> Any:
    """One botocore model loader for every sink of the process: a session per sink keeps
    credentials and profile apart, while the service model (most of a client's start-up
    time) is read once."""
    return importlib.import_module("botocore.loaders").create_loader()


def boto3_client(spec: AwsSecretsManagerSink) -> Any:
    """boto3's `secretsmanager` client for `spec` (region, profile, endpoint_url)."""
    try:
        boto3 = importlib.import_module("boto3")
        config = importlib.import_module("botocore.config")
        exceptions = importlib.import_module("botocore.exceptions")
    except ImportError:
        raise SecretSinkError(_INSTALL_HINT, hint="pip install 'mpctl[aws]'") from None
    quiet_loggers(AWS_SDK_LOGGERS)
    problem: SecretSinkError
    try:
        core = importlib.import_module("botocore.session").Session()
        core.register_component("data_loader", _shared_loader())
        session = boto3.session.Session(
            profile_name=spec.profile, region_name=spec.region, botocore_session=core
        )
        return session.client(
            "secretsmanager",
            endpoint_url=spec.endpoint_url,
            config=config.Config(retries={"mode": "standard", "max_attempts": 3}),
        )
    except exceptions.ProfileNotFound:
        problem = SecretSinkError(
            f"the aws-secrets-manager sink names profile {spec.profile!r}, which is not in "
            "~/.aws/config (or AWS_CONFIG_FILE)",
            hint="add the profile, or remove `profile:` to use boto3's default chain",
        )
    except exceptions.NoRegionError:
        problem = SecretSinkError(
            "the aws-secrets-manager sink has no AWS region",
            hint="set `region:` in the sink, or AWS_REGION / the profile's region",
        )
    raise problem


def open_aws_sink(spec: SinkSpec, context: SinkContext) -> AwsSecretsManagerSecretSink:
    """Registry factory for sinks of type `aws-secrets-manager`."""
    if not isinstance(spec, AwsSecretsManagerSink):
        raise SecretSinkError(f"an AWS sink cannot be built from a {spec.type!r} sink spec")
    return AwsSecretsManagerSecretSink(spec, context, boto3_client(spec))


PLUGIN = SinkPlugin(
    type="aws-secrets-manager", spec=AwsSecretsManagerSink, open=open_aws_sink, durable=True
)
"""The entry point `aws-secrets-manager = "mpctl.secrets.aws:PLUGIN"` (pyproject.toml)."""
