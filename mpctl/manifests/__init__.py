"""Files → desired state: `load(directory, env)` reads `mpctl.yaml` and every manifest.

Owns the order of loading (project file, discovery, templating, YAML, merge, validation, lint)
and the manifests fingerprint that saved plans carry. Every problem is collected, none stops the
others; the caller decides what to print. Each stage is an error boundary: an error mpctl did
not expect becomes a located MPL009 diagnostic, never a traceback that hides the rest. Must not
talk to Digdir.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from mpctl.manifests.canonical import CanonicalFormError, canonical_text
from mpctl.manifests.findings import CODES, FindingSeverity, ManifestFinding, internal_error
from mpctl.manifests.lint import lint
from mpctl.manifests.project import (
    PROJECT_FILE,
    Project,
    UnreadableFileError,
    discover,
    display_path,
    read_text,
)
from mpctl.manifests.project import load_project as _load_project
from mpctl.manifests.resolve import LocatedResource, read_sources, resolve, template_variables
from mpctl.manifests.templated import is_template
from mpctl.model import Client, DesiredState, Scope

__all__ = [
    "CODES",
    "PROJECT_FILE",
    "CanonicalFormError",
    "FindingSeverity",
    "LoadResult",
    "ManifestFinding",
    "Project",
    "UnreadableFileError",
    "canonical_text",
    "display_path",
    "is_template",
    "load",
    "load_project",
    "read_text",
]


@dataclass(frozen=True)
class LoadResult:
    """The outcome of loading one environment: desired state unless an error was found."""

    env_name: str | None
    project: Project | None
    desired: DesiredState | None
    diagnostics: list[ManifestFinding] = field(default_factory=list)
    resources: list[LocatedResource[Client | Scope]] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def errors(self) -> list[ManifestFinding]:
        return [d for d in self.diagnostics if d.severity is FindingSeverity.ERROR]


def load_project(directory: Path) -> tuple[Project | None, list[ManifestFinding]]:
    """Parse `directory/mpctl.yaml`; on failure (expected or not) return diagnostics instead."""
    try:
        return _load_project(directory)
    except MemoryError:
        raise
    except Exception as exc:  # the project file's boundary
        return None, [internal_error(display_path(directory / PROJECT_FILE), 1, exc)]


def load(directory: Path, env_name: str | None = None) -> LoadResult:
    """Load and check every manifest for `env_name` (default: the project's default_env)."""
    project, problems = load_project(directory)
    if project is None:
        return LoadResult(None, None, None, problems)
    env = env_name or project.config.default_env
    if env not in project.config.environments:
        known = ", ".join(sorted(project.config.environments))
        message = f"unknown environment {env!r}"
        problem = ManifestFinding(project.config_file, 1, "MPL008", message, f"known: {known}")
        return LoadResult(env, project, None, [problem])
    files, problems = discover(project)
    sources, read_problems = read_sources(files, template_variables(project, env))
    resources, resolve_problems = resolve(project, env, sources)
    diagnostics = sorted(
        {*problems, *read_problems, *resolve_problems, *_lint(project, env, resources)}
    )
    fingerprint = manifests_fingerprint(project.directory, files)
    if any(d.severity is FindingSeverity.ERROR for d in diagnostics):
        return LoadResult(env, project, None, diagnostics, resources, fingerprint)
    return LoadResult(
        env, project, _desired(project, env, resources), diagnostics, resources, fingerprint
    )


def _lint(
    project: Project, env: str, resources: list[LocatedResource[Client | Scope]]
) -> list[ManifestFinding]:
    try:
        return lint(project, env, resources)
    except MemoryError:
        raise
    except Exception as exc:  # the cross-document rules' boundary
        return [internal_error(project.config_file, 1, exc)]


def _desired(
    project: Project, env: str, resources: list[LocatedResource[Client | Scope]]
) -> DesiredState:
    clients = {r.resource.name: r.resource for r in resources if isinstance(r.resource, Client)}
    scopes = {r.resource.name: r.resource for r in resources if isinstance(r.resource, Scope)}
    return DesiredState(
        env_name=env,
        environment=project.config.environments[env],
        organisation=project.config.organisation,
        clients=clients,
        scopes=scopes,
        project=project.config.project,
    )


def manifests_fingerprint(directory: Path, files: list[Path]) -> str:
    """sha256 over the project file and every manifest (relative path and bytes), sorted.

    A file that cannot be read (already reported by the load) counts as its error text.
    """
    digest = hashlib.sha256()
    base = directory.resolve()
    for path in sorted({base / PROJECT_FILE, *files}):
        name = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.as_posix()
        try:
            content = path.read_bytes()
        except OSError as exc:
            content = f"unreadable: {exc.strerror}".encode()
        digest.update(name.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()
