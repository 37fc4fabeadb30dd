"""The real CLI with HashiCorp Vault KV v2 as the sink: every rotation phase, through `mpctl`.

The example's `local` environment (the embedded emulator) gets `sink: {type: vault-kv, address:
<the fake Vault>, auth: {method: token, token: {env: MPCTL_VAULT_TOKEN}}}`; the fake
(`tests.fakes.vault`) runs in this process, `mpctl` in child processes with a token of the
documented apply policy only. validate → plan → apply → verify converge; `apply --rotate`
stages, registers, tests and promotes a new key, after which the workload (a token of the
documented workload policy, reading the latest version as `vault kv get` does) reads the new
key, registered at Digdir; an apply after the grace retires the old key, and the store forgets
it; `plan` with the documented plan policy (labels only) sees nothing left to do. Nothing goes
to a local file sink.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mpctl.cli.environment import connect, open_workspace
from tests.e2e.processes import SAFETY_TIMEOUT
from tests.fakes.vault import RunningVault, running_vault
from tests.sinks.test_vault import documented_policies, workload_view

CLIENT = "saldo-studielan"
PATH = f"mpctl/local/{CLIENT}"
PENDING = f"{PATH}-pending"
_LOCAL_EMULATOR = "    emulator:\n      world: emulator-world.yaml\n"


@pytest.fixture
def vault() -> Iterator[RunningVault]:
    with running_vault() as running:
        for name, hcl in documented_policies(env="local", client=CLIENT).items():
            running.add_policy(f"mpctl-{name}", hcl)
        yield running


def _with_vault_sink(project: Path, url: str) -> None:
    config = project / "mpctl.yaml"
    text = config.read_text()
    assert text.count(_LOCAL_EMULATOR) == 1
    sink = (
        "    sink:\n"
        "      type: vault-kv\n"
        f"      address: {url}\n"
        "      auth: {method: token, token: {env: MPCTL_VAULT_TOKEN}}\n"
    )
    config.write_text(text.replace(_LOCAL_EMULATOR, _LOCAL_EMULATOR + sink))


def _registered_kids(project: Path) -> dict[str, frozenset[str]]:
    """client_id → kids in its JWKS, read from Digdir (the embedded emulator)."""

    async def go() -> dict[str, frozenset[str]]:
        async with connect(open_workspace(project, None), access="read") as (api, _):
            return {
                client.client_id: (await api.get_jwks(client.client_id)).kids
                for client in await api.list_clients()
            }

    return asyncio.run(go())


class Cli:
    """`mpctl ARGS --manifests PROJECT` in a child process with Vault's apply token."""

    def __init__(self, project: Path, token: str) -> None:
        self.project = project
        self.environ = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
        self.environ["MPCTL_VAULT_TOKEN"] = token
        self.environ.pop("MPCTL_NOW", None)

    def __call__(self, *args: str, now: datetime | None = None) -> str:
        environ = dict(self.environ)
        if now is not None:
            environ["MPCTL_NOW"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        done = subprocess.run(
            [sys.executable, "-m", "mpctl", *args, "--manifests", str(self.project)],
            capture_output=True,
            text=True,
            timeout=SAFETY_TIMEOUT,
            check=False,
            env=environ,
        )
        assert done.returncode == 0, f"mpctl {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout


def test_every_rotation_phase_through_the_cli_with_keys_in_vault(
    project: Path, vault: RunningVault
) -> None:
    _with_vault_sink(project, vault.url)
    mpctl = Cli(project, vault.token_for("mpctl-apply"))
    workload_token = vault.token_for("mpctl-workload")

    mpctl("validate")
    assert "create" in mpctl("plan")
    mpctl("apply", "--auto-approve")
    mpctl("verify")
    first = workload_view(vault.url, workload_token, PATH)
    client_id = first["MASKINPORTEN_CLIENT_ID"]
    assert first["MASKINPORTEN_KID"] in _registered_kids(project)[client_id]
    written = sorted(vault.state.kv[("", "secret")])
    assert PATH in written
    assert all(path.startswith("mpctl/local/") for path in written)
    assert not list((project / ".mpctl").glob("secrets/**/*.json")), "a key went to a file sink"

    published, staged = (vault.state.secret(p).current_version for p in (PATH, PENDING))
    rotation = mpctl("apply", "--rotate", CLIENT, "--auto-approve")
    assert "phases: stage → register → test → promote" in rotation, rotation
    assert "Apply complete: 1 done" in rotation, rotation
    assert vault.state.secret(PENDING).current_version == staged + 1  # stage
    assert vault.state.secret(PATH).current_version == published + 1  # promote
    rotated = workload_view(vault.url, workload_token, PATH)
    new_kid, old_kid = rotated["MASKINPORTEN_KID"], first["MASKINPORTEN_KID"]
    assert new_kid != old_kid
    assert rotated["MASKINPORTEN_CLIENT_ID"] == client_id
    assert {new_kid, old_kid} <= _registered_kids(project)[client_id]  # the old one in its grace
    labels = vault.state.secret(PATH).custom_metadata or {}
    assert json.loads(labels["mpctl-current"])["kid"] == new_kid
    assert json.loads(labels["mpctl-previous"])["kid"] == old_kid
    assert "mpctl-pending" not in labels
    mpctl("verify", "--client", CLIENT)

    after_grace = datetime.now(UTC) + timedelta(days=2)
    retire = mpctl("apply", "--target", CLIENT, "--auto-approve", now=after_grace)
    assert "phases: retire" in retire, retire
    assert f"retire key {old_kid}" in retire, retire
    assert _registered_kids(project)[client_id] == {new_kid}
    labels = vault.state.secret(PATH).custom_metadata or {}
    assert "mpctl-previous" not in labels
    assert workload_view(vault.url, workload_token, PATH) == rotated
    planner = Cli(project, vault.token_for("mpctl-plan"))  # labels only, no key material
    planner("plan", "--detailed-exitcode", now=after_grace)
