"""How help reads: metavars that name what a value is, and an example or two per command.

Owns `teach(command, path)`, which the lazy registry applies to each command it builds: an option
whose value has no metavar of its own gets one made from what it holds (`DIR`, `FILE`, `N`,
`[text|json]`, else the option's name: `--target TARGET`), and the command gets its examples
from `EXAMPLES` as an epilog, shown as written. Must not change what a command parses or does.
"""

from __future__ import annotations

from typing import get_args

from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

_EXAMPLE_LINES: dict[str, tuple[str, ...]] = {
    "": (
        "mpctl init acme && cd acme",
        "mpctl validate && mpctl plan --out plan.json && mpctl apply --plan plan.json",
        "mpctl verify",
    ),
    "validate": ("mpctl validate", "mpctl validate -A   # every environment"),
    "plan": (
        "mpctl plan -e test --out plan.json",
        "mpctl plan --format markdown > plan.md",
        "mpctl plan --detailed-exitcode   # exit 2 on drift",
        "mpctl plan --rotate billing-invoices",
    ),
    "apply": (
        "mpctl apply --plan plan.json",
        "mpctl apply -e test --auto-approve --parallelism 16",
        "mpctl apply --rotate billing-invoices --auto-approve",
        "mpctl apply --force-unlock 6f1c…   # the id the lock error printed",
    ),
    "verify": ("mpctl verify", "mpctl verify --client billing-invoices --format json"),
    "import": ("mpctl import --client-id 5f3c9e2a-7b1d-4e8f-a6c4-0d2b9f1e7a35",),
    "explain": ("mpctl explain MP-122", 'mpctl explain "invalid_client"'),
    "readiness": ("mpctl readiness",),
    "schemas": ("mpctl schemas   # exit 1 when schemas/ is stale", "mpctl schemas --write"),
    "init": ("mpctl init acme --orgno 313367002 --name 'ACME AS'",),
    "show": ("mpctl show plan.json", "mpctl show plan.json --format markdown"),
    "graph": ("mpctl graph plan.json", "mpctl graph -e test --format dot | dot -Tsvg > plan.svg"),
    "output": ("mpctl output billing-invoices", "mpctl output billing-invoices -o json"),
    "fmt": ("mpctl fmt", "mpctl fmt --check   # in CI and pre-commit"),
    "state": ("mpctl state list", "mpctl state show client/billing-invoices -o json"),
    "state list": ("mpctl state list -o yaml",),
    "state show": ("mpctl state show client/billing-invoices",),
    "keys create": ("mpctl keys create billing --environments TEST,PROD",),
    "keys export": ("mpctl keys export billing --environment TEST --format jwks",),
    "keys revoke": ("mpctl keys revoke billing-invoices billing-invoices-2026-01-01",),
    "emulator serve": ("mpctl emulator serve --port 8080",),
    "emulator reset": ("mpctl emulator reset --yes",),
    "emulator issue-certificate": (
        "mpctl emulator issue-certificate --orgno 313367002 --cert cert.pem --key key.pem "
        "--state .mpctl/local/emulator-state.json",
    ),
    "gitops plan": ("mpctl gitops plan -e test --pr 42 --out plan.json",),
    "gitops apply": ("mpctl gitops apply -e test",),
    "gitops drift": ("mpctl gitops drift -e prod",),
    "audit push": ("mpctl audit push",),
}
EXAMPLES = {
    path: "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
    for path, lines in _EXAMPLE_LINES.items()
}
"""Each command's epilog by its path under `mpctl` ("" is the root, "state show" a subcommand)."""


_BY_NAME = {
    "force_unlock": "LOCK-ID",
    "remove_foreign_kids": "KID",
    "revoke": "KID",
    "rotate": "CLIENT",
    "target": "NAME",
}
"""Where the parameter's name says less than what it takes."""


def teach(command: _click.Command, path: str) -> _click.Command:
    """`command` (and its subcommands) with readable metavars and its examples, if any."""
    for parameter in command.params:
        if isinstance(parameter, TyperOption | TyperArgument) and parameter.metavar is None:
            parameter.metavar = _metavar(parameter)
    examples = EXAMPLES.get(path)
    if examples and examples not in (command.epilog or ""):
        command.epilog = f"{command.epilog}\n\n{examples}" if command.epilog else examples
    if isinstance(command, TyperGroup):
        for name, child in command.commands.items():
            teach(child, f"{path} {name}".strip())
    return command


def _metavar(parameter: TyperOption | TyperArgument) -> str | None:
    """What the value is: a choice's values, DIR or FILE, N, else the parameter's name."""
    if isinstance(parameter, TyperOption) and (parameter.is_flag or parameter.count):
        return None
    if parameter.name in _BY_NAME:
        return _BY_NAME[parameter.name]
    kind = parameter.type_descriptor
    if kind.is_choice:
        return "[" + "|".join(str(choice) for choice in kind.choices or ()) + "]"
    if kind.is_path:
        return {"directory": "DIR", "dir": "DIR"}.get(kind.path_type, "FILE")
    element = get_args(kind.annotation)[0] if kind.is_list else kind.annotation
    if element in (int, float):
        return "N"
    name = parameter.name or "value"
    return _BY_NAME.get(name, name.upper().replace("_", "-"))
