"""The scope and access executors through the real path: manifests → plan → apply → emulator.

Covered: a scope update (managed fields change, fields mpctl does not manage survive the PUT),
a scope delete (Digdir only deactivates it; its access records stay), a scope create that meets
the deactivated scope (POST answers 409: it is reactivated by PUT), access revocation (held
without --allow-delete, done with it), and a 404 on revoke or on scope delete counting as done.
Every test ends with a fresh plan that is empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mpctl.apply import Status
from mpctl.emulator.state import AccessRecord
from mpctl.plan import PlanOptions
from tests.e2e.conftest import Templates
from tests.e2e.harness import World
from tests.e2e.test_executors_clients import (
    SCOPES,
    BeforeStep,
    applied,
    apply_once,
    assert_plan_is_empty,
    drop_document,
    edited_world,
    reopened,
    replace_text,
    statuses,
    steps,
)

pytestmark = pytest.mark.usefixtures("fast_crypto")

CONSUMER = "910753614"
MONTHLY = "acme:reports/monthly"
DELETE_MONTHLY = drop_document(SCOPES, MONTHLY)
REVOKE_INVOICES_READ = replace_text(
    SCOPES, f'at_max_age: 120\nconsumers: ["{CONSUMER}"]', "at_max_age: 120\nconsumers: []"
)


def stored_scope(world: World, name: str) -> dict[str, Any]:
    with world.emulator.store.read() as state:
        dumped: dict[str, Any] = state.scopes[name].model_dump(mode="json")
        return dumped


def access_state(world: World, scope: str) -> str | None:
    with world.emulator.store.read() as state:
        record = state.access.get(AccessRecord.key(scope, CONSUMER))
        return None if record is None else str(record.state)


async def test_scope_update_changes_managed_fields_and_keeps_the_rest(
    worlds: Templates, tmp_path: Path
) -> None:
    name = "acme:invoices.write"
    world = edited_world(
        worlds.converged,
        tmp_path / "world",
        replace_text(SCOPES, "Create and cancel invoices", "Create, change and cancel invoices"),
        replace_text(SCOPES, "at_max_age: 120\nconsumers: []", "at_max_age: 60\nconsumers: []"),
    )
    with world.emulator.store.write() as state:  # set in Samarbeidsportalen, not by mpctl
        state.scopes[name].enforced_aud_for_access_token = "https://api.acme.example/invoices"

    plan = await world.plan()
    assert steps(plan) == [(f"scope/{name}", "update")]
    report = await applied(world)
    assert statuses(report) == {f"scope/{name}": Status.DONE}
    assert [w.label for w in world.writes] == ["PUT /api/v1/scopes"]
    stored = stored_scope(world, name)
    assert stored["description"] == "Create, change and cancel invoices at ACME AS"
    assert stored["at_max_age"] == 60
    assert stored["enforced_aud_for_access_token"] == "https://api.acme.example/invoices"
    assert stored["active"] is True
    await assert_plan_is_empty(world)


async def test_scope_delete_deactivates_and_declaring_it_again_reactivates_through_409(
    worlds: Templates, tmp_path: Path
) -> None:
    world = edited_world(worlds.converged, tmp_path / "world", DELETE_MONTHLY)
    original = (worlds.converged.directory / SCOPES).read_text(encoding="utf-8")

    report = await applied(world, PlanOptions(allow_delete=True))
    assert statuses(report) == {f"scope/{MONTHLY}": Status.DONE}
    assert [w.label for w in world.writes] == ["DELETE /api/v1/scopes"]
    assert stored_scope(world, MONTHLY)["active"] is False  # Digdir only deactivates
    assert access_state(world, MONTHLY) == "APPROVED"  # kept with the deactivated scope
    await assert_plan_is_empty(world)

    # The planner sees deactivated scopes and plans an update (PUT active: true), so the
    # create's 409 happens only in a race: the scope is missing from the observation and is
    # there, deactivated, when the POST arrives (another run created and deleted it meanwhile).
    (world.directory / SCOPES).write_text(original, encoding="utf-8")
    world = reopened(world)
    with world.emulator.store.write() as state:
        hidden = state.scopes.pop(MONTHLY)
    race = BeforeStep(world, {f"scope/{MONTHLY}": lambda s: s.scopes.update({MONTHLY: hidden})})
    plan, report = await apply_once(world, PlanOptions(), race)
    assert race.fired == [f"scope/{MONTHLY}"]
    assert steps(plan) == [
        (f"scope/{MONTHLY}", "create"),
        (f"scope/{MONTHLY}/access/{CONSUMER}", "create"),
    ]
    assert statuses(report) == {
        f"scope/{MONTHLY}": Status.DONE,
        f"scope/{MONTHLY}/access/{CONSUMER}": Status.DONE,
    }
    assert [w.label for w in world.writes] == [
        "POST /api/v1/scopes",  # answered 409: the name exists, deactivated
        "PUT /api/v1/scopes",  # so it is converged (and reactivated) in place
        f"PUT /api/v1/scopes/access/{CONSUMER}",
    ]
    stored = stored_scope(world, MONTHLY)
    assert stored["active"] is True
    assert stored["at_max_age"] == 300
    assert access_state(world, MONTHLY) == "APPROVED"
    await assert_plan_is_empty(world)


async def test_access_revocation_is_held_without_allow_delete_then_done(
    worlds: Templates, tmp_path: Path
) -> None:
    scope = "acme:invoices.read"
    address = f"scope/{scope}/access/{CONSUMER}"
    world = edited_world(worlds.converged, tmp_path / "world", REVOKE_INVOICES_READ)

    held = await applied(world, PlanOptions())
    assert statuses(held) == {address: Status.HELD}
    assert world.writes == []
    assert access_state(world, scope) == "APPROVED"

    report = await applied(world, PlanOptions(allow_delete=True))
    assert statuses(report) == {address: Status.DONE}
    assert [w.label for w in world.writes] == [f"DELETE /api/v1/scopes/access/{CONSUMER}"]
    assert access_state(world, scope) == "DENIED"
    await assert_plan_is_empty(world)


async def test_revoke_and_scope_delete_answered_404_count_as_done(
    worlds: Templates, tmp_path: Path
) -> None:
    scope = "acme:invoices.read"
    access = f"scope/{scope}/access/{CONSUMER}"
    world = edited_world(worlds.converged, tmp_path / "world", REVOKE_INVOICES_READ, DELETE_MONTHLY)
    purge = BeforeStep(
        world,
        {
            access: lambda s: s.access.pop(AccessRecord.key(scope, CONSUMER)),
            f"scope/{MONTHLY}": lambda s: s.scopes.pop(MONTHLY),
        },
    )
    _, report = await apply_once(world, PlanOptions(allow_delete=True), purge)
    assert sorted(purge.fired) == [access, f"scope/{MONTHLY}"]
    assert statuses(report) == {access: Status.UNCHANGED, f"scope/{MONTHLY}": Status.UNCHANGED}
    assert report.ok
    assert report.writes == 0
    assert len(world.writes) == 2  # both DELETEs were sent and answered 404
    await assert_plan_is_empty(world)
