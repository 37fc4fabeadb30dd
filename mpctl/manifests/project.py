"""Reading `mpctl.yaml` and finding the manifest files it names.

Owns the project file's location, its parse into `ProjectConfig`, and deterministic discovery of
resource files (sorted, `.yaml`, `.yml`, `.yaml.j2`). Problems become diagnostics, never tracebacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from mpctl.manifests.diagnostics import Diagnostic
from mpctl.manifests.errors import diagnostics_from_validation
from mpctl.manifests.yaml import YamlDocument, load_documents
from mpctl.model.config import ProjectConfig

PROJECT_FILE = "mpctl.yaml"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".yaml.j2", ".yml.j2")
MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Project:
    """A parsed project: its directory, its config and where the config's values are."""

    directory: Path
    config: ProjectConfig
    document: YamlDocument

    @property
    def config_file(self) -> str:
        return display_path(self.directory / PROJECT_FILE)


def display_path(path: Path) -> str:
    """A path as users should see it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_text(path: Path) -> str:
    """Read a manifest file, refusing huge files and non-UTF-8 text with a clear reason."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"file is larger than {MAX_FILE_BYTES // 1024} KiB")
    return path.read_bytes().decode("utf-8-sig")


def load_project(directory: Path) -> tuple[Project | None, list[Diagnostic]]:
    """Parse `directory/mpctl.yaml`; on failure return the diagnostics instead."""
    path = directory / PROJECT_FILE
    shown = display_path(path)
    try:
        documents, refused = load_documents(read_text(path))
    except FileNotFoundError:
        hint = "run mpctl from the project root or pass --manifests DIR"
        return None, [Diagnostic(shown, 1, "MPL007", f"no {PROJECT_FILE} in {directory}", hint)]
    except (OSError, ValueError) as exc:
        return None, [Diagnostic(shown, 1, "MPL007", f"cannot read: {exc}")]
    if refused:
        return None, [Diagnostic(shown, p.line, p.code, p.message, p.hint) for p in refused]
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        message = f"{PROJECT_FILE} must hold exactly one mapping"
        return None, [Diagnostic(shown, 1, "MPL005", message)]
    document = documents[0]
    try:
        config = ProjectConfig.model_validate(document.data)
    except ValidationError as exc:
        return None, diagnostics_from_validation(exc, shown, document.lines, ProjectConfig)
    return Project(directory, config, document), []


def discover(project: Project) -> tuple[list[Path], list[Diagnostic]]:
    """Every manifest file the project names, sorted and without duplicates."""
    found: set[Path] = set()
    problems: list[Diagnostic] = []
    for index, entry in enumerate(project.config.resources):
        path = (project.directory / entry).resolve()
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and _is_manifest(p))
        elif path.is_file():
            found.add(path)
        else:
            line = project.document.lines.get(("resources", index), 1)
            problems.append(
                Diagnostic(
                    project.config_file, line, "MPL007", f"resources entry {entry!r} not found"
                )
            )
    return sorted(found), problems


def _is_manifest(path: Path) -> bool:
    return path.name != PROJECT_FILE and path.name.endswith(MANIFEST_SUFFIXES)
