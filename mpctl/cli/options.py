"""Options every command shares, each with the environment variable that can set it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ManifestsOption = Annotated[
    Path,
    typer.Option(
        "--manifests",
        envvar="MPCTL_MANIFESTS",
        help="Directory holding mpctl.yaml.",
        file_okay=False,
    ),
]
EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        envvar="MPCTL_ENV",
        help="Environment name (default: default_env in mpctl.yaml).",
    ),
]
DEFAULT_MANIFESTS = Path("manifests")
TargetOption = Annotated[
    list[str] | None,
    typer.Option("--target", "-t", help="Limit to this name or address (repeatable)."),
]
RotateOption = Annotated[
    list[str] | None,
    typer.Option("--rotate", help="Rotate this client's key now, whatever its age (repeatable)."),
]
AllowDeleteOption = Annotated[
    bool, typer.Option("--allow-delete", help="Allow deleting managed objects.")
]
AllowReplaceOption = Annotated[
    bool, typer.Option("--allow-replace", help="Allow replacing clients.")
]
AllowProtectedOption = Annotated[
    bool,
    typer.Option("--allow-protected", help="Allow deletes/replaces on a protected environment."),
]
