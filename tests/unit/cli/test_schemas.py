"""`schemas/` is generated from the models; this test fails when it is out of date."""

from __future__ import annotations

import json

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
