"""Shared fixtures for the secrets tests: RSA keys made once per session (2048 bits)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mpctl.model import FileSink
from mpctl.secrets import FileSecretSink, PrivateKey, SinkContext, generate_key

CREATED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def keys() -> tuple[PrivateKey, PrivateKey, PrivateKey]:
    return tuple(  # type: ignore[return-value]
        generate_key(kid=f"billing-TEST.2026-11-2{i}", created_at=CREATED, size=2048)
        for i in range(1, 4)
    )


@pytest.fixture
def context(tmp_path: Path) -> SinkContext:
    return SinkContext(
        environment="test",
        base_dir=tmp_path,
        issuer="https://test.maskinporten.no/",
        token_endpoint="https://test.maskinporten.no/token",
        environ={},  # not a CI runner, whatever runs the tests (see the CI refusal tests)
    )


@pytest.fixture
def sink(context: SinkContext) -> FileSecretSink:
    return FileSecretSink(FileSink(), context)
