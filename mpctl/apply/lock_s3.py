"""The environment lock as an S3 object, seen by every laptop and CI runner (Terraform's rule).

Owns `S3EnvironmentLock`: the lock is the object `<key>.lock`, created with a conditional
write (PutObject with If-None-Match: *; S3 answers 412 PreconditionFailed when it exists), its
body the holder's `LockInfo` JSON. Release and `force_unlock(lock_id)` read the object, compare
its id, and delete it with If-Match on the ETag they read, so a lock taken by someone else in
between is never deleted. Unlike the local file lock there is no takeover of a holder that
looks gone: a lock left by a crash is reported with the `mpctl apply --force-unlock ID` command.
boto3 is imported when the lock is opened (the `aws` extra). Must not print, and must not put
credentials or request headers in errors or logs (botocore's loggers are kept at INFO).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from mpctl.apply.lock import (
    Lock,
    LockInfo,
    held_error,
    new_lock_info,
    not_locked_error,
    seems_gone,
    vanished_error,
    wrong_id_error,
)
from mpctl.errors import LockedError, MpctlError
from mpctl.model import S3Lock
from mpctl.secrets import quiet_loggers

_INSTALL_HINT = "pip install 'mpctl[aws]'"
_EXISTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
"""PutObject's answers when the lock object exists (412), or is being written right now (409)."""
_GONE = frozenset({"NoSuchKey", "404"})


class LockBackendError(MpctlError):
    """The lock's store refused or could not be reached; the lock's state is as it was."""

    code = "LOCK_BACKEND"


@dataclass(frozen=True)
class _Record:
    """The lock object as read: its holder and the ETag a conditional delete names."""

    holder: LockInfo
    etag: str


class S3EnvironmentLock(Lock):
    """The lock object `s3://<bucket>/<key>` of one environment."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self._errors = importlib.import_module("botocore.exceptions")

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def acquire(self, command: str) -> LockInfo:
        """Create the lock object if there is none; else `LockedError` naming its holder."""
        info = new_lock_info(command)
        if self._create(info):
            return info
        record = self._read()
        if record is None:
            raise vanished_error(self.where)
        if record.holder.id == info.id:  # a retried PutObject that had succeeded: ours
            return info
        raise held_error(record.holder, stale=seems_gone(record.holder))

    def release(self, info: LockInfo) -> None:
        """Delete the lock object if it is still ours (a broken and retaken lock is not)."""
        record = self._read()
        if record is not None and record.holder.id == info.id:
            self._delete(record)

    def force_unlock(self, lock_id: str) -> None:
        record = self._read()
        if record is None:
            raise not_locked_error(self.where)
        if record.holder.id != lock_id:
            raise wrong_id_error(lock_id, record.holder)
        if not self._delete(record):
            raise LockedError(
                f"{self.where} changed while it was being broken; nothing was deleted",
                hint="run mpctl apply again to see who holds it now",
            )

    def holder(self) -> LockInfo | None:
        record = self._read()
        return None if record is None else record.holder

    def _create(self, info: LockInfo) -> bool:
        """PutObject only if absent (atomic in S3); False when the lock object exists."""
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=info.to_json().encode("utf-8"),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except self._errors.ClientError as exc:
            if _code(exc) in _EXISTS:
                return False
            raise self._failed("PutObject", exc) from None
        except self._errors.BotoCoreError as exc:
            raise self._failed("PutObject", exc) from None
        return True

    def _read(self) -> _Record | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key)
            with answer["Body"] as body:
                text = body.read()
        except self._errors.ClientError as exc:
            if _code(exc) in _GONE:
                return None
            raise self._failed("GetObject", exc) from None
        except self._errors.BotoCoreError as exc:
            raise self._failed("GetObject", exc) from None
        return _Record(LockInfo.from_json(text), str(answer["ETag"]))

    def _delete(self, record: _Record) -> bool:
        """DeleteObject if it is still the object read; False when it was replaced."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=record.etag)
        except self._errors.ClientError as exc:
            code = _code(exc)
            if code in _GONE:  # deleted already (by a retried request of ours, or its holder)
                return True
            if code in _EXISTS:
                return False
            raise self._failed("DeleteObject", exc) from None
        except self._errors.BotoCoreError as exc:
            raise self._failed("DeleteObject", exc) from None
        return True

    def _failed(self, operation: str, exc: Exception) -> LockBackendError:
        """What went wrong and how to fix it; never the request, its headers or credentials."""
        kind = _code(exc) if isinstance(exc, self._errors.ClientError) else type(exc).__name__
        return LockBackendError(
            f"S3 {operation} on the environment lock {self.where} failed: {kind}",
            hint=_hint(kind, self.bucket, self.key),
        )


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _hint(kind: str, bucket: str, key: str) -> str:
    if kind in ("AccessDenied", "403"):
        return (
            f"the caller's IAM policy needs s3:GetObject, s3:PutObject and s3:DeleteObject on "
            f"arn:aws:s3:::{bucket}/{key}, and s3:ListBucket on arn:aws:s3:::{bucket} "
            "(without it S3 answers a missing lock with AccessDenied)"
        )
    if kind == "NoSuchBucket":
        return f"create the bucket {bucket!r}, or fix `lock.bucket` in mpctl.yaml"
    if kind in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return (
            "give boto3 credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
            "or web identity in CI (aws-actions/configure-aws-credentials)"
        )
    if kind in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        return (
            "the AWS credentials are invalid or expired: renew them (aws sts get-caller-identity)"
        )
    return "check the network, `lock.region` and the bucket; the lock was left as it was"


def s3_client(spec: S3Lock) -> Any:
    """boto3's `s3` client for `spec`: boto3's credential chain, its region, its endpoint."""
    try:
        boto3 = importlib.import_module("boto3")
        config = importlib.import_module("botocore.config")
        exceptions = importlib.import_module("botocore.exceptions")
    except ImportError:
        raise LockBackendError("the s3 environment lock needs boto3", hint=_INSTALL_HINT) from None
    quiet_loggers(("botocore", "boto3"))  # at DEBUG they would log the lock requests' bodies
    try:
        return boto3.session.Session(region_name=spec.region).client(
            "s3",
            endpoint_url=spec.endpoint_url,
            config=config.Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=20,
            ),
        )
    except exceptions.BotoCoreError as exc:
        raise LockBackendError(
            f"the s3 environment lock's client could not be made: {type(exc).__name__}",
            hint="set `lock.region` in mpctl.yaml, or AWS_REGION",
        ) from None


def open_s3_lock(spec: S3Lock, *, project: str | None, env_name: str) -> S3EnvironmentLock:
    """The S3 lock of one environment of one project."""
    key = spec.object_key(project=project, env_name=env_name)
    return S3EnvironmentLock(s3_client(spec), spec.bucket, key)
