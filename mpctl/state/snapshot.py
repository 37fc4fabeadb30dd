"""One observation of an environment: Digdir's state plus every managed client's sink labels.

Owns opening the secret sinks a plan or the manifests name (one per client, keyed by client
name) and taking a `Snapshot` whose fingerprint is what saved plans are checked against.
Read-only: must not write to Digdir or to any sink, and must not plan.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mpctl.model import Environment, ObservedState, SinkSpec, SinkState
from mpctl.plan import observed_fingerprint
from mpctl.remote import RemoteApi, fetch
from mpctl.secrets import SecretSink, SinkContext, open_sink, read_states


@dataclass(frozen=True)
class Snapshot:
    """What was observed, at one moment, for one environment."""

    observed: ObservedState
    sinks: Mapping[str, SinkState]

    @property
    def fingerprint(self) -> str:
        return observed_fingerprint(self.observed, self.sinks)


def open_sinks(
    specs: Mapping[str, SinkSpec], *, env_name: str, environment: Environment, base_dir: Path
) -> dict[str, SecretSink]:
    """The secret sink of every client in `specs` (`mpctl.plan.managed_sinks`, or a saved
    plan's `sinks`), by client name; relative sink paths are under `base_dir`."""
    context = SinkContext(
        environment=env_name,
        base_dir=base_dir,
        issuer=environment.issuer,
        token_endpoint=str(environment.token_endpoint),
        embedded_emulator=environment.emulator is not None,
    )
    return {name: open_sink(spec, context) for name, spec in sorted(specs.items())}


async def observe(api: RemoteApi, *, orgno: str, sinks: Mapping[str, SecretSink]) -> Snapshot:
    """Fetch Digdir's state once and read every sink's labels, the two at the same time (the
    sinks' reads run while Digdir's answers are on their way). Either failing fails the
    observation with its own error: a sink's stops the fetch."""
    fetching = asyncio.create_task(fetch(api, orgno=orgno))
    try:
        labels = await read_states(sinks)
    except BaseException:
        fetching.cancel()
        with contextlib.suppress(BaseException):  # the sink's error is the one reported
            await fetching
        raise
    return Snapshot(await fetching, labels)
