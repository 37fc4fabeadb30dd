"""The shared sink behaviour (`tests.sinks.suite`) for the local file sink.

The store is a directory; a failed write is an `OSError` from the atomic write itself (disk
full), which the sink reports and which leaves the previous file in place; the workload reads
`<client>.env` as python-dotenv (and so Docker Compose and most dotenv libraries) loads it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

import mpctl.files
from mpctl.model import FileSink
from mpctl.secrets import BlockingSecretSink, FileSecretSink, SinkContext
from tests.sinks.suite import *  # noqa: F403 (the shared behaviour runs here)
from tests.sinks.suite import CLIENT, StoreUnderTest


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StoreUnderTest:
    context = SinkContext("test", tmp_path, "https://test.maskinporten.no/", "https://t/token")
    budget: list[int | None] = [None]
    real_write = mpctl.files.write_atomically

    def write(path: Path, data: bytes, **kwargs: object) -> None:
        left = budget[0]
        if left is not None:
            if left <= 0:
                raise OSError(28, "No space left on device")
            budget[0] = left - 1
        real_write(path, data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("mpctl.secrets.atomic.write_atomically", write)

    def opened() -> BlockingSecretSink:
        return FileSecretSink(FileSink(), context)

    def fail_writes(after: int) -> None:
        budget[0] = after

    def heal() -> None:
        budget[0] = None

    def workload() -> dict[str, str]:
        env = FileSecretSink(FileSink(), context).env_path(CLIENT)
        return {k: v for k, v in dotenv_values(env).items() if v is not None}

    return StoreUnderTest(
        open=opened, fail_writes=fail_writes, heal=heal, workload=workload, kind="file"
    )
