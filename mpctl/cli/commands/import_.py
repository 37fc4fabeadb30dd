"""`mpctl import`: write manifests that adopt existing remote clients; Digdir is only read.

Each imported client is limited to the environment it came from (`environments: [<env>]`) and
carries `adopt: <client_id>`, so the next `mpctl plan` shows an `adopt` step and the marker is
written by `mpctl apply`: reviewed, confirmed and under the environment lock like any change.
The file is written atomically and never over an existing one. Imported clients get
`keys: null`: mpctl does not take over keys someone else registered until the user removes
that line.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from ruamel.yaml import YAML

from mpctl.cli import console
from mpctl.cli.options import DEFAULT_MANIFESTS, EnvOption, ManifestsOption
from mpctl.errors import UserError
from mpctl.files import write_atomically
from mpctl.model import ObservedClient

if TYPE_CHECKING:
    from mpctl.cli.environment import Workspace

_HEADER = (
    "# yaml-language-server: $schema=../../schemas/manifest.schema.json\n"
    "# Imported by `mpctl import` from {env}. keys: null means mpctl leaves this client's keys\n"
    "# alone; remove that line to let mpctl manage and rotate them.\n"
)


def import_clients(
    manifests: ManifestsOption = DEFAULT_MANIFESTS,
    env: EnvOption = None,
    client_id: Annotated[
        list[str] | None, typer.Option("--client-id", help="Client to adopt (repeatable).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Manifest file to write (must not exist).")
    ] = None,
) -> int:
    """Write manifests for existing remote clients and mark them managed."""
    from mpctl.cli.environment import open_workspace  # noqa: PLC0415 - fast --help

    workspace = open_workspace(manifests, env)
    if not client_id:
        raise UserError("name the clients to adopt", hint="pass --client-id ID (see `mpctl plan`)")
    target = (out or workspace.directory / "resources" / "imported.yaml").resolve()
    _check_inside_resources(workspace, target)
    names = asyncio.run(_import(workspace, sorted(set(client_id)), target))
    console.success(
        f"Wrote {', '.join(names)} to {target} for {workspace.env_name} only; nothing changed "
        f"at Digdir. Review with `mpctl plan -e {workspace.env_name}`, then `mpctl apply` "
        "adopts them."
    )
    return 0


def _check_inside_resources(workspace: Workspace, target: Path) -> None:
    """An import mpctl would not read back leaves a marked client without a manifest."""
    roots = [
        (workspace.directory / entry).resolve() for entry in workspace.project.config.resources
    ]
    if not any(target == root or target.is_relative_to(root) for root in roots):
        raise UserError(
            f"{target} is outside the project's resources, so mpctl would not see it",
            hint=f"write it under one of: {', '.join(str(r) for r in roots)}",
        )


async def _import(workspace: Workspace, ids: list[str], target: Path) -> list[str]:
    if target.exists():
        raise UserError(f"{target} exists; mpctl import never overwrites a manifest")
    from mpctl.cli.environment import connect  # noqa: PLC0415 - fast --help

    async with connect(workspace) as (remote, _):
        clients = [await remote.get_client(i) for i in ids]
    taken = set(workspace.desired.clients)
    documents = [_document(client, taken, workspace.env_name) for client in clients]
    _write_documents(target, documents, workspace.env_name)
    return [str(d["name"]) for d in documents]


def _document(client: ObservedClient, taken: set[str], env: str) -> dict[str, Any]:
    from mpctl.plan import parse_marker, strip_marker  # noqa: PLC0415 - fast --help

    found = parse_marker(client.description)
    if found is not None:
        raise UserError(
            f"client {client.client_id} already carries the mpctl marker {found}",
            hint="it is managed by the manifests that declare that name; nothing to import",
        )
    name = _unique(_slug(client.client_name or client.client_id), taken)
    taken.add(name)
    document: dict[str, Any] = {
        "kind": "Client",
        "name": name,
        "description": strip_marker(client.description) or name,
        **({"client_name": client.client_name} if client.client_name else {}),
        "integration_type": client.integration_type or "maskinporten",
        "scopes": sorted(client.scopes),
        "environments": [env],
        "adopt": client.client_id,
    }
    if client.access_token_lifetime:
        document["access_token_lifetime"] = client.access_token_lifetime
    document["keys"] = None
    return document


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].strip("-")
    return slug or "client"


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 2
    while candidate in taken:
        candidate = f"{name[:60]}-{counter}"
        counter += 1
    return candidate


def _write_documents(target: Path, documents: list[dict[str, Any]], env: str) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buffer = io.StringIO()
    buffer.write(_HEADER.format(env=env))
    yaml.dump_all(documents, buffer)
    write_atomically(target, buffer.getvalue().encode("utf-8"), overwrite=False)
