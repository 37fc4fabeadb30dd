"""Shared fixtures for the verify tests: RSA keys made once per session (2048 bits)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mpctl.secrets import PrivateKey, generate_key

CREATED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def key() -> PrivateKey:
    return generate_key(kid="billing-TEST.2026-11-21", created_at=CREATED, size=2048)


@pytest.fixture(scope="session")
def other_key() -> PrivateKey:
    return generate_key(kid="other-TEST.2026-11-21", created_at=CREATED, size=2048)
