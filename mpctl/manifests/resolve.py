"""Documents → validated resources for one environment, remembering where each value came from.

Owns reading (and templating) each manifest file, the merge order `mpctl.yaml defaults < document
< overrides[env]`, the `environments:` filter, and validation into `Client`/`Scope`. Lists are
replaced by overrides, mappings are merged. Each file and each document is an error boundary:
whatever goes wrong in one becomes a located diagnostic for it alone (MPL009 when it is a bug in
mpctl rather than in the manifest), so one bad file never hides the others' problems. Must not
apply cross-document rules (see `lint`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from mpctl.manifests.errors import Located, diagnostics_from_validation
from mpctl.manifests.findings import ManifestFinding, internal_error
from mpctl.manifests.project import Project, UnreadableFileError, display_path, read_text
from mpctl.manifests.templated import TemplateProblemError, is_template
from mpctl.manifests.yaml import Path as DataPath
from mpctl.manifests.yaml import YamlDocument, load_documents
from mpctl.model import Client, Resource, Scope

_KINDS = {"Client": "client", "Scope": "scope"}
_RESOURCE = TypeAdapter[Client | Scope](Resource)


@dataclass(frozen=True)
class SourceDocument:
    """One YAML document of one manifest file."""

    file: str
    document: YamlDocument


R = TypeVar("R", Client, Scope, Client | Scope)


@dataclass(frozen=True)
class LocatedResource(Generic[R]):
    """A validated resource and the (file, line) of each of its values."""

    resource: R
    file: str
    lines: Mapping[DataPath, Located]

    def at(self, *path: str | int) -> Located:
        for end in range(len(path), -1, -1):
            where = self.lines.get(tuple(path[:end]))
            if where is not None:
                return where
        return self.file, 1


def template_variables(project: Project, env_name: str) -> dict[str, Any]:
    """What templates can use: `env`, `org`, `environment` and every project variable."""
    config = project.config
    environment = config.environments[env_name].model_dump(mode="json", exclude={"admin"})
    org = config.organisation.model_dump(mode="json")
    return {**config.variables, "env": env_name, "org": org, "environment": environment}


def read_sources(
    files: list[Path], variables: Mapping[str, Any]
) -> tuple[list[SourceDocument], list[ManifestFinding]]:
    """Render and parse every file; a broken file yields diagnostics, the rest still load."""
    documents: list[SourceDocument] = []
    problems: list[ManifestFinding] = []
    for path in files:
        shown = display_path(path)
        try:
            parsed, refused = _read_one(path, shown, variables)
        except MemoryError:
            raise
        except Exception as exc:  # the per-file boundary
            parsed, refused = [], [internal_error(shown, 1, exc)]
        documents.extend(parsed)
        problems.extend(refused)
    return documents, problems


def _read_one(
    path: Path, shown: str, variables: Mapping[str, Any]
) -> tuple[list[SourceDocument], list[ManifestFinding]]:
    try:
        text = read_text(path)
        text = _rendered(text, variables) if is_template(text) else text
    except UnreadableFileError as exc:
        return [], [ManifestFinding(shown, exc.line, "MPL007", exc.message, exc.hint)]
    except TemplateProblemError as exc:
        hint = exc.hint or (
            "define it under 'variables' in mpctl.yaml" if "undefined" in exc.message else ""
        )
        return [], [ManifestFinding(shown, exc.line, "MPL006", exc.message, hint)]
    parsed, refused = load_documents(text)
    return [SourceDocument(shown, d) for d in parsed], [
        ManifestFinding(shown, p.line, p.code, p.message, p.hint) for p in refused
    ]


def _rendered(text: str, variables: Mapping[str, Any]) -> str:
    """`text` rendered as a template; jinja2 loads only when a file is one."""
    from mpctl.manifests.template import render  # noqa: PLC0415 - fast start

    return render(text, variables)


def resolve(
    project: Project, env_name: str, sources: list[SourceDocument]
) -> tuple[list[LocatedResource[Client | Scope]], list[ManifestFinding]]:
    """Every resource that exists in `env_name`, validated, with its provenance."""
    resources: list[LocatedResource[Client | Scope]] = []
    problems: list[ManifestFinding] = []
    for source in sources:
        try:
            found, source_problems = _resolve_one(project, env_name, source)
        except MemoryError:
            raise
        except Exception as exc:  # the per-document boundary
            found, source_problems = None, [internal_error(source.file, source.document.line, exc)]
        problems.extend(source_problems)
        if found is not None:
            resources.append(found)
    return resources, problems


def _resolve_one(
    project: Project, env_name: str, source: SourceDocument
) -> tuple[LocatedResource[Client | Scope] | None, list[ManifestFinding]]:
    data, file = source.document.data, source.file
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind not in _KINDS:
        line = source.document.lines.get(("kind",), source.document.line)
        message = (
            f"document must be a mapping with 'kind: Client' or 'kind: Scope', got {_short(kind)}"
        )
        return None, [ManifestFinding(file, line, "MPL005", message)]
    problems = _environment_names(project, source, data)
    if not _exists_in(data, env_name):
        return None, problems
    merged, lines = _merge(project, env_name, source, data, _KINDS[kind])
    try:
        resource = _RESOURCE.validate_python(merged)
    except ValidationError as exc:
        model = Client if kind == "Client" else Scope
        return None, [
            *problems,
            *diagnostics_from_validation(exc, file, lines, model, strip_tag=True),
        ]
    return LocatedResource[Client | Scope](resource, file, lines), problems


def _exists_in(data: dict[str, Any], env_name: str) -> bool:
    environments = data.get("environments")
    return not isinstance(environments, list) or env_name in environments


def _environment_names(
    project: Project, source: SourceDocument, data: dict[str, Any]
) -> list[ManifestFinding]:
    known = set(project.config.environments)
    named: list[tuple[DataPath, object]] = []
    if isinstance(data.get("environments"), list):
        named += [(("environments", i), n) for i, n in enumerate(data["environments"])]
    if isinstance(data.get("overrides"), dict):
        named += [(("overrides", n), n) for n in data["overrides"]]
    hint = f"known environments: {', '.join(sorted(known))}"
    return [
        ManifestFinding(
            source.file,
            source.document.lines.get(path, source.document.line),
            "MPL008",
            f"unknown environment {_short(name)}",
            hint,
        )
        for path, name in named
        if not isinstance(name, str) or name not in known
    ]


def _short(value: object, limit: int = 60) -> str:
    text = (
        repr(value) if isinstance(value, str | int | float | bool | None) else type(value).__name__
    )
    return text if len(text) <= limit else text[:limit] + "…"


def _merge(
    project: Project, env_name: str, source: SourceDocument, data: dict[str, Any], kind_key: str
) -> tuple[dict[str, Any], dict[DataPath, Located]]:
    defaults_path: DataPath = ("defaults", kind_key)
    defaults = _get(project.document.data, defaults_path)
    override_path: DataPath = ("overrides", env_name)
    override = _get(data, override_path)
    lines: dict[DataPath, Located] = {}
    lines.update(_shifted(project.document.lines, defaults_path, project.config_file))
    lines.update({p: (source.file, line) for p, line in source.document.lines.items()})
    lines.update(_shifted(source.document.lines, override_path, source.file))
    merged = _deep_merge(_deep_merge(defaults, data), override)
    if isinstance(merged.get("overrides"), dict):  # merged in already: report its errors once
        merged["overrides"] = {k: v for k, v in merged["overrides"].items() if k != env_name}
    return merged, lines


def _get(data: Any, path: DataPath) -> dict[str, Any]:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _shifted(lines: Mapping[DataPath, int], prefix: DataPath, file: str) -> dict[DataPath, Located]:
    size = len(prefix)
    return {p[size:]: (file, line) for p, line in lines.items() if p[:size] == prefix and p[size:]}


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        old = merged.get(key)
        both_maps = isinstance(old, dict) and isinstance(value, dict) and key != "overrides"
        merged[key] = _deep_merge(old, value) if both_maps else value  # type: ignore[arg-type]
    return merged
