"""The files of a new project, as `mpctl init` writes them: rendered from the templates here.

Owns the scaffold's templates (`templates/`, package data that ships in the wheel), the values
they are filled with, and deriving a project name from a folder name. `render_project` returns
every file's path and text, JSON Schemas included, so editors work offline. Must not write
files, prompt or print: `mpctl.cli.commands.init` decides what may be written and writes it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from mpctl.cli.commands.schemas import all_schemas, render_schema

if TYPE_CHECKING:
    import jinja2

MANIFESTS = "manifests"
SCHEMAS = "schemas"
GITIGNORE = ".gitignore"
CLIENT_NAME = "altinn-reader"
CLIENT_FILE = f"{MANIFESTS}/resources/clients/{CLIENT_NAME}.yaml"
PROVIDER_ORGNO = "991825827"
"""Digitaliseringsdirektoratet, the owner of the example client's scope in the emulator world."""
_VALUES = {
    "client_name": CLIENT_NAME,
    "example_scope": "altinn:instances.read",
    "provider_orgno": PROVIDER_ORGNO,
    "provider_name": "Digitaliseringsdirektoratet",
    "provider_prefix": "altinn",
}
_TEMPLATES = {
    f"{MANIFESTS}/mpctl.yaml": "manifests/mpctl.yaml.j2",
    f"{MANIFESTS}/emulator-world.yaml": "manifests/emulator-world.yaml.j2",
    CLIENT_FILE: "manifests/resources/clients/client.yaml.j2",
    GITIGNORE: "gitignore.j2",
}
_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "ß": "ss"})
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_NAME_LENGTH = 63


@dataclass(frozen=True)
class Answers:
    """What the scaffold is filled with; already checked by the caller."""

    orgno: str
    name: str
    project: str

    @property
    def admin_client_id(self) -> str:
        """The self-service client of the `local` environment (the emulator world has it)."""
        return f"{self.project}-admin"


def render_project(answers: Answers) -> dict[str, str]:
    """Every file of the new project by its path relative to the project folder, sorted."""
    values = {
        **_VALUES,
        "orgno": answers.orgno,
        "name": answers.name,
        "project": answers.project,
        "admin_client_id": answers.admin_client_id,
    }
    environment = _environment()
    files = {
        path: environment.from_string(_template_text(template)).render(values)
        for path, template in _TEMPLATES.items()
    }
    files.update(_schema_files())
    return dict(sorted(files.items()))


def project_name_from(folder: str) -> str | None:
    """A valid project name (lower-case letters, digits, '-') made from a folder's name, or None
    when nothing usable is left ("Mitt Prosjekt" → "mitt-prosjekt", "Økonomi_2" → "okonomi-2")."""
    folded = unicodedata.normalize("NFKD", folder.lower().translate(_LETTERS))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii")
    name = _NOT_NAME.sub("-", ascii_only).strip("-")[:_NAME_LENGTH].rstrip("-")
    return name or None


def _environment() -> jinja2.Environment:
    import jinja2  # noqa: PLC0415 - only when rendering: `mpctl init --help` stays light

    # Not HTML: values are quoted for YAML by the `yaml_str` filter, never escaped for a browser.
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701
    )
    environment.filters["yaml_str"] = _yaml_string
    return environment


def _yaml_string(value: str) -> str:
    """`value` as a double-quoted YAML scalar (JSON's string syntax is YAML 1.2's)."""
    return json.dumps(value, ensure_ascii=False)


def _template_text(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def _schema_files() -> dict[str, str]:
    return {f"{SCHEMAS}/{name}": render_schema(schema) for name, schema in all_schemas().items()}
