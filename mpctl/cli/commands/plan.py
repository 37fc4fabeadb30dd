"""`mpctl plan`: fetch, diff and show what apply would do; save it with --out.

Exit codes: 0 no changes (or changes without --detailed-exitcode), 2 changes or drift with
--detailed-exitcode (drift: a difference mpctl leaves alone, such as a key added by hand),
1 error (including a plan with error diagnostics).
"""

from __future__ import annotations

import asyncio
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
    out: Annotated[Path | None, typer.Option("--out", help="Save the plan for apply.")] = None,
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
    from mpctl.cli.environment import open_workspace  # noqa: PLC0415 - fast --help
    from mpctl.cli.output import write_plan  # noqa: PLC0415 - fast --help
    from mpctl.plan import PlanOptions  # noqa: PLC0415 - fast --help

    workspace = open_workspace(manifests, env)
    options = PlanOptions(
        targets=tuple(target or ()),
        rotate=tuple(rotate or ()),
        allow_delete=allow_delete,
        allow_replace=allow_replace,
        allow_protected=allow_protected,
    )
    result = asyncio.run(compute_plan(workspace, options))
    show_plan(result, output)
    if out is not None:
        write_plan(out, result)
        console.stderr().print(f"Saved the plan to {out}; apply it with: mpctl apply --plan {out}")
    if result.summary.errors:
        return 1  # apply would refuse the plan, or hold back what the errors name
    if result.has_drift and not result.has_changes:
        console.warning("Drift: Digdir differs in ways mpctl leaves alone (see the warnings).")
    return 2 if detailed_exitcode and (result.has_changes or result.has_drift) else 0


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
