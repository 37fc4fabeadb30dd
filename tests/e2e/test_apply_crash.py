"""Crash at every external write, then re-run: the same end state, invariants at every call (L2).

Each crash point gets its own copy of a prepared world. The uninterrupted run of the same
scenario is the reference: its sequence of writes names the crash points, its end state is what
every crashed-and-recovered world must reach. Re-runs plan from a fresh observation.

Scenarios: `provision` (the example project trimmed to three clients: clients, first keys,
scopes, access) and `rotation` (91 days later every key rotates; a day after that, past the
grace, the old keys are retired).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import Templates
from tests.e2e.harness import (
    AFTER_GRACE,
    POSITIONS,
    ROTATE,
    STATS,
    CrashPoint,
    Durable,
    InvariantViolation,
    Position,
    Problem,
    Run,
    World,
    copy_world,
    shape_problems,
)

pytestmark = pytest.mark.usefixtures("fast_crypto")

SCENARIOS: dict[str, tuple[timedelta, ...]] = {
    "provision": (timedelta(0),),
    "rotation": (ROTATE, AFTER_GRACE - ROTATE),
}
"""Clock jumps; after each, apply runs until a fresh plan is empty."""


def template_of(templates: Templates, scenario: str) -> World:
    return templates.fresh if scenario == "provision" else templates.converged


async def play(world: World, scenario: str) -> list[Run]:
    runs = []
    for jump in SCENARIOS[scenario]:
        world.clock.jump(jump)
        runs += await world.converge(max_runs=5)
    return runs


async def reference(template: World, directory: Path, scenario: str) -> World:
    world = copy_world(template, directory)
    runs = await play(world, scenario)
    assert not any(run.crashed for run in runs)
    world.assert_converged()
    return world


async def crash_case(template: World, directory: Path, scenario: str, *points: CrashPoint) -> World:
    world = copy_world(template, directory)
    world.arm(*points)
    await play(world, scenario)
    return world


def outcome_problems(world: World, expected: World, fired: int) -> list[Problem]:
    problems = []
    if len(world.crashes_fired) != fired:
        problems.append(Problem("not-fired", f"{len(world.crashes_fired)} of {fired} fired"))
    problems += world.convergence_problems()
    problems += shape_problems(world.shape(), expected.shape())
    if world.checker.violations:
        problems.append(Problem("invariant", "; ".join(world.checker.violations)))
    return problems


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_crash_at_every_write_then_rerun_converges(
    worlds: Templates, tmp_path: Path, scenario: str, position: Position
) -> None:
    """Every crash point converges to the reference end state, with every invariant held."""
    template = template_of(worlds, scenario)
    expected = await reference(template, tmp_path / "reference", scenario)
    writes = expected.writes
    assert {w.target for w in writes} == {"digdir", "sink"}
    failures = []
    for index, write in enumerate(writes):
        point = CrashPoint(index, position)
        directory = tmp_path / f"crash-{index}"
        try:
            world = await crash_case(template, directory, scenario, point)
            problems = outcome_problems(world, expected, 1)
            fired = [event.label for _, event in world.crashes_fired]
            if fired and fired != [write.label]:
                problems.append(Problem("order", f"crashed at {fired}, not at {write.label}"))
        except (AssertionError, InvariantViolation) as exc:
            problems = [Problem("error", f"{type(exc).__name__}: {exc}")]
        shutil.rmtree(directory, ignore_errors=True)
        STATS.crash_points[f"single/{scenario}"] += 1
        if problems:
            failures.append(f"{point} ({write.label}): {[str(p) for p in problems]}")
    assert not failures, "\n".join(failures)


def first_crash_points(writes: int) -> list[CrashPoint]:
    return [CrashPoint(i, p) for i in range(writes) for p in POSITIONS]


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_second_crash_during_recovery_then_rerun_converges(
    small_worlds: Templates, tmp_path: Path, scenario: str
) -> None:
    """Crash once; in the recovery, crash again at every write and position; then converge.

    First crash points that leave the same durable state (e.g. "before write n" and "after the
    response of write n-1") lead to the same recovery, so each distinct state is explored once.
    """
    template = template_of(small_worlds, scenario)
    expected = await reference(template, tmp_path / "reference", scenario)
    explored: set[Durable] = set()
    failures: list[str] = []
    cases = 0
    for first in first_crash_points(len(expected.writes)):
        directory = tmp_path / f"first-{first.index}-{first.position}"
        single = await crash_case(template, directory, scenario, first)
        shutil.rmtree(directory, ignore_errors=True)
        state = single.crash_states[0]
        if state in explored:
            continue
        explored.add(state)
        recovery = len(single.writes) - 1 - first.index
        for second in first_crash_points(recovery):
            problems = await _double(
                template, tmp_path / "double", scenario, expected, first, second
            )
            cases += 1
            if problems:
                failures.append(f"{first} then {second}: {[str(p) for p in problems]}")
    STATS.crash_points[f"double/{scenario}"] += cases
    STATS.facts[f"double crash ({scenario}, 1 client)"] = (
        f"{len(explored)} distinct first-crash states, {cases} second crash points"
    )
    assert cases > 0
    assert not failures, "\n".join(failures)


async def _double(
    template: World,
    directory: Path,
    scenario: str,
    expected: World,
    *points: CrashPoint,
) -> list[Problem]:
    try:
        world = await crash_case(template, directory, scenario, *points)
        return outcome_problems(world, expected, len(points))
    except (AssertionError, InvariantViolation) as exc:
        return [Problem("error", f"{type(exc).__name__}: {exc}")]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_crash_points_are_the_writes_of_an_uninterrupted_run(
    worlds: Templates, tmp_path: Path
) -> None:
    """The matrix is complete: every write of each scenario is a crash point, in a stable order."""
    sequences: dict[str, Sequence[str]] = {}
    for scenario in SCENARIOS:
        first = await reference(template_of(worlds, scenario), tmp_path / f"{scenario}-1", scenario)
        again = await reference(template_of(worlds, scenario), tmp_path / f"{scenario}-2", scenario)
        sequences[scenario] = [w.label for w in first.writes]
        assert sequences[scenario] == [w.label for w in again.writes]
    provision = sequences["provision"]
    assert provision.count("POST /api/v1/clients") == 3
    assert provision.count("POST /api/v1/clients/{id}/jwks") == 3
    assert provision.count("sink.stage") == provision.count("sink.promote") == 3
    assert provision.count("POST /api/v1/scopes") == 3
    assert sequences["rotation"].count("sink.forget_previous") == 3


async def test_crash_mid_retire_then_rerun_forgets_the_previous_key(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """Regression: the retire's JWKS write landed, the process died before the sink's
    `forget_previous`. A re-run must finish the retire (the planner plans a label-only retire for
    a previous key that is no longer registered) so the next rotation can promote.
    """
    world = copy_world(small_worlds.converged, tmp_path / "world")
    world.clock.jump(ROTATE)
    await world.converge()
    world.clock.jump(AFTER_GRACE - ROTATE)
    world.arm(CrashPoint(0, Position.AFTER_RESPONSE))  # the retiring JWKS POST
    runs = await world.converge()
    assert runs[0].crashed is not None
    assert [e.label for _, e in world.crashes_fired] == ["POST /api/v1/clients/{id}/jwks"]
    left = [str(p) for p in world.convergence_problems()]

    world.clock.jump(ROTATE)  # the next rotation is due
    next_rotation = await world.run()
    failed = [o.message for o in next_rotation.report.failed] if next_rotation.report else []
    assert (left, failed) == ([], [])


async def test_crash_between_sink_json_and_env_file_is_healed_by_a_rerun(
    small_worlds: Templates, tmp_path: Path
) -> None:
    """Regression: a crash between the sink's two files during promote. The sink writes the
    `.env` before the JSON, so the workload's `.env` is never left behind the record of truth.
    """
    world = copy_world(small_worlds.fresh, tmp_path / "world")
    labels = [
        w.label for w in (await reference(small_worlds.fresh, tmp_path / "ref", "provision")).writes
    ]
    world.arm(CrashPoint(labels.index("sink.promote"), Position.AFTER_SEND))
    runs = await world.converge()
    assert runs[0].crashed is not None
    assert not runs[-1].plan.steps
    assert [str(p) for p in world.convergence_problems()] == []
