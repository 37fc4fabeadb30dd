"""The manifests' sink blocks checked against the installed sinks, as located findings.

Owns finding every sink block one environment uses (the environment's `sink:` and each client's
`keys.sink`), asking the secrets layer whether it can be opened (the type is installed; a
plug-in's block validates with the plug-in's own model) and placing each problem at its
FILE:LINE. The manifests layer cannot do this: it must not import the secrets layer, which finds
the plug-ins. Must not open a sink or read a store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from mpctl.manifests import FindingSeverity, LoadResult, ManifestFinding
from mpctl.model import Client, SinkSpec
from mpctl.secrets import SINKS

Position = tuple[str, int]
"""(file, line)"""


@dataclasses.dataclass(frozen=True)
class SinkBlock:
    """One sink block as one environment uses it: what it is, who uses it, where it is written."""

    spec: SinkSpec
    owner: str
    """`environment 'test'` or `client 'billing'`."""
    lines: Mapping[tuple[str | int, ...], Position]
    """Positions of the block's values, by path inside the block."""
    fallback: Position


def with_sink_findings(result: LoadResult) -> LoadResult:
    """`result` plus a finding for every sink block that cannot be opened (no desired state
    when there is one: the environment is not valid)."""
    found = sink_findings(result)
    if not found:
        return result
    return dataclasses.replace(
        result,
        desired=None,
        diagnostics=sorted({*result.diagnostics, *found}),
    )


def sink_findings(result: LoadResult) -> list[ManifestFinding]:
    """A located finding for each problem of each sink block the environment uses."""
    found: set[ManifestFinding] = set()
    for block in _sink_blocks(result):
        for problem in SINKS.problems(block.spec):
            file, line = _position(block, problem.path)
            where = ".".join(str(part) for part in ("sink", *problem.path))
            found.add(
                ManifestFinding(
                    file,
                    line,
                    "MPL005",
                    f"{block.owner}, {where} (type {block.spec.type!r}): {problem.message}",
                    problem.hint,
                    FindingSeverity.ERROR,
                )
            )
    return sorted(found)


def _sink_blocks(result: LoadResult) -> Iterator[SinkBlock]:
    project, env = result.project, result.env_name
    if project is None or env is None or env not in project.config.environments:
        return
    prefix = ("environments", env, "sink")
    lines = project.document.lines
    yield SinkBlock(
        project.config.environments[env].sink,
        f"environment {env!r}",
        {
            path[len(prefix) :]: (project.config_file, line)
            for path, line in lines.items()
            if path[: len(prefix)] == prefix
        },
        (project.config_file, lines.get(prefix[:2], 1)),
    )
    for located in result.resources:
        client = located.resource
        if isinstance(client, Client) and client.keys is not None and client.keys.sink:
            yield SinkBlock(
                client.keys.sink,
                f"client {client.name!r}",
                {
                    path[2:]: where
                    for path, where in located.lines.items()
                    if path[:2] == ("keys", "sink")
                },
                located.at("keys", "sink"),
            )


def _position(block: SinkBlock, path: tuple[str | int, ...]) -> Position:
    """Where the value at `path` inside the block is written (the nearest written parent)."""
    for end in range(len(path), -1, -1):
        where = block.lines.get(path[:end])
        if where is not None:
            return where
    return block.fallback
