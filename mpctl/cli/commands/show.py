"""`mpctl show PLANFILE`: a saved plan rendered again, as `mpctl plan` printed it.

Loads the file with apply's own loader (`mpctl.cli.output.read_plan`: a truncated, binary,
foreign, other-version or inconsistently edited file is refused with the same error apply
gives) and prints it with `mpctl plan`'s renderer, so `mpctl show F --format X` prints exactly
what `mpctl plan --out F --format X` printed. Whether the plan still matches the manifests and
Digdir is apply's question, not this command's. Must not open the project, read credentials,
contact Digdir or the secret sinks, or write anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mpctl.cli.commands.plan import OutputFormat, show_plan


def show(
    plan_file: Annotated[
        Path,
        typer.Argument(
            metavar="PLANFILE", help="A plan saved by `mpctl plan --out`.", show_default=False
        ),
    ],
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = "text",
) -> int:
    """Render a saved plan file as text, Markdown or JSON; nothing is contacted.

    Prints what `mpctl plan --format FORMAT` printed when it saved the file. The file is
    checked as apply checks it before anything else (format version, shape, a summary that
    matches its steps); exit 1 if it is refused.
    """
    from mpctl.cli.output import read_plan  # noqa: PLC0415 - fast --help

    show_plan(read_plan(plan_file), output)
    return 0
