"""How old a client listing apply's creates may trust, by who else can write the environment.

Every run takes the same lock with the S3 backend, and with an embedded emulator (its state
lives in the same `.mpctl/` as the local lock): the stale-plan check's listing serves the whole
run. A local lock beside a real or served Digdir binds only this machine's runs, so another
run may create a client meanwhile: each create looks in a listing begun after it asked, and a
run of many creates says what the S3 lock would save.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import cast

import pytest

from mpctl.cli.environment import Workspace
from mpctl.cli.locking import MANY_CREATES, client_listing_max_age, listing_advice


def workspace(*, backend: str, embedded: bool) -> Workspace:
    environment = SimpleNamespace(
        lock=SimpleNamespace(backend=backend), emulator=object() if embedded else None
    )
    return cast(Workspace, SimpleNamespace(environment=environment))


@pytest.mark.parametrize(
    ("backend", "embedded", "age"),
    [("s3", False, math.inf), ("local", True, math.inf), ("local", False, 0.0)],
)
def test_the_listing_age_follows_who_shares_the_lock(
    backend: str, embedded: bool, age: float
) -> None:
    assert client_listing_max_age(workspace(backend=backend, embedded=embedded)) == age


def test_many_creates_under_a_local_lock_get_a_note_naming_the_s3_lock() -> None:
    advice = listing_advice(MANY_CREATES, 0.0)
    assert advice is not None
    assert f"{MANY_CREATES} new clients" in advice
    assert "backend: s3" in advice


@pytest.mark.parametrize(("creates", "age"), [(MANY_CREATES - 1, 0.0), (5000, math.inf)])
def test_few_creates_or_a_shared_lock_get_no_note(creates: int, age: float) -> None:
    assert listing_advice(creates, age) is None
