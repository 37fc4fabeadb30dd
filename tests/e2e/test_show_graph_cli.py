"""`mpctl show`, `mpctl graph` and what `mpctl plan --out` saves, through the real CLI.

Every command runs as its own process (`python -m mpctl`) on a copy of the example project with
no `.mpctl/` (its `local` environment plans against the embedded emulator). Checked: `show F`
prints byte for byte what `plan --out F` printed, in each format, loads nothing of the network
side and writes nothing; a damaged, edited or old-format file is refused with apply's own error;
`graph` draws the saved plan and a fresh one alike; `plan --out` does not save a plan apply
refuses whatever the flags, and calls one whose errors hold back every step "for review only".
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_MANIFESTS
from tests.e2e.processes import SAFETY_TIMEOUT

REMOTE_SIDE = ("httpx", "mpctl.remote", "mpctl.emulator", "mpctl.apply", "mpctl.state")
RUN_AND_LIST_MODULES = """
import runpy, sys
sys.argv = ["mpctl", *sys.argv[1:]]
try:
    runpy.run_module("mpctl", run_name="__main__")
finally:
    print("modules:", " ".join(sorted(sys.modules)), file=sys.stderr)
"""
STRANGER = """\
kind: Client
name: stranger
description: Asks for a scope nobody granted ACME
scopes: [other:secret]
"""


def _environ() -> dict[str, str]:
    environ = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    for name in ("MPCTL_ENV", "MPCTL_MANIFESTS", "MPCTL_NOW"):
        environ.pop(name, None)
    return environ


def mpctl(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
        env=_environ(),
    )


@pytest.fixture
def work(example_copy: Path) -> Path:
    """The directory holding the example copy as `manifests/` (mpctl's default)."""
    assert example_copy.name == "manifests"
    return example_copy.parent


@pytest.fixture
def elsewhere(work: Path) -> Path:
    """An empty directory: no project, no `.mpctl/`."""
    directory = work / "elsewhere"
    directory.mkdir()
    return directory


@dataclass(frozen=True)
class Saved:
    """A plan saved by `plan --out` from a project that no test changes."""

    project: Path
    file: Path
    planned: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """The example's plan, saved by `mpctl plan --manifests P -e local --allow-delete --out F`
    from another directory (the path has a space, to test the apply command's quoting)."""
    base = tmp_path_factory.mktemp("saved")
    project = base / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, project, ignore=shutil.ignore_patterns(".mpctl"))
    (base / "elsewhere").mkdir()
    file = base / "my plan.json"
    arguments = ["--manifests", str(project), "-e", "local", "--allow-delete", "--out", str(file)]
    planned = mpctl(base / "elsewhere", "plan", *arguments)
    assert planned.returncode == 0, planned.stderr
    return Saved(project, file, planned)


def _saved(work: Path, name: str, *plan_args: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    saved = work / name
    planned = mpctl(work, "plan", *plan_args, "--out", str(saved))
    return saved, planned


@pytest.mark.parametrize("output", ["text", "markdown", "json"])
def test_show_prints_what_plan_printed_when_it_saved_the_file(
    work: Path, elsewhere: Path, output: str
) -> None:
    saved, planned = _saved(work, "plan.json", "--format", output)
    assert planned.returncode == 0, planned.stderr
    assert "Saved the plan to" in planned.stderr
    shown = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, "show", str(saved), "--format", output],
        cwd=elsewhere,  # no project here: show needs none
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
        env=_environ(),
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == planned.stdout
    assert "client/billing-invoices" in shown.stdout
    loaded = shown.stderr.split("modules:", 1)[1].split()
    assert "mpctl.cli.commands.show" in loaded, "the check must see the run's modules"
    assert [m for m in loaded if m.startswith(REMOTE_SIDE)] == []
    assert not (work / "manifests" / ".mpctl").exists()
    assert list(elsewhere.iterdir()) == []


def _tampered(saved: Path, target: Path, edit: Any) -> Path:
    document = json.loads(saved.read_text(encoding="utf-8"))
    edit(document)
    target.write_text(json.dumps(document), encoding="utf-8")
    return target


def _drop_first_step(document: dict[str, Any]) -> None:
    document["steps"] = document["steps"][1:]  # the summary still counts it


def _old_format(document: dict[str, Any]) -> None:
    document["format_version"] = "1"


def test_a_damaged_edited_or_old_plan_is_refused_as_apply_refuses_it(
    saved: Saved, work: Path
) -> None:
    truncated = work / "truncated.json"
    truncated.write_bytes(saved.file.read_bytes()[:200])
    old = _tampered(saved.file, work / "old.json", _old_format)
    cases = {
        _tampered(saved.file, work / "edited.json", _drop_first_step): (
            "is not a valid mpctl plan",
            "summary does not match the steps",
        ),
        old: ("format_version 1",),
        truncated: ("is not a valid mpctl plan",),
    }
    refusals = {}
    for bad, reasons in cases.items():
        shown = mpctl(work, "show", str(bad))
        assert shown.returncode == 1, (bad, shown.stdout)
        assert shown.stdout == "", bad
        assert shown.stderr.startswith(f"Error: {bad}"), (bad, shown.stderr)
        for reason in reasons:
            assert reason in shown.stderr, (bad, shown.stderr)
        refusals[bad] = shown.stderr.splitlines()[0]
    applied = mpctl(work, "apply", "--plan", str(old), "--auto-approve")
    assert applied.returncode == 1
    assert refusals[old] in applied.stderr.splitlines()


def _mermaid(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Node id → first label line (the address), and the edges as (from, to) addresses."""
    nodes = dict(re.findall(r'^  (s[0-9a-f]{12})\["([^"<]*)<br/>', text, re.MULTILINE))
    edges = re.findall(r"^  (s[0-9a-f]{12}) --> (s[0-9a-f]{12})$", text, re.MULTILINE)
    return nodes, {(nodes[a], nodes[b]) for a, b in edges}


def test_graph_draws_the_saved_plan_and_a_fresh_one_alike(saved: Saved) -> None:
    drawn = mpctl(saved.project, "graph", str(saved.file))
    fresh = mpctl(saved.project.parent, "graph", "--manifests", str(saved.project))
    assert drawn.returncode == fresh.returncode == 0, drawn.stderr + fresh.stderr
    assert drawn.stdout == fresh.stdout
    plan = json.loads(saved.file.read_text(encoding="utf-8"))
    nodes, edges = _mermaid(drawn.stdout)
    assert sorted(nodes.values()) == sorted(step["address"] for step in plan["steps"])
    assert edges == {(d, s["address"]) for s in plan["steps"] for d in s["depends_on"]}
    assert ("scope/acme:invoices.read", "client/billing-invoices") in edges

    dot = mpctl(saved.project, "graph", str(saved.file), "--format", "dot")
    assert dot.returncode == 0, dot.stderr
    assert dot.stdout.startswith("digraph plan {\n")
    assert dot.stdout.count(" -> ") == len(edges)
    assert dot.stdout.count("[label=") == len(plan["steps"])
    assert not (saved.project / ".mpctl").exists()


def test_graph_of_a_saved_plan_refuses_planning_flags_and_another_environment(
    saved: Saved,
) -> None:
    flagged = mpctl(saved.project, "graph", str(saved.file), "--target", "billing-invoices")
    assert flagged.returncode == 1
    assert "--target: for a fresh plan only" in flagged.stderr
    elsewhere = mpctl(saved.project, "graph", str(saved.file), "-e", "test")
    assert elsewhere.returncode == 1
    assert "is a plan for 'local', not 'test'" in elsewhere.stderr
    assert flagged.stdout == elsewhere.stdout == ""


def test_plan_out_does_not_save_a_plan_apply_refuses_whatever_the_flags(work: Path) -> None:
    saved, planned = _saved(work, "refused.json", "--target", "no-such-client")
    assert planned.returncode == 1
    assert not saved.exists()
    assert f"the plan was not saved to {saved}" in planned.stderr
    assert "(target.unknown)" in planned.stderr
    assert "This plan has 1 error: apply will refuse it." in planned.stdout  # still shown


def test_plan_out_saves_held_back_steps_and_says_what_apply_does_with_them(work: Path) -> None:
    (work / "manifests" / "resources" / "clients" / "stranger.yaml").write_text(STRANGER)
    saved, planned = _saved(work, "held.json")
    assert planned.returncode == 1  # the plan has an error
    assert saved.exists()
    assert "Saved the plan to" in planned.stderr
    assert "2 of its 19 step(s) are held back by the plan's errors" in planned.stderr

    only, planned = _saved(work, "only.json", "--target", "stranger")
    assert planned.returncode == 1
    assert only.exists()
    assert f"Saved the plan to {only} for review only: applying it would change nothing" in (
        planned.stderr
    )
    assert "apply it with" not in planned.stderr


def test_the_saved_message_is_the_apply_command_to_run(saved: Saved) -> None:
    words = ["mpctl", "apply", "--plan", str(saved.file), "--manifests", str(saved.project)]
    command = shlex.join([*words, "-e", "local", "--allow-delete"])
    assert f"Saved the plan to {saved.file}; apply it with: {command}\n" in saved.planned.stderr
