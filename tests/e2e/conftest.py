"""Fixtures of the apply-safety suite (prepared worlds, fast key material) and its closing counts.

Every fixture here is opt-in: other end-to-end tests in this directory are not affected.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import mpctl.remote.credentials
import mpctl.secrets.keys
from tests.e2e.harness import STATS, World, build_project, copy_world

SMALL_CLIENTS = ("billing-invoices",)
SMALL_SCOPES = ("acme:invoices.read",)
"""The double-crash world: one client with a key, the scope it uses, one access grant."""


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = STATS.summary()
    if lines:
        terminalreporter.section("apply safety: counts for the closing note")
        for line in lines:
            terminalreporter.write_line(line)


@dataclass(frozen=True)
class Templates:
    """Prepared worlds that tests copy, never change: before anything, and converged."""

    fresh: World
    converged: World


def _templates(base: Path, clients: tuple[str, ...], scopes: tuple[str, ...] | None) -> Templates:
    fresh = World(build_project(base / "fresh", clients=clients, scopes=scopes))
    asyncio.run(fresh.plan())  # the emulator's token signing key is made once, here
    converged = copy_world(fresh, base / "converged")
    asyncio.run(converged.converge())
    converged.assert_converged()
    return Templates(fresh, converged)


@pytest.fixture(scope="session")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """The trimmed example project: three clients, three scopes, two access grants."""
    from tests.e2e.harness import DEFAULT_CLIENTS

    return _templates(tmp_path_factory.mktemp("world"), DEFAULT_CLIENTS, None)


@pytest.fixture(scope="session")
def small_worlds(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return _templates(tmp_path_factory.mktemp("small-world"), SMALL_CLIENTS, SMALL_SCOPES)


@pytest.fixture(scope="session")
def key_pool() -> list[rsa.RSAPrivateKey]:
    """Real 2048-bit RSA keys, made once per session."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(16)]


class _PooledRsa:
    """`cryptography`'s rsa module as `mpctl.secrets.keys` sees it, with pooled generation."""

    def __init__(self, pool: list[rsa.RSAPrivateKey]) -> None:
        self._pool = itertools.cycle(pool)

    def __getattr__(self, name: str) -> Any:
        return getattr(rsa, name)

    def generate_private_key(self, *, public_exponent: int, key_size: int) -> rsa.RSAPrivateKey:
        assert (public_exponent, key_size) == (65537, 2048)
        return next(self._pool)


@pytest.fixture
def fast_crypto(monkeypatch: pytest.MonkeyPatch, key_pool: list[rsa.RSAPrivateKey]) -> None:
    """Speed only, for the crash matrices (hundreds of apply runs); no behaviour changes.

    New keys come from a pool of real keys (distinct within any one world: a world makes far
    fewer than 16); PEM parsing is memoised (same bytes, same key); fsync is skipped (a killed
    process keeps the page cache: fsync matters for power loss, which these tests do not model).
    """
    cached = functools.lru_cache(maxsize=512)(serialization.load_pem_private_key)
    monkeypatch.setattr(mpctl.secrets.keys, "rsa", _PooledRsa(key_pool))
    monkeypatch.setattr(serialization, "load_pem_private_key", cached)
    monkeypatch.setattr(mpctl.remote.credentials, "load_pem_private_key", cached)
    monkeypatch.setattr(os, "fsync", lambda descriptor: None)


@pytest.fixture
def project(example_copy: Path) -> Path:
    """The example project with 2048-bit keys (fast) and its own emulator state; tests in this
    directory that need another project define their own `project`."""
    config = example_copy / "mpctl.yaml"
    config.write_text(config.read_text().replace("size: 3072", "size: 2048"))
    return example_copy
