"""`schemas/` is generated from the models; this test fails when it is out of date."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from ruamel.yaml import YAML

from mpctl.cli.commands.schemas import all_schemas, render_schema
from tests.conftest import EXAMPLE_MANIFESTS, REPO


def test_published_schemas_match_the_models() -> None:
    for name, schema in all_schemas().items():
        published = (REPO / "schemas" / name).read_text(encoding="utf-8")
        assert published == render_schema(schema), f"schemas/{name} is stale: run `make schemas`"


def test_example_manifests_satisfy_the_published_schemas() -> None:
    yaml = YAML(typ="safe", pure=True)
    manifest = json.loads((REPO / "schemas" / "manifest.schema.json").read_text())
    project = json.loads((REPO / "schemas" / "mpctl.schema.json").read_text())
    jsonschema.validate(yaml.load(EXAMPLE_MANIFESTS / "mpctl.yaml"), project)
    for path in sorted((EXAMPLE_MANIFESTS / "resources").rglob("*.yaml")):
        for document in yaml.load_all(path):
            jsonschema.validate(document, manifest)


def test_example_manifests_point_editors_at_the_schema() -> None:
    for path in [
        EXAMPLE_MANIFESTS / "mpctl.yaml",
        *(EXAMPLE_MANIFESTS / "resources").rglob("*.yaml"),
    ]:
        assert path.read_text().startswith("# yaml-language-server: $schema="), path


def test_json_plan_output_validates_against_the_published_plan_schema(tmp_path: Path) -> None:
    import shutil

    from mpctl.cli.main import main

    project = tmp_path / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, project, ignore=shutil.ignore_patterns(".mpctl"))
    out = tmp_path / "plan.json"
    assert main(["plan", "--manifests", str(project), "--out", str(out)]) == 0
    schema = json.loads((REPO / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(json.loads(out.read_text()), schema)
