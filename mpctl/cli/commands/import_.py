"""`mpctl import`: write manifests that adopt existing remote clients; Digdir is only read.

Each imported client is limited to the environment it came from (`environments: [<env>]`) and
carries `adopt: <client_id>`, so the next `mpctl plan` shows an `adopt` step and the marker is
written by `mpctl apply`: reviewed, confirmed and under the environment lock like any change.
The file is written atomically and never over an existing one. Imported clients get
`keys: null`: mpctl does not take over keys someone else registered until the user removes
that line.

Names are readable forms of Digdir's client names (`readable_name`: `Håndlaget` →
`handlaget`, Norwegian letters folded to ASCII, unique with `-2`, `-3`). `--all-unmanaged`
imports every client that carries no mpctl marker, that no manifest adopts yet and that is
not the environment's own admin client; `--out` replaces an existing file only with `--force`.
"""

from __future__ import annotations

import asyncio
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mpctl.cli import console
from mpctl.cli.options import DEFAULT_MANIFESTS, EnvOption, ManifestsOption
from mpctl.errors import UserError
from mpctl.files import write_atomically
from mpctl.model import RESOURCE_NAME_PATTERN, ObservedClient

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
    all_unmanaged: Annotated[
        bool,
        typer.Option(
            "--all-unmanaged",
            help="Adopt every client without the mpctl marker that no manifest adopts yet.",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Manifest file to write (default resources/imported.yaml)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the --out file if it exists.")
    ] = False,
) -> int:
    """Write manifests for existing remote clients and mark them managed."""
    from mpctl.cli.environment import open_workspace  # noqa: PLC0415 - fast --help

    workspace = open_workspace(manifests, env)
    if not client_id and not all_unmanaged:
        raise UserError(
            "name the clients to adopt",
            hint="pass --client-id ID (see `mpctl plan`) or --all-unmanaged",
        )
    target = (out or workspace.directory / "resources" / "imported.yaml").resolve()
    _check_inside_resources(workspace, target)
    if target.exists() and not force:
        raise UserError(
            f"{target} exists; mpctl import never overwrites a manifest",
            hint="pass another --out FILE, or --force to replace it",
        )
    request = _Request(sorted(set(client_id or ())), all_unmanaged, target, force)
    names = asyncio.run(_import(workspace, request))
    if not names:
        console.success(f"No unmanaged clients in {workspace.env_name}; nothing written.")
        return 0
    console.success(
        f"Wrote {', '.join(names)} to {target} for {workspace.env_name} only; nothing changed "
        f"at Digdir. Review with `mpctl plan -e {workspace.env_name}`, then `mpctl apply` "
        "adopts them."
    )
    return 0


@dataclass(frozen=True)
class _Request:
    """What to import and where: named clients, or every unmanaged one, or both."""

    ids: list[str]
    all_unmanaged: bool
    target: Path
    force: bool


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


async def _import(workspace: Workspace, request: _Request) -> list[str]:
    from mpctl.cli.environment import connect  # noqa: PLC0415 - fast --help
    from mpctl.plan import parse_marker  # noqa: PLC0415 - fast --help

    replaced = _client_names_in(request.target) if request.force else set()
    adopted = {
        client.adopt
        for name, client in workspace.desired.clients.items()
        if client.adopt is not None and name not in replaced
    }
    skipped = adopted | _admin_client_ids(workspace)
    async with connect(workspace) as (remote, _):
        clients = [await remote.get_client(i) for i in request.ids]
        if request.all_unmanaged:
            named = set(request.ids)
            clients += [
                client
                for client in await remote.list_clients()
                if client.client_id not in named
                and client.client_id not in skipped
                and parse_marker(client.description) is None
            ]
    if not clients:
        return []
    clients.sort(key=lambda c: (c.client_name or c.client_id, c.client_id))
    taken = set(workspace.desired.clients) - replaced
    documents = [_document(client, taken, workspace.env_name) for client in clients]
    _write_documents(request.target, documents, workspace.env_name, overwrite=request.force)
    return [str(d["name"]) for d in documents]


def _admin_client_ids(workspace: Workspace) -> set[str]:
    """The environment's own admin clients: --all-unmanaged never adopts the client mpctl
    signs in with."""
    environment = workspace.environment
    return {c.client_id for c in (environment.admin, environment.admin_readonly) if c is not None}


def _client_names_in(target: Path) -> set[str]:
    """The client names the file that --force replaces declares: free to be used again."""
    try:
        text = target.read_text(encoding="utf-8")
    except OSError:
        return set()
    try:
        documents = list(YAML(typ="safe", pure=True).load_all(text))
    except YAMLError:
        return set()
    return {
        str(d["name"])
        for d in documents
        if isinstance(d, dict) and d.get("kind") == "Client" and "name" in d
    }


def _document(client: ObservedClient, taken: set[str], env: str) -> dict[str, Any]:
    from mpctl.plan import parse_marker, strip_marker  # noqa: PLC0415 - fast --help

    found = parse_marker(client.description)
    if found is not None:
        raise UserError(
            f"client {client.client_id} already carries the mpctl marker {found}",
            hint="it is managed by the manifests that declare that name; nothing to import",
        )
    name = unique_name(readable_name(client.client_name or client.client_id), taken)
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


_FOLDED = str.maketrans(
    {
        "æ": "ae",
        "Æ": "ae",
        "ø": "o",
        "Ø": "o",
        "å": "a",
        "Å": "a",
        "ß": "ss",
        "đ": "d",
        "Đ": "d",
        "ł": "l",
        "Ł": "l",
        "œ": "oe",
        "Œ": "oe",
        "þ": "th",
        "Þ": "th",
    }
)
_MAX_NAME = 63


def readable_name(text: str) -> str:
    """A resource name from a Digdir client name: Norwegian (and other Latin) letters folded
    to ASCII (`Håndlaget` → `handlaget`, `Kjøretøy Ærlig` → `kjoretoy-aerlig`), lower case,
    every run of other characters one `-`, trimmed to 63; `client` when nothing is left."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLDED))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:_MAX_NAME].strip("-")
    return slug or "client"


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3`, … (shortened to stay within 63) if it is taken; always
    a valid resource name."""
    candidate, counter = name, 2
    while candidate in taken:
        suffix = f"-{counter}"
        candidate = name[: _MAX_NAME - len(suffix)].rstrip("-") + suffix
        counter += 1
    assert RESOURCE_NAME_PATTERN.match(candidate), candidate
    return candidate


def _write_documents(
    target: Path, documents: list[dict[str, Any]], env: str, *, overwrite: bool
) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buffer = io.StringIO()
    buffer.write(_HEADER.format(env=env))
    yaml.dump_all(documents, buffer)
    write_atomically(target, buffer.getvalue().encode("utf-8"), overwrite=overwrite)
