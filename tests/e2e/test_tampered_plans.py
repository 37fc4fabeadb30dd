"""Tampered saved plans: hypothesis edits a real plan file; apply must refuse every changed one.

A plan is made for a trimmed example project against the embedded emulator (`harness.World`),
saved as JSON, and edited the ways an attacker with write access to a plan artifact would:
steps swapped, dropped or duplicated, values in bodies changed, a consumer or client_id
replaced, allow options and `blocked` flipped, the project or environment renamed. An edit
that no longer parses is refused by `Plan.from_json`; one that parses and differs from the
original must be refused by apply before any write (`StalePlanError`), and Digdir must be
unchanged. `MPCTL_TAMPER_EXAMPLES` sets the number of examples (default 150); the long run:

    MPCTL_TAMPER_EXAMPLES=5000 .venv/bin/pytest -q -s tests/e2e/test_tampered_plans.py
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from mpctl.errors import MpctlError, StalePlanError, UserError
from mpctl.plan import Diagnostic, Plan, PlanSummary, Step
from tests.e2e.conftest import Templates
from tests.e2e.harness import World, copy_world

EXAMPLES = int(os.environ.get("MPCTL_TAMPER_EXAMPLES", "150"))
OUTCOMES: Counter[str] = Counter()
STRANGER = "923456783"


def _swap(document: dict[str, Any], i: int, j: int) -> None:
    steps = document["steps"]
    steps[i % len(steps)], steps[j % len(steps)] = steps[j % len(steps)], steps[i % len(steps)]


def _drop(document: dict[str, Any], i: int, _: int) -> None:
    del document["steps"][i % len(document["steps"])]


def _duplicate(document: dict[str, Any], i: int, _: int) -> None:
    steps = document["steps"]
    steps.append(json.loads(json.dumps(steps[i % len(steps)])))


def _body_value(document: dict[str, Any], i: int, j: int) -> None:
    bodies = [s["body"] for s in document["steps"] if s.get("body")]
    if not bodies:
        return
    body = bodies[i % len(bodies)]
    key = sorted(body)[j % len(body)]
    value = body[key]
    if isinstance(value, bool):
        body[key] = not value
    elif isinstance(value, int):
        body[key] = value + 1
    elif isinstance(value, str):
        body[key] = value + " (edited)"
    elif isinstance(value, list):
        body[key] = [*value, "acme:invoices.write"]


def _stranger(document: dict[str, Any], i: int, _: int) -> None:
    access = [s for s in document["steps"] if s["kind"] == "access"]
    if access:
        step = access[i % len(access)]
        step["address"] = step["address"].rsplit("/", 1)[0] + "/" + STRANGER


def _client_id(document: dict[str, Any], i: int, j: int) -> None:
    steps = document["steps"]
    ids = sorted({s["client_id"] for s in steps if s.get("client_id")})
    if ids:
        steps[i % len(steps)]["client_id"] = ids[j % len(ids)]


def _option(document: dict[str, Any], i: int, _: int) -> None:
    names = ("allow_delete", "allow_replace", "allow_protected")
    name = names[i % len(names)]
    document["options"][name] = not document["options"][name]


def _blocked(document: dict[str, Any], i: int, _: int) -> None:
    step = document["steps"][i % len(document["steps"])]
    step["blocked"] = not step["blocked"]


def _rename(document: dict[str, Any], i: int, _: int) -> None:
    field = ("project", "env_name")[i % 2]
    document[field] = document[field] + "x"


def _phases(document: dict[str, Any], i: int, _: int) -> None:
    keys = [s for s in document["steps"] if s.get("key")]
    if keys:
        phases = keys[i % len(keys)]["key"]["phases"]
        if "test" in phases:
            phases.remove("test")


EDITS = {
    f.__name__.lstrip("_"): f
    for f in (
        _swap,
        _drop,
        _duplicate,
        _body_value,
        _stranger,
        _client_id,
        _option,
        _blocked,
        _rename,
        _phases,
    )
}
EDIT = st.tuples(st.sampled_from(sorted(EDITS)), st.integers(0, 50), st.integers(0, 50))


def test_every_tampered_plan_is_refused_before_any_write(worlds: Templates, tmp_path: Path) -> None:
    world = copy_world(worlds.fresh, tmp_path / "world")
    original = asyncio.run(world.plan())
    assert len(original.steps) > 5
    text = original.to_json()
    before = world.remote_state()
    OUTCOMES.clear()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=EXAMPLES <= 150,
    )
    @given(edits=st.lists(EDIT, min_size=1, max_size=3))
    def tampered(edits: list[tuple[str, int, int]]) -> None:
        document = json.loads(text)
        for name, i, j in edits:
            EDITS[name](document, i, j)
        _fix_summary(document)  # an attacker makes the file consistent again
        try:
            plan = Plan.from_json(json.dumps(document))
        except (ValueError, MpctlError):
            OUTCOMES["refused when read"] += 1
            return
        if plan == original:
            OUTCOMES["no change"] += 1
            return
        _refused(world, plan)
        assert world.remote_state() == before

    tampered()
    print(f"\ntampered plans: {dict(sorted(OUTCOMES.items()))}")
    refused = sum(n for outcome, n in OUTCOMES.items() if outcome.startswith("refused by apply"))
    assert refused > EXAMPLES // 3


def _fix_summary(document: dict[str, Any]) -> None:
    try:
        steps = [TypeAdapter(Step).validate_python(step) for step in document["steps"]]
        found = [Diagnostic.model_validate(d) for d in document["diagnostics"]]
    except ValueError:
        return
    unchanged = document["summary"]["unchanged"]
    document["summary"] = PlanSummary.of(steps, found, unchanged=unchanged).model_dump(mode="json")


def _refused(world: World, plan: Plan) -> None:
    try:
        asyncio.run(world.run(plan=plan))
    except StalePlanError:
        OUTCOMES["refused by apply: not what is called for"] += 1
        return
    except UserError as exc:
        OUTCOMES[f"refused by apply: {exc.message.split(';')[0]}"] += 1
        return
    raise AssertionError("a tampered plan was applied")
