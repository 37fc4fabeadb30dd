"""`environments.<env>.lock` in mpctl.yaml: the local file lock by default, or an S3 object."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mpctl.model.config import LocalLock, ProjectConfig, S3Lock


def config(lock: dict[str, Any] | None, project: str | None = "acme") -> ProjectConfig:
    test: dict[str, Any] = {"digdir": "test"}
    if lock is not None:
        test["lock"] = lock
    document: dict[str, Any] = {
        "organisation": {"orgno": "313367002", "name": "ACME AS"},
        "default_env": "test",
        "environments": {"test": test},
    }
    if project is not None:
        document["project"] = project
    return ProjectConfig.model_validate(document)


@pytest.mark.parametrize("lock", [None, {}, {"backend": "local"}], ids=["absent", "empty", "local"])
def test_the_local_file_lock_is_the_default(lock: dict[str, Any] | None) -> None:
    assert config(lock).environments["test"].lock == LocalLock()


def test_an_s3_lock_is_one_object_per_project_and_environment() -> None:
    spec = config({"backend": "s3", "bucket": "acme-locks", "region": "eu-north-1"})
    lock = spec.environments["test"].lock
    assert isinstance(lock, S3Lock)
    assert lock.object_key(project="acme", env_name="test") == "mpctl/acme/test.lock"
    custom = S3Lock(backend="s3", bucket="acme-locks", key="locks/{env}")
    assert custom.object_key(project=None, env_name="prod") == "locks/prod.lock"


@pytest.mark.parametrize(
    ("lock", "problem"),
    [
        ({"backend": "s3"}, "bucket"),
        ({"backend": "s3", "bucket": "Not_A_Bucket"}, "bucket"),
        ({"backend": "dynamodb", "table": "locks"}, "backend"),
        ({"backend": "local", "bucket": "acme-locks"}, "bucket"),
        ({"backend": "s3", "bucket": "acme-locks", "key": "{client}/x"}, "only {project}"),
        ({"backend": "s3", "bucket": "acme-locks", "key": "/mpctl/{env}"}, "relative path"),
        ({"backend": "s3", "bucket": "acme-locks", "key": "a/../{env}"}, "relative path"),
        (
            {"backend": "s3", "bucket": "acme-locks", "endpoint_url": "https://s3.example.org"},
            "not a loopback address",
        ),
    ],
    ids=[
        "no-bucket",
        "bad-bucket",
        "unknown-backend",
        "local-with-s3-fields",
        "unknown-placeholder",
        "absolute-key",
        "dot-dot-key",
        "remote-endpoint",
    ],
)
def test_a_wrong_lock_block_is_refused(lock: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        config(lock)


def test_a_key_naming_the_project_needs_a_project() -> None:
    with pytest.raises(ValidationError, match="set `project:`"):
        config({"backend": "s3", "bucket": "acme-locks"}, project=None)
    assert config({"backend": "s3", "bucket": "acme-locks", "key": "mpctl/{env}"}, project=None)


def test_a_loopback_endpoint_is_allowed_for_tests() -> None:
    lock = S3Lock(backend="s3", bucket="acme-locks", endpoint_url="http://127.0.0.1:5000")
    assert lock.endpoint_url == "http://127.0.0.1:5000"
