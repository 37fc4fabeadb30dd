"""`mpctl state list|show`: what Digdir and the secret sinks hold for the managed resources.

Reads Digdir through the read-only admin path `mpctl plan` uses and each managed client's sink
labels (kids, times; never key material), so it answers on a fresh runner whose `.mpctl/` holds
no mpctl bookkeeping. Exit 0, or 1 on an error (an address that names no managed resource).
Must not write to Digdir or a sink.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mpctl.cli import console
from mpctl.cli.options import DEFAULT_MANIFESTS, EnvOption, ManifestsOption

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mpctl.cli.environment import Workspace
    from mpctl.render import Inventory
    from mpctl.secrets import SecretSink

OutputFormat = Literal["text", "json", "yaml"]
OutputOption = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]

app = typer.Typer(
    help="What Digdir and the secret stores hold for the managed resources.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("list")
def list_(
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    output: OutputOption = "text",
) -> None:
    """Every managed client and scope.

    Clients with their client_id, scopes, kids (Digdir's expiry, the sink's label) and sink;
    scopes with their consumers and delegation source; remote clients this project does not
    manage only as a count.
    """
    from mpctl.render import render_data, render_inventory  # noqa: PLC0415 - fast --help

    inventory = load_inventory(manifests, env)
    _write(render_inventory(inventory) if output == "text" else render_data(inventory, output))


@app.command("show")
def show(
    address: Annotated[
        str, typer.Argument(help="client/<name> or scope/<name>, as plans spell them.")
    ],
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    output: OutputOption = "text",
) -> None:
    """One managed client or scope, as Digdir and its sink hold it."""
    from mpctl.render import render_data, render_view  # noqa: PLC0415 - fast --help

    inventory = load_inventory(manifests, env)
    view = inventory.find(address)
    if view is None:
        from mpctl.errors import UserError  # noqa: PLC0415 - fast --help

        raise UserError(
            f"{address!r} names no managed client or scope in {inventory.env_name}",
            hint="known addresses: " + (", ".join(inventory.addresses) or "(none)"),
        )
    _write(render_view(view) if output == "text" else render_data(view, output))


def load_inventory(manifests: Path, env: str | None) -> Inventory:
    """Load the manifests for `env` and read the inventory from Digdir and the sinks."""
    from mpctl.cli.environment import open_workspace  # noqa: PLC0415 - fast --help

    workspace = open_workspace(manifests, env)
    return asyncio.run(read_workspace_inventory(workspace))


async def read_workspace_inventory(
    workspace: Workspace, sinks: Mapping[str, SecretSink] | None = None
) -> Inventory:
    """The inventory of the workspace's environment, over a read-only admin connection, with
    the labels of `sinks` (default: every managed client's)."""
    from mpctl.cli.environment import connect  # noqa: PLC0415 - fast --help
    from mpctl.state import read_inventory  # noqa: PLC0415 - fast --help

    labelled = workspace.open_sinks() if sinks is None else sinks
    async with connect(workspace) as (remote, _):
        with console.progress(f"Reading {workspace.env_name} from Digdir"):
            return await read_inventory(remote, workspace.desired, labelled)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
