"""The real CLI (child processes) with Kubernetes Secrets as the sink, on the example project.

The example's `local` environment (the embedded emulator) gets `sink: {type: kubernetes-secret,
namespace: acme, restart: ["{client}"]}`; the fake API server (`tests.fakes.kubernetes`) runs on
127.0.0.1 over TLS and mpctl reaches it through a kubeconfig file (`KUBECONFIG`) whose user holds
exactly the Role the README documents. One Deployment per client reads its Secret. validate →
plan → apply → verify write every client's Secret and restart its Deployment; a forced rotation
(`apply --rotate`) of one client then goes through every phase, leaves the new key in the
workload's Secret and restarts that client's Deployment only.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mpctl.cli.environment import connect, open_workspace
from mpctl.secrets.kubernetes import RESTART_MARKER, RESTARTED_AT
from tests.e2e.processes import mpctl
from tests.fakes.kubernetes import RunningCluster, role, running_cluster

NAMESPACE = "acme"
CLIENTS = (
    "altinn-sync",
    "billing-invoices",
    "ledger-invoices",
    "reelle-lookup",
    "reelle-supplier",
    "saldo-studielan",
)
"""The example project's clients (a new one fails the test until its Deployment is added)."""
_LOCAL_EMULATOR = "    emulator:\n      world: emulator-world.yaml\n"
ROTATED = "altinn-sync"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RunningCluster]:
    with running_cluster(tmp_path / "tls") as running:
        for client in CLIENTS:
            running.add_deployment(NAMESPACE, client)
        yield running


@pytest.fixture
def k8s_project(
    project: Path, cluster: RunningCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    config = project / "mpctl.yaml"
    text = config.read_text()
    assert text.count(_LOCAL_EMULATOR) == 1
    sink = (
        "    sink:\n"
        "      type: kubernetes-secret\n"
        f"      namespace: {NAMESPACE}\n"
        '      restart: ["{client}"]\n'
    )
    config.write_text(text.replace(_LOCAL_EMULATOR, _LOCAL_EMULATOR + sink))
    documented = role(
        "system:serviceaccount:acme:mpctl",
        NAMESPACE,
        secrets="get create update",
        deployments="get patch",
    )
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig", cluster.token_for(documented))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return project


def _registered_kids(project: Path) -> dict[str, frozenset[str]]:
    """client_id → kids in its JWKS, read from Digdir (the embedded emulator)."""

    async def go() -> dict[str, frozenset[str]]:
        async with connect(open_workspace(project, None), access="read") as (api, _):
            return {
                client.client_id: (await api.get_jwks(client.client_id)).kids
                for client in await api.list_clients()
            }

    return asyncio.run(go())


def _workload(cluster: RunningCluster, client: str) -> dict[str, str]:
    return cluster.secret_data(NAMESPACE, f"maskinporten-{client}")


def _restarted_for(cluster: RunningCluster, client: str) -> str | None:
    stored = cluster.stored("deployments", NAMESPACE, client)
    assert stored is not None
    template = stored["spec"]["template"]["metadata"].get("annotations") or {}
    assert (RESTARTED_AT in template) == (RESTART_MARKER + f"maskinporten-{client}" in template)
    return template.get(RESTART_MARKER + f"maskinporten-{client}")


def _ok(done: object) -> None:
    code = getattr(done, "returncode", None)
    assert code == 0, f"{getattr(done, 'stdout', '')}\n{getattr(done, 'stderr', '')}"


def test_every_phase_through_the_cli_with_the_keys_in_kubernetes_secrets(
    k8s_project: Path, cluster: RunningCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok(mpctl(k8s_project, "validate"))
    planned = mpctl(k8s_project, "plan")
    _ok(planned)
    assert "stage → register → test → promote" in planned.stdout
    _ok(mpctl(k8s_project, "apply", "--auto-approve"))
    _ok(mpctl(k8s_project, "verify"))
    _ok(mpctl(k8s_project, "plan", "--detailed-exitcode"))  # 0: nothing left to do

    secrets = sorted(name for (kind, _, name) in cluster.state.objects if kind == "secrets")
    assert secrets == sorted(
        f"maskinporten-{c}{suffix}" for c in CLIENTS for suffix in ("", "-mpctl-keys")
    )
    registered = _registered_kids(k8s_project)
    first: dict[str, str] = {}
    for client in CLIENTS:
        seen = _workload(cluster, client)
        assert seen["MASKINPORTEN_KID"] in registered[seen["MASKINPORTEN_CLIENT_ID"]], client
        assert seen["MASKINPORTEN_PRIVATE_KEY"].startswith("-----BEGIN PRIVATE KEY-----")
        first[client] = seen["MASKINPORTEN_KID"]
        assert _restarted_for(cluster, client) == f"{first[client]}/" + _digest(cluster, client)

    rotation = mpctl(k8s_project, "apply", "--auto-approve", "--rotate", ROTATED)
    _ok(rotation)
    assert "stage → register → test → promote" in rotation.stdout

    after = _workload(cluster, ROTATED)
    new_kid = after["MASKINPORTEN_KID"]
    assert new_kid != first[ROTATED]
    assert {new_kid, first[ROTATED]} <= _registered_kids(k8s_project)[
        after["MASKINPORTEN_CLIENT_ID"]
    ]  # the old key stays registered through its grace
    labels = cluster.stored("secrets", NAMESPACE, f"maskinporten-{ROTATED}")
    assert labels is not None
    annotations = labels["metadata"]["annotations"]
    assert json.loads(annotations["mpctl.digdir.no/previous"])["kid"] == first[ROTATED]
    assert "mpctl.digdir.no/pending" not in annotations
    assert _restarted_for(cluster, ROTATED) == f"{new_kid}/" + _digest(cluster, ROTATED)
    for client in set(CLIENTS) - {ROTATED}:  # the others were not restarted again
        assert _restarted_for(cluster, client) == f"{first[client]}/" + _digest(cluster, client)
        assert _workload(cluster, client)["MASKINPORTEN_KID"] == first[client]
    keys = cluster.secret_data(NAMESPACE, f"maskinporten-{ROTATED}-mpctl-keys")
    assert len(keys) == 2  # the new current and the previous, for its grace
    assert base64.b64decode(labels["data"]["MASKINPORTEN_KID"]).decode() == new_kid

    # After the grace: retire removes the old key from Digdir and the previous label and key.
    after_grace = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setenv("MPCTL_NOW", after_grace.strftime("%Y-%m-%dT%H:%M:%SZ"))
    retire = mpctl(k8s_project, "apply", "--auto-approve", "--target", ROTATED)
    _ok(retire)
    assert f"retire key {first[ROTATED]}" in retire.stdout, retire.stdout
    assert _registered_kids(k8s_project)[after["MASKINPORTEN_CLIENT_ID"]] == {new_kid}
    retired = cluster.stored("secrets", NAMESPACE, f"maskinporten-{ROTATED}")
    assert retired is not None
    assert "mpctl.digdir.no/previous" not in retired["metadata"]["annotations"]
    assert len(cluster.secret_data(NAMESPACE, f"maskinporten-{ROTATED}-mpctl-keys")) == 1
    assert _workload(cluster, ROTATED)["MASKINPORTEN_KID"] == new_kid


def _digest(cluster: RunningCluster, client: str) -> str:
    stored = cluster.stored("secrets", NAMESPACE, f"maskinporten-{client}")
    assert stored is not None
    return str(stored["metadata"]["annotations"]["mpctl.digdir.no/workload"])
