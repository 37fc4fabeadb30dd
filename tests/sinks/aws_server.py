"""A real AWS Secrets Manager protocol on loopback: moto's server in a thread, for any test.

Owns starting and stopping `moto.server.ThreadedMotoServer` on 127.0.0.1 (a free port), the
dummy credentials boto3 needs to sign requests to it, the reset between tests, and failures
injected through botocore's own event system (`WriteFailures`). Tests talk to it with real boto3
over HTTP (`endpoint_url`), exactly as mpctl's sink does. Must not be imported by mpctl itself.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]

from mpctl.model import AwsSecretsManagerSink

REGION = "eu-north-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
"""Dummy credentials: moto checks the signature's shape, not the secret."""


WRITES = frozenset(
    {"CreateSecret", "PutSecretValue", "UpdateSecretVersionStage", "TagResource", "UntagResource"}
)


class _Body:
    """The raw body botocore reads from an injected response."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def injected(
    url: str, status: int = 500, code: str = "InternalServiceError", message: str = "injected"
) -> AWSResponse:
    """An answer as Secrets Manager gives it (JSON 1.1 error body), made on the client side."""
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "injected"}
    return AWSResponse(url, status, headers, _Body(body))


class WriteFailures:
    """A `before-send` handler (botocore's event system, so the real client's retries and
    error parsing run): write requests after the next `budget` get `answer` (a 500)."""

    def __init__(
        self,
        status: int = 500,
        code: str = "InternalServiceError",
        message: str = "injected",
        operations: frozenset[str] = WRITES,
    ) -> None:
        self.budget: int | None = None
        self.failed = 0
        self.answer = (status, code, message)
        self.operations = operations

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        if event_name.rsplit(".", 1)[-1] not in self.operations or self.budget is None:
            return None
        if self.budget > 0:
            self.budget -= 1
            return None
        self.failed += 1
        return injected(request.url, *self.answer)


def aws_spec(url: str, name: str) -> AwsSecretsManagerSink:
    return AwsSecretsManagerSink.model_validate(
        {"type": "aws-secrets-manager", "secret_name": name, "region": REGION, "endpoint_url": url}
    )


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's server on 127.0.0.1 (a free port); yields its URL, stops it after."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset(url: str) -> None:
    """Forget every secret the server holds (moto's own reset endpoint)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def use_dummy_credentials(monkeypatch: pytest.MonkeyPatch, home: str) -> None:
    """boto3's chain sees only the dummy credentials (never the user's own config)."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{home}/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{home}/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server per test session (tests use distinct secret names, or `reset`)."""
    with moto_server() as url:
        yield url
