"""Start-up of `mpctl validate` (issue 13, "Fast start"): what a fresh run does not import.

Owns the check, through the real CLI in a fresh interpreter (what `python -m mpctl` runs, from a
copy of the example project with an empty `.mpctl/`), that validating plain YAML loads no jinja2
(it loads with the first template), no sink module beyond the registry, and nothing of the
network side; and that the error boundary alone loads no asyncio. The run lists `sys.modules`
at its end: `-X importtime` would miss the modules loaded by `importlib.import_module` (lazy
commands, package exports, sink plug-ins). Also that `mpctl.secrets`'s lazy exports resolve
to their modules' own objects. Must not assert times: the benchmark
(benchmarks/startup.py) measures them, this test only pins the imports.
"""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mpctl.secrets

EXAMPLE_PROJECT = Path(__file__).resolve().parents[3] / "manifests"
TEMPLATE = Path("resources") / "teams.yaml.j2"
NETWORK_SIDE = ("httpx", "mpctl.remote", "mpctl.apply", "mpctl.verify", "mpctl.emulator")
NOT_FOR_PLAIN_YAML = (
    "jinja2",
    "mpctl.manifests.template",
    "mpctl.secrets.file",
    "cryptography",
    "asyncio",
)
RUN_AS_DASH_M = """
import runpy, sys
sys.argv = ["mpctl", *sys.argv[1:]]
try:
    runpy.run_module("mpctl", run_name="__main__", alter_sys=True)
finally:
    print("\\n".join(sorted(sys.modules)), file=sys.stderr)
"""


def _project(tmp_path: Path, *, with_template: bool) -> Path:
    """A copy of the example project with an empty `.mpctl/`, its template removed if asked."""
    shutil.copytree(EXAMPLE_PROJECT, tmp_path / "manifests")
    (tmp_path / ".mpctl").mkdir()
    if not with_template:
        (tmp_path / "manifests" / TEMPLATE).unlink()
    return tmp_path


def _imported_by(arguments: list[str], cwd: Path) -> tuple[set[str], str]:
    """Every module `mpctl ARGUMENTS` imports in a fresh interpreter, and what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_AS_DASH_M, *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    imported = set(done.stderr.split())
    assert "mpctl.cli.main" in imported, "the check must see the modules of the run"
    return imported, done.stdout


def _among(imported: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(n for n in imported if any(n == p or n.startswith(p + ".") for p in packages))


def test_validate_of_plain_yaml_loads_no_jinja_no_sink_and_no_network(tmp_path: Path) -> None:
    imported, printed = _imported_by(["validate"], _project(tmp_path, with_template=False))
    assert "scopes valid" in printed
    assert "mpctl.secrets.protocol" in imported, "validate asks the sink registry (SINKS)"
    assert _among(imported, NOT_FOR_PLAIN_YAML) == []
    assert _among(imported, NETWORK_SIDE) == []


def test_validate_loads_jinja_once_a_file_is_a_template(tmp_path: Path) -> None:
    imported, printed = _imported_by(["validate"], _project(tmp_path, with_template=True))
    assert "scopes valid" in printed
    assert {"jinja2", "mpctl.manifests.template"} <= imported
    assert _among(imported, NETWORK_SIDE) == []


@pytest.mark.parametrize("arguments", [["--help"], ["validate", "--help"]], ids=" ".join)
def test_the_error_boundary_loads_no_asyncio(arguments: list[str], tmp_path: Path) -> None:
    """Signal handling at the boundary needs no event loop: asyncio costs ~25 ms of start-up."""
    imported, _ = _imported_by(arguments, tmp_path)
    assert "mpctl.cli.interrupts" in imported
    assert _among(imported, ("asyncio",)) == []


def _typed_exports(init: Path) -> dict[str, str]:
    """name -> module of every `from mpctl.secrets.X import name` in the package's __init__."""
    imports = [
        node
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
    ]
    return {
        alias.name: node.module
        for node in imports
        if node.module and node.module.startswith("mpctl.secrets.")
        for alias in node.names
    }


def test_every_lazy_secrets_export_is_its_modules_own() -> None:
    """`mpctl.secrets` loads its exports on first use: each name in `__all__` is found, and is
    the very object the module its typed import names defines (the table cannot drift)."""
    typed = _typed_exports(Path(mpctl.secrets.__file__))
    assert sorted(typed) == sorted(mpctl.secrets.__all__)
    for name, module in sorted(typed.items()):
        own = getattr(importlib.import_module(module), name)
        assert getattr(mpctl.secrets, name) is own, name
    assert set(mpctl.secrets.__all__) <= set(dir(mpctl.secrets))
