"""The files `mpctl init` writes, checked in-process: what the end-to-end test cannot reach.

The commented `test`/`prod` blocks of mpctl.yaml are valid once uncommented (a newcomer's next
step must not be an edit-and-run round); any organisation name survives the YAML quoting into
both mpctl.yaml and the emulator's world; project names made from folder names are valid
resource names; the schemas written are the ones `mpctl schemas` checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mpctl.cli.commands.schemas import all_schemas, render_schema
from mpctl.cli.scaffold import Answers, project_name_from, render_project
from mpctl.cli.sink_checks import with_sink_findings
from mpctl.emulator import load_world
from mpctl.manifests import load
from mpctl.model import RESOURCE_NAME_PATTERN

ANSWERS = Answers(orgno="313367002", name="ACME AS", project="acme")
_COMMENTED_ENVIRONMENT = re.compile(r"^  # ?((?:test|prod):|  .*)$", re.MULTILINE)


def write(folder: Path, answers: Answers = ANSWERS) -> Path:
    for relative, text in render_project(answers).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder / "manifests"


def test_the_commented_test_and_prod_blocks_are_valid_once_uncommented(tmp_path: Path) -> None:
    manifests = write(tmp_path)
    config = manifests / "mpctl.yaml"
    text, count = _COMMENTED_ENVIRONMENT.subn(r"  \1", config.read_text(encoding="utf-8"))
    assert count >= 16
    config.write_text(text, encoding="utf-8")

    for env in ("local", "test", "prod"):
        result = with_sink_findings(load(manifests, env))
        assert result.errors == [], (env, [d.format() for d in result.diagnostics])
        assert result.desired is not None
        assert result.desired.environment.admin is not None
    prod = load(manifests, "prod").desired
    assert prod is not None
    assert prod.environment.protected
    assert str(prod.environment.api_base_url) == "https://api.samarbeid.digdir.no/api/v1"


@pytest.mark.parametrize(
    "name",
    ['Smith & Co: "Regnskap" #1 AS', "Ærlig Østfold Å/S", "null", "- yes: no", "{a}"],
)
def test_any_organisation_name_reaches_both_files_unchanged(tmp_path: Path, name: str) -> None:
    manifests = write(tmp_path, Answers(orgno="313367002", name=name, project="null"))

    result = load(manifests)
    assert result.errors == [], [d.format() for d in result.diagnostics]
    assert result.desired is not None
    assert result.desired.organisation.name == name
    assert result.project is not None
    assert result.project.config.project == "null"
    world = load_world(manifests / "emulator-world.yaml")
    assert [o.name for o in world.organisations if o.orgno == "313367002"] == [name]
    assert [a.client_id for a in world.admin_clients] == ["null-admin"]


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("acme-platform", "acme-platform"),
        ("Økonomi Integrasjoner", "okonomi-integrasjoner"),
        ("Blåbær_2026", "blabaer-2026"),
        ("--x--", "x"),
        ("a" * 70, "a" * 63),
        ("a" * 62 + "-b", "a" * 62),
        ("___", None),
        ("日本", None),
    ],
)
def test_project_names_from_folder_names(folder: str, expected: str | None) -> None:
    name = project_name_from(folder)
    assert name == expected
    if name is not None:
        assert RESOURCE_NAME_PATTERN.match(name)


def test_the_schemas_written_are_the_published_ones() -> None:
    files = render_project(ANSWERS)
    published = {f"schemas/{name}": render_schema(s) for name, s in all_schemas().items()}
    assert {path: text for path, text in files.items() if path.startswith("schemas/")} == published
    assert list(files) == sorted(files)


def test_an_organisation_number_copied_with_spaces_is_accepted() -> None:
    """brreg.no shows "313 367 002" (found by review: init refused it)."""
    from mpctl.cli.commands.init import _checked_orgno

    assert _checked_orgno(" 313 367 002 ") == "313367002"
