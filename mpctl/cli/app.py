"""The typer application: wiring only. Each command lives in `mpctl.cli.commands.<name>`.

Commands load lazily: the root group knows each command's name and one-line summary, and imports
a command's module only when that command runs, shows its help or is looked up, so `mpctl --help`
and a light command never import the emulator, httpx, verify or the vendor SDKs. Must not import
a command module at import time, nor hold any command logic.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass
from typing import Any, cast

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup

from mpctl import __version__
from mpctl.cli.help_format import EXAMPLES, teach

_WHOLE = 1_000
"""A summary is listed whole (wrapped), never cut short with "..."."""

_SETTINGS: dict[str, Any] = {
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}


@dataclass(frozen=True)
class LazyCommand:
    """A command the root group lists by `summary` and builds only when it is needed."""

    name: str
    summary: str
    """The first paragraph of the command's help, as `mpctl --help` lists it."""
    register: Callable[[typer.Typer], None]
    """Imports the command's module and registers it on the given app, as eager wiring would."""
    hidden: bool = False


def _command(module: str, function: str, **options: Any) -> Callable[[typer.Typer], None]:
    def register(app: typer.Typer) -> None:
        imported = importlib.import_module(f"mpctl.cli.commands.{module}")
        app.command(**options)(getattr(imported, function))

    return register


def _group(module: str, name: str, help_text: str) -> Callable[[typer.Typer], None]:
    def register(app: typer.Typer) -> None:
        imported = importlib.import_module(f"mpctl.cli.commands.{module}")
        app.add_typer(imported.app, name=name, help=help_text)

    return register


def _explain(app: typer.Typer) -> None:
    from mpctl.cli.commands import explain  # noqa: PLC0415 - loaded only when explain is used

    app.command(context_settings=explain.CONTEXT_SETTINGS)(explain.explain)


_KEYS_HELP = "Local key tooling (altinn-jwks style)."
_STATE_HELP = "What Digdir and the secret stores hold for the managed resources."
_EMULATOR_HELP = "Run the local Digdir emulator."
_GITOPS_HELP = "Pull-request plan comments, apply of the reviewed plan on merge, drift issues."
_AUDIT_HELP = "The audit trail of applies."

COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand(
        "validate",
        "Check manifests against the schema and Maskinporten's rules; exit 1 on any error.",
        _command("validate", "validate"),
    ),
    LazyCommand(
        "plan",
        "Show the changes that would make Digdir match the manifests.",
        _command("plan", "plan"),
    ),
    LazyCommand(
        "apply",
        "Make Digdir match the manifests: the saved plan, or a fresh one.",
        _command("apply", "apply"),
    ),
    LazyCommand(
        "verify",
        "Prove the result: mint tokens with the current keys and check their claims.",
        _command("verify", "verify"),
    ),
    LazyCommand(
        "import",
        "Write manifests for existing remote clients and mark them managed.",
        _command("import_", "import_clients", name="import"),
    ),
    LazyCommand(
        "explain",
        "Explain a Maskinporten error: what causes it and how to fix it; exit 1 if unknown.",
        _explain,
    ),
    LazyCommand(
        "readiness",
        "Check the MASKINPORTEN_* environment offline: exit 0 ready or mock, 1 not ready.",
        _command("readiness", "readiness"),
    ),
    LazyCommand(
        "schemas",
        "Check that schemas/ matches the models (exit 1 if not), or rewrite it with --write.",
        _command("schemas", "schemas"),
    ),
    LazyCommand(
        "init",
        "Start a project: mpctl.yaml, an emulator world and one client, ready to plan.",
        _command("init", "init"),
    ),
    LazyCommand(
        "show",
        "Render a saved plan file as text, Markdown or JSON; nothing is contacted.",
        _command("show", "show"),
    ),
    LazyCommand(
        "graph",
        "The plan's step dependencies as a Mermaid or DOT graph.",
        _command("graph", "graph"),
    ),
    LazyCommand(
        "output",
        "The values a workload needs for one client (client_id, kid, endpoints, issuer).",
        _command("outputs", "output", name="output"),
    ),
    LazyCommand(
        "fmt",
        "Rewrite manifests in the canonical form; --check exits 1 if any would change.",
        _command("fmt", "fmt"),
    ),
    LazyCommand("state", _STATE_HELP, _group("state", "state", _STATE_HELP)),
    LazyCommand("keys", _KEYS_HELP, _group("keys", "keys", _KEYS_HELP)),
    LazyCommand("emulator", _EMULATOR_HELP, _group("emulator", "emulator", _EMULATOR_HELP)),
    LazyCommand("gitops", _GITOPS_HELP, _group("gitops", "gitops", _GITOPS_HELP)),
    LazyCommand("audit", _AUDIT_HELP, _group("audit", "audit", _AUDIT_HELP)),
)


def build_command(entry: LazyCommand) -> _click.Command:
    """The command as eager wiring on the root app would build it (imports its module)."""
    holder = typer.Typer(**_SETTINGS)
    holder.callback()(_nothing)
    entry.register(holder)
    group = cast(TyperGroup, typer.main.get_command(holder))
    return teach(group.commands[entry.name], entry.name)


def _nothing() -> None:
    """The holder app's callback: makes typer build a group around one command."""


class LazyCommands(dict[str, _click.Command]):
    """The root's commands by name: every name is known, a command is built on first lookup.

    A dict (typer and tests treat a group's `commands` as one); reading a value loads it, while
    names, membership and `peek` never import anything.
    """

    def __init__(self, loaded: Mapping[str, _click.Command], lazy: tuple[LazyCommand, ...]):
        super().__init__(loaded)
        self._pending = {entry.name: entry for entry in lazy if entry.name not in loaded}
        self._order = [*loaded, *self._pending]

    def peek(self, name: str) -> _click.Command | LazyCommand | None:
        """The command if it is loaded, its lazy entry if not (nothing is imported)."""
        return self._pending.get(name) or dict.get(self, name)

    def __getitem__(self, name: str) -> _click.Command:
        entry = self._pending.pop(name, None)
        if entry is not None:
            dict.__setitem__(self, name, build_command(entry))
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        if name not in self:
            return default
        return self[name]

    def __setitem__(self, name: str, command: _click.Command) -> None:
        self._pending.pop(name, None)
        if name not in self._order:
            self._order.append(name)
        dict.__setitem__(self, name, command)

    def __contains__(self, name: object) -> bool:
        return name in self._pending or dict.__contains__(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        return KeysView(self)

    def values(self) -> ValuesView[_click.Command]:  # type: ignore[override]
        return ValuesView(self)

    def items(self) -> ItemsView[str, _click.Command]:  # type: ignore[override]
        return ItemsView(self)


class LazyGroup(TyperGroup):
    """The root group: `COMMANDS` as lazy entries; help lists them without importing them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.commands, COMMANDS)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """As typer lists commands, with a not yet loaded command stood in for by its entry."""
        listed = [(name, self._listed(name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in listed if not command.hidden]
        if not shown:
            return
        rows = [(name, command.get_short_help_str(limit=_WHOLE)) for name, command in shown]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _listed(self, name: str) -> _click.Command:
        known = cast(LazyCommands, self.commands).peek(name)
        if isinstance(known, LazyCommand):
            return TyperCommand(name, help=known.summary, hidden=known.hidden)
        assert known is not None
        return known


app = typer.Typer(
    name="mpctl",
    help="Declarative Maskinporten: manifests → plan → apply → verify.",
    epilog=EXAMPLES[""],
    no_args_is_help=True,
    cls=LazyGroup,
    **{**_SETTINGS, "add_completion": True},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mpctl {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Also show each request (method, path, status, duration, correlation id) and each "
        "retry; never headers or bodies.",
    ),
) -> None:
    """Declarative Maskinporten: manifests → plan → apply → verify."""
    from mpctl.cli import logs  # noqa: PLC0415 - rich and stamina only once a command runs

    logs.configure(verbose=verbose)
