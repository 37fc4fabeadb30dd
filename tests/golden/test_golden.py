"""Rendered plans checked byte for byte; MPCTL_UPDATE_GOLDEN=1 rewrites them (review the diff)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mpctl.plan import PlanOptions
from mpctl.render import build_document, render_human, render_json, render_markdown
from mpctl.render.document import PlanDocument
from tests.unit.plan import scenario

HERE = Path(__file__).parent
UPDATE = os.environ.get("MPCTL_UPDATE_GOLDEN") == "1"


def _scenario() -> PlanDocument:
    return build_document(scenario.plan())


def _allowed() -> PlanDocument:
    options = PlanOptions(allow_delete=True, allow_replace=True, targets=("billing", "ledger"))
    return build_document(scenario.plan(options))


CASES: dict[str, Callable[[], str]] = {
    "plan.txt": lambda: render_human(_scenario()),
    "plan.color.txt": lambda: render_human(_scenario(), color=True),
    "plan.md": lambda: render_markdown(_scenario()),
    "plan.json": lambda: render_json(_scenario()),
    "targeted.txt": lambda: render_human(_allowed()),
    "targeted.md": lambda: render_markdown(_allowed()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    rendered = CASES[name]().encode("utf-8")
    golden = HERE / name
    if UPDATE:
        golden.write_bytes(rendered)
        pytest.skip(f"rewrote {golden.name}")
    assert rendered == golden.read_bytes()
