"""`mpctl validate`: schema and semantic lint of the manifests, every problem at once.

Sink blocks are checked against the installed sinks too (a plug-in's block with the plug-in's
own model), so a missing plug-in is found before plan or apply.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mpctl.cli import console
from mpctl.cli.options import DEFAULT_MANIFESTS, EnvOption, ManifestsOption

if TYPE_CHECKING:
    from mpctl.manifests import LoadResult, ManifestFinding


def validate(
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    all_environments: Annotated[
        bool, typer.Option("--all-environments", "-A", help="Check every environment.")
    ] = False,
    output: Annotated[
        Literal["text", "json"], typer.Option("--format", help="Output format.")
    ] = "text",
) -> None:
    """Check manifests against the schema and Maskinporten's rules; exit 1 on any error."""
    from mpctl.cli.sink_checks import with_sink_findings  # noqa: PLC0415 - fast --help
    from mpctl.manifests import load  # noqa: PLC0415 - fast --help

    results = [
        with_sink_findings(load(manifests, name))
        for name in _environments(manifests, env, all_environments)
    ]
    diagnostics = sorted({d for r in results for d in r.diagnostics})
    if output == "json":
        console.stdout().print(json.dumps(_as_json(results, diagnostics), indent=2, sort_keys=True))
    else:
        _print_text(results, diagnostics)
    if any(r.errors for r in results):
        raise typer.Exit(1)


def _environments(manifests: Path, env: str | None, every: bool) -> list[str | None]:
    if not every:
        return [env]
    from mpctl.manifests import load_project  # noqa: PLC0415 - fast --help

    project, _ = load_project(manifests)
    if project is None:
        return [None]
    return [*sorted(project.config.environments)]


def _print_text(results: list[LoadResult], diagnostics: list[ManifestFinding]) -> None:
    for diagnostic in diagnostics:
        console.stdout().print(diagnostic.format())
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = len(diagnostics) - errors
    for result in results:
        if result.desired is not None:
            desired = result.desired
            console.success(
                f"{result.env_name}: {len(desired.clients)} clients, {len(desired.scopes)} "
                f"scopes valid"
            )
    if errors or warnings:
        console.stdout().print(f"{errors} error(s), {warnings} warning(s)")


def _as_json(results: list[LoadResult], diagnostics: list[ManifestFinding]) -> dict[str, object]:
    return {
        "valid": not any(r.errors for r in results),
        "environments": sorted(str(r.env_name) for r in results),
        "diagnostics": [
            {
                "file": d.file,
                "line": d.line,
                "code": d.code,
                "severity": str(d.severity),
                "message": d.message,
                "hint": d.hint,
            }
            for d in diagnostics
        ],
    }
