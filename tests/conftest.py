"""Fixtures shared across the suite: small manifest projects built in a temp directory."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_MANIFESTS = REPO / "manifests"

BASE_PROJECT = """\
organisation: {orgno: "313367002", name: ACME AS, scope_prefixes: [acme]}
default_env: test
environments:
  test:
    digdir: test
    api_base_url: https://api.test.samarbeid.digdir.no/api/v1
    issuer: https://test.maskinporten.no/
    token_endpoint: https://test.maskinporten.no/token
    delegation_sources: {altinn: https://tt02.altinn.no/}
  prod:
    digdir: prod
    api_base_url: https://api.samarbeid.digdir.no/api/v1
    issuer: https://maskinporten.no/
    token_endpoint: https://maskinporten.no/token
    delegation_sources: {altinn: https://www.altinn.no/}
variables: {teams: [a, b]}
"""

ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write `mpctl.yaml` (BASE_PROJECT unless given) and resource files; return the directory."""

    def make(files: dict[str, str] | None = None, project: str = BASE_PROJECT) -> Path:
        (tmp_path / "mpctl.yaml").write_text(project, encoding="utf-8")
        for name, text in (files or {}).items():
            path = tmp_path / "resources" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        (tmp_path / "resources").mkdir(exist_ok=True)
        return tmp_path

    return make


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped example project."""
    target = tmp_path / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, target, ignore=shutil.ignore_patterns(".mpctl"))
    return target
