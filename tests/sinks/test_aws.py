"""The shared sink behaviour (`tests.sinks.suite`) for AWS Secrets Manager, on moto's server.

The store is moto's Secrets Manager server on 127.0.0.1, spoken to by real boto3 over HTTP;
every test gets its own secret name (a fresh, empty store). A failed write is a 500 answered by
botocore's own event system (`before-send`) for write operations, so the real client's retry and
error path runs; the workload reads AWSCURRENT with a plain boto3 client, as a workload would.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest

from mpctl.secrets import BlockingSecretSink, SinkContext
from mpctl.secrets.aws import AwsSecretsManagerSecretSink, open_aws_sink
from tests.sinks.aws_server import (
    REGION,
    WriteFailures,
    aws_spec,
    moto_url,
    use_dummy_credentials,
)
from tests.sinks.suite import *  # noqa: F403 (the shared behaviour runs here)
from tests.sinks.suite import CLIENT, StoreUnderTest

__all__ = ["moto_url"]


@pytest.fixture
def store(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StoreUnderTest:
    use_dummy_credentials(monkeypatch, str(tmp_path))
    prefix = f"mpctl/{uuid.uuid4().hex[:12]}"
    spec = aws_spec(moto_url, prefix + "/{env}/{client}")
    context = SinkContext("test", tmp_path, "https://test.maskinporten.no/", "https://t/token")
    failures = WriteFailures()

    def opened() -> BlockingSecretSink:
        sink = open_aws_sink(spec, context)
        sink.client.meta.events.register("before-send.secrets-manager", failures)
        return sink

    def fail_writes(after: int) -> None:
        failures.budget = after

    def heal() -> None:
        failures.budget = None

    def workload() -> dict[str, str]:
        plain = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)
        # VersionStage=AWSCURRENT is AWS's default; moto 5.2.5 forgets to move its default when
        # UpdateSecretVersionStage moves AWSCURRENT, so it is named here.
        answer = plain.get_secret_value(
            SecretId=f"{prefix}/test/{CLIENT}", VersionStage="AWSCURRENT"
        )
        document = json.loads(answer["SecretString"])
        return {k: v for k, v in document.items() if isinstance(v, str)}

    return StoreUnderTest(
        open=opened,
        fail_writes=fail_writes,
        heal=heal,
        workload=workload,
        kind="aws-secrets-manager",
    )


def test_the_sink_is_the_aws_one(store: StoreUnderTest) -> None:
    """The suite above really ran against Secrets Manager's protocol (not a file sink)."""
    sink = store.open()
    assert isinstance(sink, AwsSecretsManagerSecretSink)
    assert sink.client.meta.endpoint_url.startswith("http://127.0.0.1:")
