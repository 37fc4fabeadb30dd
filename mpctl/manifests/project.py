"""Reading `mpctl.yaml` and finding the manifest files it names.

Owns the project file's location, its parse into `ProjectConfig`, and deterministic discovery of
resource files (sorted, `.yaml`, `.yml`, `.yaml.j2`). Discovery stays inside the project
directory: entries that lead outside it, symlinks to files outside it, folders that cannot be
read and walks of more than `MAX_WALK_ENTRIES` are located problems, so no manifest is ever
left out silently (a left-out manifest would plan its resources for deletion). Symlinked and
hidden folders are not walked. Problems become diagnostics, never tracebacks.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from mpctl.manifests.errors import diagnostics_from_validation
from mpctl.manifests.findings import ManifestFinding
from mpctl.manifests.yaml import YamlDocument, load_documents
from mpctl.model import ProjectConfig

PROJECT_FILE = "mpctl.yaml"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".yaml.j2", ".yml.j2")
MAX_FILE_BYTES = 512 * 1024
MAX_WALK_ENTRIES = 20_000


@dataclass(frozen=True)
class Project:
    """A parsed project: its directory, its config and where the config's values are."""

    directory: Path
    config: ProjectConfig
    document: YamlDocument

    @functools.cached_property
    def config_file(self) -> str:
        """mpctl.yaml as users should see it (worked out once: each resource's lines name it)."""
        return display_path(self.directory / PROJECT_FILE)


class UnreadableFileError(Exception):
    """A file that cannot be used as text, with the line of the problem when there is one."""

    def __init__(self, message: str, line: int = 1, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.line, self.hint = message, line, hint


def display_path(path: Path) -> str:
    """A path as users should see it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # outside the cwd, unreadable, a symlink loop
        return str(path)


def read_text(path: Path) -> str:
    """Read a manifest file, refusing huge files and non-UTF-8 text with a located reason."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UnreadableFileError(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFileError(
            f"file is larger than {MAX_FILE_BYTES // 1024} KiB", hint="split it into smaller files"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnreadableFileError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line, "save the file as UTF-8"
        ) from exc


def load_project(directory: Path) -> tuple[Project | None, list[ManifestFinding]]:
    """Parse `directory/mpctl.yaml`; on failure return the diagnostics instead."""
    path = directory / PROJECT_FILE
    shown = display_path(path)
    try:
        documents, refused = load_documents(read_text(path))
    except UnreadableFileError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            hint = "run mpctl from the project root or pass --manifests DIR"
            message = f"no {PROJECT_FILE} in {directory}"
            return None, [ManifestFinding(shown, 1, "MPL007", message, hint)]
        return None, [ManifestFinding(shown, exc.line, "MPL007", exc.message, exc.hint)]
    if refused:
        return None, [ManifestFinding(shown, p.line, p.code, p.message, p.hint) for p in refused]
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        message = f"{PROJECT_FILE} must hold exactly one mapping"
        return None, [ManifestFinding(shown, 1, "MPL005", message)]
    document = documents[0]
    try:
        config = ProjectConfig.model_validate(document.data)
    except ValidationError as exc:
        return None, diagnostics_from_validation(exc, shown, document.lines, ProjectConfig)
    return Project(directory, config, document), []


def discover(project: Project) -> tuple[list[Path], list[ManifestFinding]]:
    """Every manifest file the project names, sorted and without duplicates."""
    found: set[Path] = set()
    problems: list[ManifestFinding] = []
    base = project.directory.resolve()
    for index, entry in enumerate(project.config.resources):
        line = project.document.lines.get(("resources", index), 1)
        for item in _entry_files(base, entry):
            if isinstance(item, Path):
                found.add(item)
            else:
                message = f"resources entry {entry!r}: {item.message}"
                problems.append(
                    ManifestFinding(project.config_file, line, "MPL007", message, item.hint)
                )
    return sorted(found), problems


def _entry_files(base: Path, entry: str) -> Iterator[Path | UnreadableFileError]:
    """The manifest files of one `resources` entry, and a problem for each thing refused."""
    if "\0" in entry:
        yield UnreadableFileError("contains a NUL character")
        return
    try:
        target = (base / entry).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
        yield UnreadableFileError(f"cannot be resolved: {exc}")
        return
    if not target.is_relative_to(base):
        hint = "resources are paths inside the directory that holds mpctl.yaml"
        yield UnreadableFileError("points outside the project directory", hint=hint)
    elif target.is_dir():
        yield from _walk(base, target)
    elif target.is_file():
        yield target
    else:
        yield UnreadableFileError("not found")


def _walk(base: Path, top: Path) -> Iterator[Path | UnreadableFileError]:
    """Manifest files under `top`, depth first, without following symlinked folders."""
    pending, visited = [top], 0
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                children = list(entries)
        except OSError as exc:
            shown = display_path(folder)
            yield UnreadableFileError(f"cannot read folder {shown}: {exc.strerror or exc}")
            continue
        visited += len(children)
        if visited > MAX_WALK_ENTRIES:
            hint = "point resources at the folders that hold manifests"
            yield UnreadableFileError(f"more than {MAX_WALK_ENTRIES} files and folders", hint=hint)
            return
        for child in children:
            yield from _visit(base, Path(child.path), child, pending)


def _visit(
    base: Path, path: Path, entry: os.DirEntry[str], pending: list[Path]
) -> Iterator[Path | UnreadableFileError]:
    if entry.is_dir(follow_symlinks=False):
        if not entry.name.startswith("."):
            pending.append(path)
    elif _is_manifest(path) and entry.is_file(follow_symlinks=True):
        resolved = path.resolve()
        if resolved.is_relative_to(base):
            yield resolved
        else:
            yield UnreadableFileError(f"{display_path(path)} is a symlink to a file outside it")


def _is_manifest(path: Path) -> bool:
    return path.name != PROJECT_FILE and path.name.endswith(MANIFEST_SUFFIXES)
