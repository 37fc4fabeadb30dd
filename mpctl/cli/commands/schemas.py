"""`mpctl schemas`: write or check the JSON Schemas in `schemas/` (generated, never hand-edited)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mpctl.cli import console


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every published schema by file name."""
    from mpctl.apply import apply_report_schema, audit_record_schema  # noqa: PLC0415 - fast --help
    from mpctl.model import model_schemas  # noqa: PLC0415 - fast --help
    from mpctl.plan import plan_json_schema  # noqa: PLC0415 - fast --help
    from mpctl.verify import verify_report_schema  # noqa: PLC0415 - fast --help

    published = {
        **model_schemas(),
        "plan.schema.json": plan_json_schema(),
        "apply-report.schema.json": apply_report_schema(),
        "audit-record.schema.json": audit_record_schema(),
        "verify-report.schema.json": verify_report_schema(),
    }
    return dict(sorted(published.items()))


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schemas(
    directory: Annotated[Path, typer.Argument(help="Where the schemas live.")] = Path("schemas"),
    write: Annotated[bool, typer.Option("--write", help="Regenerate the files.")] = False,
) -> None:
    """Check that schemas/ matches the models (exit 1 if not), or rewrite it with --write."""
    stale = []
    for name, schema in all_schemas().items():
        path = directory / name
        text = render_schema(schema)
        if write:
            directory.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        elif not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    if stale:
        console.error(f"out of date: {', '.join(stale)}", "run `make schemas`")
        raise typer.Exit(1)
    console.success("schemas written" if write else "schemas are up to date")
