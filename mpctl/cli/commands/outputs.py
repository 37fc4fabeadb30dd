"""`mpctl output CLIENT`: the values a workload needs for one client, from Digdir and its sink.

Prints the client_id (Digdir's), the current kid (the sink's label), the token endpoint, the
issuer (the grant's audience) and the scopes, as text, JSON or a seed 002 `.env` (the variable
names the client's sink writes, `SinkVariables`). The private key is printed only with
`--show-private-key`, with a warning on stderr. Exit 1 when the client is unknown, not in
Digdir yet, or has no current key. Must not write to Digdir or a sink.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mpctl.cli import console
from mpctl.cli.options import DEFAULT_MANIFESTS, EnvOption, ManifestsOption

if TYPE_CHECKING:
    from mpctl.cli.environment import Workspace
    from mpctl.model import SinkVariables
    from mpctl.render import ClientView, WorkloadValues

OutputFormat = Literal["text", "json", "env"]


def output(
    client: Annotated[str, typer.Argument(help="The client's name (or client/<name>).")],
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--output", "-o", help="text, json, or env (seed 002's MASKINPORTEN_*)."),
    ] = "text",
    show_private_key: Annotated[
        bool,
        typer.Option(
            "--show-private-key",
            help="Also print the current private key (PEM). It is secret: pipe it into a "
            "secret store, never into a terminal, a log or a file in the repository.",
        ),
    ] = False,
) -> None:
    """The values a workload needs for one client (client_id, kid, endpoints, issuer).

    Read from Digdir (read-only admin access, as plan) and the client's secret sink labels;
    the private key only with --show-private-key.
    """
    from mpctl.cli.environment import open_workspace  # noqa: PLC0415 - fast --help

    workspace = open_workspace(manifests, env)
    name = _client_name(workspace, client)
    values = asyncio.run(workload_values(workspace, name, with_private_key=show_private_key))
    if values.private_key is not None:
        console.warning(
            f"Warning: the output holds the private key of {name!r}: keep it out of terminals, "
            "logs and repositories."
        )
    sys.stdout.write(_render(workspace, name, values, output_format))
    sys.stdout.flush()


def _client_name(workspace: Workspace, given: str) -> str:
    """The manifest name `given` names (`name` or `client/name`); exit 1 with the known ones."""
    from mpctl.errors import UserError  # noqa: PLC0415 - fast --help

    name = given.removeprefix("client/")
    if name in workspace.desired.clients:
        return name
    known = ", ".join(workspace.desired.clients) or "(none)"
    raise UserError(
        f"{given!r} is not a client of environment {workspace.env_name}",
        hint=f"clients: {known}",
    )


async def workload_values(
    workspace: Workspace, name: str, *, with_private_key: bool
) -> WorkloadValues:
    """What Digdir and the client's sink say a workload of `name` needs; the private key
    only when `with_private_key`."""
    from mpctl.cli.commands.state import read_workspace_inventory  # noqa: PLC0415 - fast --help
    from mpctl.plan import managed_sinks  # noqa: PLC0415 - fast --help
    from mpctl.render import ClientView, WorkloadValues  # noqa: PLC0415 - fast --help
    from mpctl.secrets import to_pem  # noqa: PLC0415 - fast --help

    specs = {n: s for n, s in managed_sinks(workspace.desired).items() if n == name}
    sinks = workspace.open_sinks(specs)
    inventory = await read_workspace_inventory(workspace, sinks)
    view = inventory.find(f"client/{name}")
    assert isinstance(view, ClientView)  # every client of the manifests has a view
    client_id, kid = _identity(view, keys_managed=name in specs, wanted_key=with_private_key)
    private_key = None
    if with_private_key and kid is not None:
        private_key = to_pem(await sinks[name].load_private_key(name, kid))
    environment = workspace.environment
    return WorkloadValues(
        client=name,
        client_id=client_id,
        kid=kid,
        token_endpoint=str(environment.token_endpoint),
        issuer=environment.issuer,
        audience=environment.issuer,
        scopes=view.scopes,
        private_key=private_key,
    )


def _identity(view: ClientView, *, keys_managed: bool, wanted_key: bool) -> tuple[str, str | None]:
    """The client_id and current kid, or exit 1 saying what is missing and what to run."""
    from mpctl.errors import UserError  # noqa: PLC0415 - fast --help

    if view.client_id is None:
        raise UserError(
            f"client {view.name!r} has no client in Digdir that this project manages yet",
            hint="run `mpctl plan` and `mpctl apply` (they create or adopt it)",
        )
    if not keys_managed:
        if wanted_key:
            raise UserError(
                f"mpctl manages no key for client {view.name!r} (keys: null)",
                hint="its key is kept wherever it was made, outside mpctl",
            )
        return view.client_id, None
    current = next((key for key in view.keys if key.label == "current"), None)
    if current is None:
        raise UserError(
            f"client {view.name!r} has no current key in its secret sink",
            hint="run `mpctl apply` (on a fresh runner the sink must be a durable store)",
        )
    if not current.registered:
        console.warning(f"Warning: Digdir does not list the current kid {current.kid!r}.")
    return view.client_id, current.kid


def _render(workspace: Workspace, name: str, values: WorkloadValues, fmt: OutputFormat) -> str:
    from mpctl.render import render_data, render_workload  # noqa: PLC0415 - fast --help

    if fmt == "text":
        return render_workload(values)
    if fmt == "json":
        return render_data(values, "json")
    return _env_file(workspace, name, values)


def _env_file(workspace: Workspace, name: str, values: WorkloadValues) -> str:
    """Seed 002's `.env` under the names the client's sink writes (PEM key, double-quoted)."""
    from mpctl.secrets import render_env_file  # noqa: PLC0415 - fast --help

    header = f"mpctl output {name} (environment {workspace.env_name})"
    variables = _sink_variables(workspace, name)
    return render_env_file(_env_values(values, variables), header=header)


def _env_values(values: WorkloadValues, variables: SinkVariables) -> dict[str, str]:
    """`workload_variables` (the sinks' own naming) without what was not asked for or is
    not known: the key unless shown, the kid when mpctl manages no key."""
    from mpctl.secrets import workload_variables  # noqa: PLC0415 - fast --help

    found = workload_variables(
        variables,
        client_id=values.client_id,
        kid=values.kid or "",
        private_key_pem=values.private_key or "",
        token_endpoint=values.token_endpoint,
        issuer=values.issuer,
    )
    if values.private_key is None:
        del found[variables.private_key]
    if values.kid is None:
        del found[variables.kid]
    return found


def _sink_variables(workspace: Workspace, name: str) -> SinkVariables:
    """The variable names the client's sink writes (seed 002's unless the sink renames them)."""
    from mpctl.model import SinkVariables  # noqa: PLC0415 - fast --help

    client = workspace.desired.clients[name]
    spec = (client.keys.sink if client.keys else None) or workspace.environment.sink
    variables = getattr(spec, "variables", None)
    return variables if isinstance(variables, SinkVariables) else SinkVariables()
