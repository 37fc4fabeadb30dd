"""`mpctl plan`: fetch, diff and show what apply would do; save it with --out.

Exit codes: 0 no changes (or changes without --detailed-exitcode), 2 changes or drift with
--detailed-exitcode (drift: a difference mpctl leaves alone, such as a key added by hand),
1 error (including a plan with error diagnostics).

`--out` saves only what apply can take: a plan apply refuses whatever the flags (an error that
names no resource, such as an unknown --target) is not written, and the command says why; a plan
whose errors hold back every step is written but called "for review only" (applying it changes
nothing). The saved message gives the exact apply command (environment, manifests, allow flags).
Also owns planning as `mpctl plan` does (`plan_options`, `plan_now`) for commands that show a
fresh plan another way (`mpctl graph`). Must not write anything but the --out file.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mpctl.cli import clock, console
from mpctl.cli.options import (
    DEFAULT_MANIFESTS,
    AllowDeleteOption,
    AllowProtectedOption,
    AllowReplaceOption,
    EnvOption,
    ManifestsOption,
    RotateOption,
    TargetOption,
)

if TYPE_CHECKING:
    from mpctl.cli.environment import Workspace
    from mpctl.plan import Plan, PlanOptions
    from mpctl.state import Snapshot

OutputFormat = Literal["text", "markdown", "json"]


def plan(
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Save the plan for apply (not saved if apply would refuse it anyway)."
        ),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = "text",
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when there are changes.")
    ] = False,
    target: TargetOption = None,
    rotate: RotateOption = None,
    allow_delete: AllowDeleteOption = False,
    allow_replace: AllowReplaceOption = False,
    allow_protected: AllowProtectedOption = False,
) -> int:
    """Show the changes that would make Digdir match the manifests."""
    options = plan_options(target, rotate, allow_delete, allow_replace, allow_protected)
    result = plan_now(manifests, env, options)
    show_plan(result, output)
    if out is not None:
        save_plan(out, result, apply_command(out, result, manifests=manifests, env=env))
    if result.summary.errors:
        return 1  # apply would refuse the plan, or hold back what the errors name
    return 2 if detailed_exitcode and (result.has_changes or result.has_drift) else 0


def plan_options(
    target: list[str] | None,
    rotate: list[str] | None,
    allow_delete: bool,
    allow_replace: bool,
    allow_protected: bool,
) -> PlanOptions:
    """The plan options `mpctl plan`'s flags ask for."""
    from mpctl.plan import PlanOptions  # noqa: PLC0415 - fast --help

    return PlanOptions(
        targets=tuple(target or ()),
        rotate=tuple(rotate or ()),
        allow_delete=allow_delete,
        allow_replace=allow_replace,
        allow_protected=allow_protected,
    )


def plan_now(manifests: Path, env: str | None, options: PlanOptions) -> Plan:
    """Open the project and plan against what Digdir and the sinks hold now, as `mpctl plan`."""
    from mpctl.cli.environment import open_workspace  # noqa: PLC0415 - fast --help

    workspace = open_workspace(manifests, env)
    return asyncio.run(compute_plan(workspace, options))


def save_plan(out: Path, result: Plan, command: str) -> None:
    """Write `result` to `out` for `command` (its apply), unless apply would refuse it whatever
    the flags: then nothing is written and stderr says why (the exit code is 1 anyway)."""
    from mpctl.cli.output import write_plan  # noqa: PLC0415 - fast --help

    if not result.applyable:
        console.error(
            f"the plan was not saved to {out}: apply refuses a plan with an error that names "
            f"no client or scope ({_unplaced_errors(result)}), whatever the flags",
            hint="fix the error and plan again; --format json prints this plan for review",
        )
        return
    write_plan(out, result)
    held = result.summary.blocked
    if result.summary.errors and held == len(result.steps):
        console.warning(
            f"Saved the plan to {out} for review only: applying it would change nothing (its "
            f"{result.summary.errors} error(s) hold back every change). Fix the errors (see the "
            "diagnostics) and plan again."
        )
        return
    console.stderr().print(f"Saved the plan to {out}; apply it with: {command}")
    if held:
        console.warning(
            f"  {held} of its {len(result.steps)} step(s) are held back by the plan's errors: "
            "apply skips them (and what depends on them) and applies the rest."
        )


def apply_command(out: Path, result: Plan, *, manifests: Path, env: str | None) -> str:
    """The `mpctl apply` that takes the saved plan: its file, the manifests and environment
    it was made with, and the allow flags apply must be given again."""
    words = ["mpctl", "apply", "--plan", str(out)]
    if manifests != DEFAULT_MANIFESTS:
        words += ["--manifests", str(manifests)]
    if env is not None:
        words += ["-e", env]
    words += [f"--{name.replace('_', '-')}" for name in sorted(result.options.allows)]
    return shlex.join(words)


def _unplaced_errors(result: Plan) -> str:
    """The codes of the errors that name no resource, for one line."""
    from mpctl.plan import Severity  # noqa: PLC0415 - fast --help

    codes = sorted(
        {d.code for d in result.diagnostics if d.severity is Severity.ERROR and d.address is None}
    )
    return ", ".join(codes)


async def compute_plan(workspace: Workspace, options: PlanOptions) -> Plan:
    """Observe the environment and plan against it."""
    from mpctl.cli.environment import connect  # noqa: PLC0415 - fast --help
    from mpctl.state import observe  # noqa: PLC0415 - fast --help

    async with connect(workspace) as (remote, _):
        with console.progress(f"Reading {workspace.env_name} from Digdir"):
            snapshot = await observe(
                remote, orgno=workspace.desired.organisation.orgno, sinks=workspace.open_sinks()
            )
    return plan_from(workspace, snapshot, options)


def plan_from(workspace: Workspace, snapshot: Snapshot, options: PlanOptions) -> Plan:
    from mpctl.plan import make_plan  # noqa: PLC0415 - fast --help

    return make_plan(
        workspace.desired,
        snapshot.observed,
        snapshot.sinks,
        options=options,
        now=clock.now(),
        manifests_fingerprint=workspace.fingerprint,
    )


def show_plan(result: Plan, output: OutputFormat) -> None:
    from mpctl.render import build_document, render_human, render_json, render_markdown  # noqa: PLC0415 - fast --help

    document = build_document(result)
    if output == "json":
        text = render_json(document)
    elif output == "markdown":
        text = render_markdown(document)
    else:
        text = render_human(document, color=console.stdout().is_terminal and console.color())
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
