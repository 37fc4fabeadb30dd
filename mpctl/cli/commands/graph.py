"""`mpctl graph`: the plan's step dependencies as Mermaid or Graphviz DOT on stdout.

Draws a saved plan (`mpctl graph PLANFILE`, read with apply's loader; nothing is contacted)
or a fresh one (`mpctl graph -e ENV`, planned exactly as `mpctl plan` plans, with the same
--target, --rotate and allow flags). The drawing is `mpctl.render.graph`'s. Must not write
anything, and must not plan when given a file: with PLANFILE, the planning flags are refused
and --env, when given, must name the plan's environment.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mpctl.cli.commands.plan import plan_now, plan_options
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
from mpctl.errors import UserError

if TYPE_CHECKING:
    from mpctl.plan import Plan

GraphFormat = Literal["mermaid", "dot"]


def graph(
    plan_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="PLANFILE",
            help="A plan saved by `mpctl plan --out`; without it, plan now (as `mpctl plan`).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        GraphFormat,
        typer.Option(
            "--format",
            help="mermaid (GitHub draws a ```mermaid block in a comment) or dot (Graphviz).",
        ),
    ] = "mermaid",
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    target: TargetOption = None,
    rotate: RotateOption = None,
    allow_delete: AllowDeleteOption = False,
    allow_replace: AllowReplaceOption = False,
    allow_protected: AllowProtectedOption = False,
) -> int:
    """The plan's step dependencies as a Mermaid or DOT graph.

    One node per step (its address and action; a held-back step is dashed), an arrow A → B when
    B depends on A, so A runs first. To show it in a pull request, put the Mermaid text in a
    comment between a ```mermaid line and a ``` line; render DOT with `dot -Tsvg`. With
    PLANFILE nothing else is read (the planning flags are refused).
    """
    from mpctl.render import (  # noqa: PLC0415 - fast --help
        build_document,
        render_dot,
        render_mermaid,
    )

    if plan_file is not None:
        flags = _planning_flags(target, rotate, allow_delete, allow_replace, allow_protected)
        drawn = _saved(plan_file, env, flags)
    else:
        options = plan_options(target, rotate, allow_delete, allow_replace, allow_protected)
        drawn = plan_now(manifests, env, options)
    document = build_document(drawn)
    text = render_dot(document) if output == "dot" else render_mermaid(document)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


def _saved(plan_file: Path, env: str | None, flags: list[str]) -> Plan:
    """The saved plan, refused when planning flags or another environment are asked for."""
    from mpctl.cli.output import read_plan  # noqa: PLC0415 - fast --help

    if flags:
        raise UserError(
            f"{', '.join(flags)}: for a fresh plan only; a saved plan is drawn as it was made",
            hint="drop the flags, or drop PLANFILE to plan now with them",
        )
    saved = read_plan(plan_file)
    if env is not None and saved.env_name != env:
        raise UserError(
            f"{plan_file} is a plan for {saved.env_name!r}, not {env!r}",
            hint="drop --env (and MPCTL_ENV) to draw the saved plan as it is",
        )
    return saved


def _planning_flags(
    target: list[str] | None,
    rotate: list[str] | None,
    allow_delete: bool,
    allow_replace: bool,
    allow_protected: bool,
) -> list[str]:
    """The planning flags given on the command line, as they are spelled there."""
    given = {
        "--target": bool(target),
        "--rotate": bool(rotate),
        "--allow-delete": allow_delete,
        "--allow-replace": allow_replace,
        "--allow-protected": allow_protected,
    }
    return [flag for flag, on in given.items() if on]
