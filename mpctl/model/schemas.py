"""JSON Schemas of the documents users write, generated from the pydantic models.

Owns the schema of `mpctl.yaml` and of manifest documents (`Client` / `Scope`), as dicts. Pure:
writing them to `schemas/` is the CLI's job (`mpctl schemas --write schemas`).
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from mpctl.model.config import ProjectConfig
from mpctl.model.resources import Client, Resource, Scope

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _finish(schema: dict[str, Any], name: str, title: str) -> dict[str, Any]:
    return {
        "$schema": _DIALECT,
        "$id": f"https://mpctl.dev/schemas/{name}",
        "title": title,
        **schema,
    }


def model_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, for every user-written document kind."""
    manifest = TypeAdapter[Client | Scope](Resource).json_schema()
    return {
        "mpctl.schema.json": _finish(
            ProjectConfig.model_json_schema(), "mpctl.schema.json", "mpctl project (mpctl.yaml)"
        ),
        "manifest.schema.json": _finish(
            manifest, "manifest.schema.json", "mpctl manifest document (Client or Scope)"
        ),
    }
