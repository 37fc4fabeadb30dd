"""The crash matrix for updates and deletes: die at every write of a destructive apply, re-run.

One apply whose plan holds a client update (description and scopes), a scope update and a
client replace (integration_type changed, key moved to the new client), a client delete, a scope
delete and an access revocation. The uninterrupted run is the reference; for every one of its
writes and every position (before sending, after sending with the answer lost, after the
response) a copy of the world dies there, then apply runs again until a fresh plan is empty.
Each must reach the reference's end state with no duplicate client (active or not), no lost
access (the grant that stays declared is approved at the crash and at the end), the sink and
the workload's .env on the live client, and every invariant held at every call.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.conftest import Templates
from tests.e2e.harness import (
    POSITIONS,
    STATS,
    CrashPoint,
    InvariantViolation,
    Position,
    Problem,
    World,
    copy_world,
    shape_problems,
)
from tests.e2e.test_executors_clients import (
    ALLOW_ALL,
    DELETE_SUPPLIER,
    REPLACE_BILLING,
    SCOPES,
    UPDATE_ALTINN,
    drop_document,
    edited_world,
    exempt_from_s1,
    replace_text,
)

pytestmark = pytest.mark.usefixtures("fast_crypto")

KEPT_ACCESS = ("acme:invoices.read", "910753614", "APPROVED")
CHANGES = (
    *UPDATE_ALTINN,
    *REPLACE_BILLING,
    DELETE_SUPPLIER,
    drop_document(SCOPES, "acme:invoices.write"),
    replace_text(
        SCOPES,
        'delegation_source: altinn\nconsumers: ["910753614"]',
        "delegation_source: altinn\nconsumers: []",
    ),
)
REPLACED = "billing-invoices"


def world_copy(template: World, directory: Path) -> World:
    world = copy_world(template, directory)
    exempt_from_s1(world, REPLACED)  # the replace deletes the client its workload signs for
    return world


async def converge(world: World) -> None:
    await world.converge(options=ALLOW_ALL, max_runs=4)


def markers(world: World) -> Counter[str]:
    """How many clients carry each marker, deactivated ones included."""
    return Counter(c.name for c in world.remote_state() if c.name is not None)


def live_problems(world: World) -> list[Problem]:
    """One active client per name, and its sink and .env name it with the current key."""
    problems = []
    active = Counter(c.name for c in world.remote_state() if c.name and c.active)
    problems += [Problem("duplicate", f"{n}: {k} active") for n, k in active.items() if k != 1]
    by_name = {c.name: c for c in world.remote_state() if c.name and c.active}
    for name, state in sorted(world.sink_states().items()):
        client = by_name.get(name)
        if client is None or state.current is None:
            problems.append(Problem("missing", f"{name}: no active client or no current key"))
            continue
        if state.client_id != client.client_id or world.workloads().get(name) != (
            client.client_id,
            state.current.kid,
        ):
            problems.append(Problem("sink", f"{name}: the sink or .env names another client"))
        if dict(client.keys) != {state.current.kid: state.current.thumbprint}:
            problems.append(Problem("keys", f"{name}: registered {sorted(client.keys)}"))
    return problems


def outcome_problems(world: World, expected: World) -> list[Problem]:
    problems = live_problems(world)
    problems += shape_problems(world.shape(), expected.shape())
    if markers(world) != markers(expected):
        problems.append(Problem("markers", f"{markers(world)} != {markers(expected)}"))
    lost = [s for s in world.crash_states if KEPT_ACCESS not in s.shape.access]
    if lost:
        problems.append(Problem("lost-access", f"{KEPT_ACCESS} not approved at the crash"))
    if world.checker.violations:
        problems.append(Problem("invariant", "; ".join(world.checker.violations)))
    return problems


@pytest.fixture(scope="module")
def changed(worlds: Templates, tmp_path_factory: pytest.TempPathFactory) -> World:
    """The converged example with the destructive edits made to its manifests (never applied)."""
    return edited_world(worlds.converged, tmp_path_factory.mktemp("changed") / "world", *CHANGES)


async def test_the_reference_run_holds_every_destructive_step(
    changed: World, tmp_path: Path
) -> None:
    reference = world_copy(changed, tmp_path / "reference")
    await converge(reference)
    assert [w.label for w in reference.writes] == [
        "PUT /api/v1/clients/{id}",  # altinn-sync: description and scopes
        "PUT /api/v1/scopes",  # acme:invoices.read accepts api_klient
        "DELETE /api/v1/clients/{id}",  # billing-invoices replaced: the old one goes...
        "POST /api/v1/clients",  # ...then the new one is made
        "sink.set_client_id",
        "POST /api/v1/clients/{id}/jwks",  # the current key registered on the new client
        "DELETE /api/v1/clients/{id}",  # reelle-supplier
        "DELETE /api/v1/scopes",  # acme:invoices.write
        "DELETE /api/v1/scopes/access/910753614",  # acme:reports/monthly's consumer
    ]
    assert live_problems(reference) == []
    assert KEPT_ACCESS in reference.shape().access
    assert markers(reference) == Counter(
        {"altinn-sync": 1, "billing-invoices": 2, "reelle-supplier": 1}
    )


@pytest.mark.parametrize("position", POSITIONS)
async def test_crash_at_every_write_of_updates_and_deletes_then_rerun_converges(
    changed: World, tmp_path: Path, position: Position
) -> None:
    expected = world_copy(changed, tmp_path / "reference")
    await converge(expected)
    failures = []
    for index, write in enumerate(expected.writes):
        directory = tmp_path / f"crash-{index}"
        try:
            world = world_copy(changed, directory)
            world.arm(CrashPoint(index, position))
            await converge(world)
            fired = [event.label for _, event in world.crashes_fired]
            problems = [] if fired == [write.label] else [Problem("fired", f"{fired}")]
            problems += outcome_problems(world, expected)
        except (AssertionError, InvariantViolation) as exc:
            problems = [Problem("error", f"{type(exc).__name__}: {exc}")]
        shutil.rmtree(directory, ignore_errors=True)
        STATS.crash_points["single/updates-and-deletes"] += 1
        if problems:
            failures.append(f"write #{index} {position} ({write.label}): {problems}")
    assert not failures, "\n".join(failures)
