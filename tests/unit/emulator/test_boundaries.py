"""The emulator is written from the API reference: it imports none of mpctl's client code."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import mpctl.emulator

PACKAGE = Path(mpctl.emulator.__file__).parent
SHARED = ("mpctl.errors", "mpctl.files")
"""Bottom-layer modules the emulator may share: they import nothing else of mpctl."""
ALLOWED_MPCTL = ("mpctl.emulator", *SHARED)
THIRD_PARTY = {
    "cryptography", "httpx", "pydantic", "ruamel", "starlette", "uvicorn",
}  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_emulator_imports_only_stdlib_third_party_and_itself() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if name.startswith(ALLOWED_MPCTL) or top in THIRD_PARTY:
                continue
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            offenders.append(f"{path.name}: {name}")
    assert offenders == []


@pytest.mark.parametrize("module", SHARED)
def test_what_the_emulator_shares_imports_no_other_mpctl_code(module: str) -> None:
    path = PACKAGE.parent / (module.removeprefix("mpctl.") + ".py")
    assert [name for name in imported_modules(path) if name.split(".")[0] == "mpctl"] == []


def test_the_scan_sees_forbidden_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from mpctl.remote import client\nimport mpctl.plan\n")
    assert imported_modules(sample) == {"mpctl.remote", "mpctl.plan"}
