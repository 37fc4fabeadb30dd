"""Architecture rules that import-linter cannot express: a package is used through its `__init__`.

Owns: the check that a module of mpctl importing from another top-level package of mpctl (say
`mpctl.apply` importing from `mpctl.plan`) names the package (`from mpctl.plan import make_plan`),
never one of its modules (`from mpctl.plan.types import Plan`), so each package's `__init__` is its
whole public surface. Imports inside one top-level package, and of the single-module layers
(`mpctl.errors`, `mpctl.redaction`), are free. Must not: import mpctl (it reads the source as
text), or repeat the import-linter contracts in pyproject.toml (layers, purity, the emulator's
allow-list).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

# (importer, imported module) pairs that may reach past a package's __init__, each with its reason.
ALLOWED: dict[tuple[str, str], str] = {
    ("mpctl.__main__", "mpctl.cli.main"): (
        "`python -m mpctl` runs the very function the console script names in pyproject.toml "
        "(`mpctl.cli.main:run`); the CLI is the top layer, used by no other package, so its "
        "__init__ exports nothing"
    ),
}


@dataclass(frozen=True)
class Reach:
    """One import that reaches into another package past its __init__."""

    importer: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def module_name(root: Path, path: Path) -> str:
    """The dotted name of the module at `path`, under the directory that holds the root package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def top_package(root: Path, module: str) -> str | None:
    """`mpctl.plan` for `mpctl.plan.types`; None for a single-module layer such as mpctl.errors."""
    parts = module.split(".")
    if len(parts) < 2 or not (root / parts[0] / parts[1] / "__init__.py").is_file():
        return None
    return ".".join(parts[:2])


def is_module(root: Path, module: str) -> bool:
    """Whether `module` is a module or package on disk (rather than a name defined in one)."""
    base = root.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` names, resolving leading dots against `importer`."""
    if node.level == 0:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def exported_names(root: Path, package: str) -> frozenset[str]:
    """The names in the `__all__` list of `package`'s `__init__` (empty for a plain module)."""
    init = root.joinpath(*package.split("."), "__init__.py")
    if not init.is_file():
        return frozenset()
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def imported_modules(root: Path, path: Path) -> list[tuple[int, str]]:
    """Every module of the root package that the file at `path` imports, with its line.

    `from mpctl.plan import types` imports the module mpctl.plan.types, so a name that is a
    module on disk counts as that module, unless the package's `__init__` exports that name
    (`from mpctl.remote import fetch` is the function `mpctl.remote.fetch.fetch` the `__init__`
    re-exports, which shadows the module of the same name).
    """
    importer = module_name(root, path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = absolute(importer, path.name == "__init__.py", node)
            exported = exported_names(root, source)
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                is_submodule = alias.name not in exported and is_module(root, candidate)
                found.append((node.lineno, candidate if is_submodule else source))
    package = importer.split(".")[0]
    return [(line, name) for line, name in dict.fromkeys(found) if name.split(".")[0] == package]


def reaches_past_init(root: Path, package: str) -> list[Reach]:
    """Every import in `root/package` of a module inside another top-level package."""
    reaches: list[Reach] = []
    for path in sorted((root / package).rglob("*.py")):
        importer = module_name(root, path)
        for line, imported in imported_modules(root, path):
            target = top_package(root, imported)
            if target is None or imported == target or target == top_package(root, importer):
                continue
            if (importer, imported) not in ALLOWED:
                reaches.append(Reach(importer, line, imported))
    return reaches


def write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_check_finds_every_form_of_reaching_past_an_init(tmp_path: Path) -> None:
    write(tmp_path, "pkg/__init__.py")
    write(tmp_path, "pkg/errors.py")
    write(tmp_path, "pkg/plan/__init__.py", "from pkg.plan.types import Plan\n")
    write(tmp_path, "pkg/plan/types.py", "from .order import order\nPlan = 1\n")
    write(tmp_path, "pkg/plan/order.py")
    write(
        tmp_path,
        "pkg/apply/engine.py",
        "from pkg.plan import Plan\n"  # through the package: fine
        "from pkg.errors import E\n"  # a single-module layer: fine
        "from pkg.plan.types import Plan\n"  # absolute, past the __init__
        "from ..plan import order, types\n"  # modules named through their package
        "import pkg.plan.order\n"  # plain import
        "def later():\n"
        "    from ..plan.types import Plan\n",  # relative, deferred
    )
    write(tmp_path, "pkg/apply/__init__.py", "from .engine import later\n")

    assert [str(reach) for reach in reaches_past_init(tmp_path, "pkg")] == [
        "pkg.apply.engine:3 imports pkg.plan.types",
        "pkg.apply.engine:4 imports pkg.plan.order",
        "pkg.apply.engine:4 imports pkg.plan.types",
        "pkg.apply.engine:5 imports pkg.plan.order",
        "pkg.apply.engine:7 imports pkg.plan.types",
    ]


def test_a_name_the_init_exports_is_not_the_module_it_shadows(tmp_path: Path) -> None:
    write(tmp_path, "pkg/__init__.py")
    write(
        tmp_path,
        "pkg/remote/__init__.py",
        'from pkg.remote.fetch import fetch\n__all__ = ["fetch"]\n',
    )
    write(tmp_path, "pkg/remote/fetch.py", "def fetch(): ...\n")
    write(tmp_path, "pkg/remote/client.py")
    write(tmp_path, "pkg/state/__init__.py")
    write(
        tmp_path,
        "pkg/state/snapshot.py",
        "from pkg.remote import fetch\n"  # the function the __init__ exports: fine
        "from pkg.remote import client\n",  # a module the __init__ does not export
    )

    assert [str(reach) for reach in reaches_past_init(tmp_path, "pkg")] == [
        "pkg.state.snapshot:2 imports pkg.remote.client",
    ]


def test_every_allowed_exception_still_exists() -> None:
    every_import = {
        (module_name(REPO, path), imported)
        for path in (REPO / "mpctl").rglob("*.py")
        for _, imported in imported_modules(REPO, path)
    }
    assert set(ALLOWED) <= every_import, "remove the stale entries from ALLOWED"


def test_cross_package_imports_go_through_each_package_init() -> None:
    reaches = reaches_past_init(REPO, "mpctl")
    assert not reaches, (
        "import these through the package (`from mpctl.plan import X`), exporting X from its "
        "__init__ if needed, or add the pair to ALLOWED with its reason:\n"
        + "\n".join(str(reach) for reach in reaches)
    )
