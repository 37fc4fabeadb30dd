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
RevokeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--revoke",
        help="Remove this kid from Digdir now, even inside a grace period (repeatable). Never "
        "the current kid unless --rotate replaces it in the same apply, never a preserved "
        "kid, never the last key without --allow-delete.",
    ),
]
RevokePreviousOption = Annotated[
    bool,
    typer.Option(
        "--revoke-previous",
        help="With --rotate: revoke the replaced key right after the new one is promoted, and "
        "any previous key first, without waiting for the grace (a compromised key).",
    ),
]
RemoveForeignKidsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--remove-foreign-kids",
        help="Revoke this client's registered kids that mpctl did not make (not in its sink, "
        "not in keys.preserve), each as its own step (repeatable).",
    ),
]
