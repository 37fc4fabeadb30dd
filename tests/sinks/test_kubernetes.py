"""The shared sink behaviour (`tests.sinks.suite`) and the Kubernetes specifics, for Secrets.

No API server can be installed here, so the store is `tests.fakes.kubernetes`: the documented
core/v1 Secrets and apps/v1 Deployments endpoints over TLS on 127.0.0.1, with bearer tokens and
namespaced Roles, driven by the real lightkube client through a kubeconfig file in tmp_path.
`kubectl` (a second, independent client) reads what mpctl wrote from the same server, and its
`rollout restart` patch is compared with mpctl's. The documented wire format (Secret object,
Status objects) is pinned in `tests/fakes/cassettes/kubernetes.yaml`, written from the API
reference; the fake must answer its requests in the same shape, and the sink must read its
answers (the 409 Conflict above all) as documented.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import logging
import os
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import httpx2
import pytest
import yaml
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from mpctl.errors import SecretSinkError
from mpctl.model import KubernetesSecretSink
from mpctl.secrets import RotationInFlightError, SinkContext, to_pem
from mpctl.secrets.kubernetes import (
    MANAGED_BY,
    RESTART_MARKER,
    RESTARTED_AT,
    ConflictError,
    KubeApi,
    KubernetesSink,
    open_kubernetes_sink,
)
from tests.fakes.kubernetes import Role, RunningCluster, role, running_cluster
from tests.sinks.suite import *  # noqa: F403 (the shared behaviour runs here)
from tests.sinks.suite import CLIENT, CLIENT_ID, T0, StoreUnderTest, key, rotated, secret_lines

NAMESPACE = "acme"
SECRET = f"maskinporten-{CLIENT}"
KEYS = f"{SECRET}-mpctl-keys"
CONTEXT = SinkContext(
    "test", Path("."), "https://test.maskinporten.no/", "https://test.maskinporten.no/token"
)
APPLY = role(
    "system:serviceaccount:acme:mpctl",
    NAMESPACE,
    secrets="get create update",
    deployments="get patch",
)
READ_ONLY = role("system:serviceaccount:acme:mpctl-plan", NAMESPACE, secrets="get")
ADMIN = role(
    "kubernetes-admin",
    NAMESPACE,
    secrets="get create update patch",
    deployments="get patch",
    namespaces="get",
)
CASSETTE = Path(__file__).parents[1] / "fakes" / "cassettes" / "kubernetes.yaml"
NOW = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
_files = itertools.count()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RunningCluster]:
    with running_cluster(tmp_path / "tls") as running:
        running.add_namespace(NAMESPACE)
        yield running


def kubeconfig(cluster: RunningCluster, tmp_path: Path, granted: Role = APPLY) -> Path:
    path = tmp_path / "kube" / f"config-{next(_files)}"
    return cluster.kubeconfig(path, cluster.token_for(granted), extra_contexts=("other",))


def open_sink(
    cluster: RunningCluster,
    tmp_path: Path,
    granted: Role = APPLY,
    namespace: str = NAMESPACE,
    **spec: Any,
) -> KubernetesSink:
    environ = {"KUBECONFIG": str(kubeconfig(cluster, tmp_path, granted))}
    return open_kubernetes_sink(
        KubernetesSecretSink(type="kubernetes-secret", namespace=namespace, **spec),
        dataclasses.replace(CONTEXT, environ=environ),
        clock=lambda: NOW,
    )


def admin(cluster: RunningCluster, tmp_path: Path) -> Client:
    """Another writer (a human with kubectl, a controller), through its own client."""
    config = KubeConfig.from_file(kubeconfig(cluster, tmp_path, ADMIN))
    return Client(config, namespace=NAMESPACE)


@pytest.fixture
def store(cluster: RunningCluster, tmp_path: Path) -> StoreUnderTest:
    return StoreUnderTest(
        open=lambda: open_sink(cluster, tmp_path),
        fail_writes=cluster.fail_writes,
        heal=cluster.heal,
        workload=lambda: cluster.secret_data(NAMESPACE, SECRET),
        kind="kubernetes-secret",
    )


def annotations_of(cluster: RunningCluster, name: str = SECRET) -> dict[str, str]:
    return dict((cluster.stored("secrets", NAMESPACE, name) or {})["metadata"]["annotations"])


# --- layout: what the workload reads, where the labels and keys are ---------------------------


def test_the_workload_secret_holds_exactly_the_current_variables(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    rotated(open_sink(cluster, tmp_path))
    open_sink(cluster, tmp_path).stage(CLIENT, key("k3"))
    stored = cluster.stored("secrets", NAMESPACE, SECRET)
    assert stored is not None
    assert (stored["type"], stored["metadata"]["labels"]) == ("Opaque", {MANAGED_BY: "mpctl"})
    assert cluster.secret_data(NAMESPACE, SECRET) == {
        "MASKINPORTEN_CLIENT_ID": CLIENT_ID,
        "MASKINPORTEN_ISSUER": CONTEXT.issuer,
        "MASKINPORTEN_KID": "k2",
        "MASKINPORTEN_MODE": "live",
        "MASKINPORTEN_PRIVATE_KEY": to_pem(key("k2")),
        "MASKINPORTEN_TOKEN_ENDPOINT": CONTEXT.token_endpoint,
    }
    labels = annotations_of(cluster)
    assert json.loads(labels["mpctl.digdir.no/current"])["kid"] == "k2"
    assert json.loads(labels["mpctl.digdir.no/previous"])["kid"] == "k1"
    assert json.loads(labels["mpctl.digdir.no/pending"])["kid"] == "k3"
    assert labels["mpctl.digdir.no/client-id"] == CLIENT_ID
    assert not any(
        line in json.dumps(labels) for k in ("k1", "k2", "k3") for line in secret_lines(key(k))
    )
    keys = cluster.secret_data(NAMESPACE, KEYS)
    assert keys == {f"key-{key(k).thumbprint}": to_pem(key(k)) for k in ("k1", "k2", "k3")}


def test_renamed_variables_replace_the_old_names_and_keep_others_keys(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    rotated(open_sink(cluster, tmp_path))
    admin(cluster, tmp_path).patch(
        Secret,
        SECRET,
        {
            "metadata": {"annotations": {"reloader.stakater.com/match": "true"}},
            "data": {"EXTRA": base64.b64encode(b"kept").decode()},
        },
        patch_type=PatchType.MERGE,
    )
    renamed = open_sink(cluster, tmp_path, variables={"kid": "MP_KID"})
    renamed.set_client_id(CLIENT, CLIENT_ID)
    data = cluster.secret_data(NAMESPACE, SECRET)
    assert (data["MP_KID"], data["EXTRA"]) == ("k2", "kept")
    assert "MASKINPORTEN_KID" not in data
    assert annotations_of(cluster)["reloader.stakater.com/match"] == "true"


# --- a racing writer: resourceVersion ---------------------------------------------------------


def test_a_racing_writer_is_detected_and_its_newer_value_survives(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    sink = open_sink(cluster, tmp_path)
    rotated(sink)
    other = admin(cluster, tmp_path)
    newer = {"metadata": {"annotations": {"example.org/owner": "newer"}}}
    cluster.before_next_write(
        "secrets", SECRET, lambda: other.patch(Secret, SECRET, newer, patch_type=PatchType.MERGE)
    )
    with pytest.raises(ConflictError) as caught:
        sink.stage(CLIENT, key("k3"))  # read, (the other writes), then write with the old version
    assert "another writer changed" in str(caught.value)
    assert "nothing was overwritten" in str(caught.value)
    assert "run mpctl apply again" in str(caught.value.hint)
    assert annotations_of(cluster)["example.org/owner"] == "newer"
    assert sink.read_state(CLIENT).pending is None
    sink.stage(CLIENT, key("k3"))  # the re-run starts from the newer value and keeps it
    assert annotations_of(cluster)["example.org/owner"] == "newer"
    assert sink.read_state(CLIENT).pending is not None


def test_a_writer_racing_the_keys_secret_is_detected(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    sink = open_sink(cluster, tmp_path)
    rotated(sink)
    other = admin(cluster, tmp_path)
    newer = {"metadata": {"labels": {"backup.example.org/include": "yes"}}}
    cluster.before_next_write(
        "secrets", KEYS, lambda: other.patch(Secret, KEYS, newer, patch_type=PatchType.MERGE)
    )
    with pytest.raises(ConflictError, match=f"secret '{KEYS}'"):
        sink.stage(CLIENT, key("k3"))
    stored = cluster.stored("secrets", NAMESPACE, KEYS)
    assert stored is not None
    assert stored["metadata"]["labels"]["backup.example.org/include"] == "yes"
    assert f"key-{key('k3').thumbprint}" not in stored["data"]


def test_a_secret_created_meanwhile_is_read_again_never_overwritten(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    sink, other_runner = open_sink(cluster, tmp_path), open_sink(cluster, tmp_path)
    cluster.before_next_write("secrets", SECRET, lambda: other_runner.stage(CLIENT, key("k2")))
    with pytest.raises(RotationInFlightError, match="pending key 'k2'"):
        sink.stage(CLIENT, key("k1"))  # its POST meets AlreadyExists: read again, refuse
    state = sink.read_state(CLIENT)
    assert (state.pending and state.pending.kid, state.current) == ("k2", None)
    assert sink.load_private_key(CLIENT, "k2").thumbprint == key("k2").thumbprint


# --- crashes ----------------------------------------------------------------------------------


def _rotate_and_forget(sink: KubernetesSink) -> None:
    """k1 → k2 and the end of k1's grace: 5 writes (stage: keys, labels; promote: one;
    forget: labels, keys)."""
    sink.stage(CLIENT, key("k2"))
    sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    sink.forget_previous(CLIENT, "k1")


@pytest.mark.parametrize("after", range(5))
def test_a_rotation_cut_at_each_write_keeps_a_working_current_and_finishes(
    cluster: RunningCluster, tmp_path: Path, after: int
) -> None:
    sink = open_sink(cluster, tmp_path)
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    cluster.fail_writes(after)
    with pytest.raises(SecretSinkError, match="HTTP 500 InternalError"):
        _rotate_and_forget(sink)
    cluster.heal()
    state = open_sink(cluster, tmp_path).read_state(CLIENT)
    assert state.current is not None
    assert state.current.kid in ("k1", "k2")
    loaded = open_sink(cluster, tmp_path).load_private_key(CLIENT, state.current.kid)
    assert loaded.thumbprint == state.current.thumbprint
    seen = cluster.secret_data(NAMESPACE, SECRET)  # what a pod starting now would get
    assert seen["MASKINPORTEN_KID"] == state.current.kid
    assert seen["MASKINPORTEN_PRIVATE_KEY"] == to_pem(key(state.current.kid))
    again = open_sink(cluster, tmp_path)  # the next run finishes the rotation
    _rotate_and_forget(again)
    final = again.read_state(CLIENT)
    assert (final.current and final.current.kid, final.previous, final.pending) == (
        "k2",
        None,
        None,
    )
    assert cluster.secret_data(NAMESPACE, KEYS) == {
        f"key-{key('k2').thumbprint}": to_pem(key("k2"))
    }


def test_a_rotation_writes_five_times_and_a_rerun_writes_nothing(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    sink = open_sink(cluster, tmp_path)
    rotated(sink, "k0", "k1")
    sink.forget_previous(CLIENT, "k0")
    cluster.state.requests.clear()
    _rotate_and_forget(sink)
    assert [r.split()[0] for r in cluster.state.requests if not r.startswith("GET")] == ["PUT"] * 5
    cluster.state.requests.clear()
    _rotate_and_forget(sink)
    sink.set_client_id(CLIENT, CLIENT_ID)
    assert [r for r in cluster.state.requests if not r.startswith("GET")] == []


# --- restarts ---------------------------------------------------------------------------------


def _template(cluster: RunningCluster, name: str) -> dict[str, str]:
    stored = cluster.stored("deployments", NAMESPACE, name)
    assert stored is not None
    return dict(stored["spec"]["template"]["metadata"].get("annotations") or {})


def test_restart_patches_exactly_the_named_deployments_after_promote(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    for name in ("billing-api", "billing-worker", "ledger-api"):
        cluster.add_deployment(NAMESPACE, name)
    sink = open_sink(cluster, tmp_path, restart=("{client}-api", "{client}-worker"))
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    assert not any("deployments" in r for r in cluster.state.requests), "restarted before promote"
    cluster.state.requests.clear()
    sink.promote(CLIENT, "k1", T0)
    writes = [r for r in cluster.state.requests if not r.startswith("GET")]
    assert writes == [
        f"PUT /api/v1/namespaces/{NAMESPACE}/secrets/{SECRET}",
        f"PATCH /apis/apps/v1/namespaces/{NAMESPACE}/deployments/billing-api",
        f"PATCH /apis/apps/v1/namespaces/{NAMESPACE}/deployments/billing-worker",
    ]
    marker = annotations_of(cluster)["mpctl.digdir.no/workload"]
    for name in ("billing-api", "billing-worker"):
        assert _template(cluster, name) == {
            RESTARTED_AT: "2026-11-02T08:30:00Z",
            RESTART_MARKER + SECRET: f"k1/{marker}",
        }
    untouched = cluster.stored("deployments", NAMESPACE, "ledger-api")
    assert untouched is not None
    assert untouched["metadata"]["generation"] == 1
    cluster.state.requests.clear()
    sink.promote(CLIENT, "k1", T0)  # a re-run: the pods were restarted for these variables
    sink.set_client_id(CLIENT, CLIENT_ID)
    assert [r for r in cluster.state.requests if not r.startswith("GET")] == []


def test_a_missing_deployment_is_an_error_after_the_promote_and_is_restarted_once_it_exists(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    cluster.add_deployment(NAMESPACE, "billing-api")
    sink = open_sink(cluster, tmp_path, restart=("billing-api", "billing-gone"))
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    with pytest.raises(SecretSinkError, match="billing-gone do not exist") as caught:
        sink.promote(CLIENT, "k1", T0)
    assert "restart:" in str(caught.value.hint)
    assert sink.read_state(CLIENT).current is not None  # the promote is recorded either way
    assert RESTART_MARKER + SECRET in _template(cluster, "billing-api")
    cluster.add_deployment(NAMESPACE, "billing-gone")
    cluster.state.patches.clear()
    sink.set_client_id(CLIENT, CLIENT_ID)  # what apply calls before the client's next key step
    assert [p[0].rsplit("/", 1)[1] for p in cluster.state.patches] == ["billing-gone"]


def test_a_restart_cut_after_the_promote_is_finished_by_the_next_call(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    cluster.add_deployment(NAMESPACE, "billing-api")
    sink = open_sink(cluster, tmp_path, restart=("billing-api",))
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    cluster.fail_writes(1)  # the promote's write lands, the restart's patch fails
    with pytest.raises(SecretSinkError, match="deployment 'billing-api'"):
        sink.promote(CLIENT, "k1", T0)
    cluster.heal()
    assert RESTARTED_AT not in _template(cluster, "billing-api")
    sink.promote(CLIENT, "k1", T0)
    assert RESTARTED_AT in _template(cluster, "billing-api")


# --- ownership and permissions ----------------------------------------------------------------


def test_a_foreign_secret_is_never_written(cluster: RunningCluster, tmp_path: Path) -> None:
    foreign = Secret(metadata=ObjectMeta(name=SECRET), type="Opaque", data={"token": "c2VjcmV0"})
    admin(cluster, tmp_path).create(foreign)
    before = cluster.stored("secrets", NAMESPACE, SECRET)
    sink = open_sink(cluster, tmp_path)
    for call in (lambda: sink.read_state(CLIENT), lambda: sink.stage(CLIENT, key("k1"))):
        with pytest.raises(SecretSinkError, match="is not mpctl's") as caught:
            call()
        assert "was not changed" in str(caught.value)
    assert cluster.stored("secrets", NAMESPACE, SECRET) == before
    assert cluster.stored("secrets", NAMESPACE, KEYS) is None


def test_another_clients_secret_under_the_same_name_is_refused(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    open_sink(cluster, tmp_path, name="shared-{client}").set_client_id(CLIENT, CLIENT_ID)
    other_env = dataclasses.replace(
        CONTEXT,
        environment="prod",
        environ={"KUBECONFIG": str(kubeconfig(cluster, tmp_path))},
    )
    spec = KubernetesSecretSink(
        type="kubernetes-secret", namespace=NAMESPACE, name="shared-{client}"
    )
    with pytest.raises(SecretSinkError, match="in environment 'test'") as caught:
        open_kubernetes_sink(spec, other_env).read_state(CLIENT)
    assert "{env}" in str(caught.value.hint)


def test_plan_needs_get_only_and_a_write_without_the_verb_names_the_role(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    rotated(open_sink(cluster, tmp_path))
    reader = open_sink(cluster, tmp_path, READ_ONLY)
    assert reader.read_state(CLIENT).current is not None
    assert reader.load_private_key(CLIENT, "k2").thumbprint == key("k2").thumbprint
    with pytest.raises(SecretSinkError, match="HTTP 403 Forbidden") as caught:
        reader.stage(CLIENT, key("k3"))
    assert 'cannot update resource "secrets"' in str(caught.value)
    assert "secrets: get, create, update" in str(caught.value.hint)


def test_restart_without_the_deployments_verbs_names_them(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    cluster.add_deployment(NAMESPACE, "billing-api")
    secrets_only = role("mpctl", NAMESPACE, secrets="get create update")
    sink = open_sink(cluster, tmp_path, secrets_only, restart=("billing-api",))
    sink.stage(CLIENT, key("k1"))
    with pytest.raises(SecretSinkError, match='cannot get resource "deployments"') as caught:
        sink.promote(CLIENT, "k1", T0)
    assert "deployments: get, patch" in str(caught.value.hint)


def test_a_namespace_that_does_not_exist_is_named(cluster: RunningCluster, tmp_path: Path) -> None:
    granted = role("mpctl", "nowhere", secrets="get create update")
    sink = open_sink(cluster, tmp_path, granted, namespace="nowhere")
    with pytest.raises(SecretSinkError, match="the namespace does not exist"):
        sink.set_client_id(CLIENT, CLIENT_ID)


# --- credentials ------------------------------------------------------------------------------


def test_a_token_the_cluster_does_not_know_is_a_401_with_a_hint(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    path = cluster.kubeconfig(tmp_path / "stale", "expired-token")
    spec = KubernetesSecretSink(type="kubernetes-secret", namespace=NAMESPACE)
    sink = open_kubernetes_sink(
        spec, dataclasses.replace(CONTEXT, environ={"KUBECONFIG": str(path)})
    )
    with pytest.raises(SecretSinkError, match="HTTP 401 Unauthorized") as caught:
        sink.read_state(CLIENT)
    assert "kubectl auth whoami" in str(caught.value.hint)


def test_the_spec_context_picks_the_kubeconfig_context(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    environ = {
        "KUBECONFIG": os.pathsep.join(
            [str(tmp_path / "absent"), str(kubeconfig(cluster, tmp_path))]
        )
    }
    good = KubernetesSecretSink(type="kubernetes-secret", namespace=NAMESPACE, context="other")
    sink = open_kubernetes_sink(good, dataclasses.replace(CONTEXT, environ=environ))
    sink.set_client_id(CLIENT, CLIENT_ID)
    assert sink.read_state(CLIENT).client_id == CLIENT_ID
    unknown = good.model_copy(update={"context": "prod-cluster"})
    with pytest.raises(SecretSinkError, match="context 'prod-cluster' is not in") as caught:
        open_kubernetes_sink(unknown, dataclasses.replace(CONTEXT, environ=environ))
    assert "kubectl config get-contexts" in str(caught.value.hint)
    with pytest.raises(SecretSinkError, match="no kubeconfig file"):
        open_kubernetes_sink(good, dataclasses.replace(CONTEXT, environ={"HOME": str(tmp_path)}))


def test_in_a_pod_the_service_account_is_used(cluster: RunningCluster, tmp_path: Path) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(cluster.token_for(APPLY) + "\n")
    (account / "ca.crt").write_bytes(cluster.ca_file.read_bytes())
    (account / "namespace").write_text(NAMESPACE)
    host, port = cluster.url.removeprefix("https://").split(":")
    environ = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
    spec = KubernetesSecretSink(type="kubernetes-secret", namespace=NAMESPACE)
    sink = open_kubernetes_sink(
        spec, dataclasses.replace(CONTEXT, environ=environ), service_account=account
    )
    sink.set_client_id(CLIENT, CLIENT_ID)
    assert sink.read_state(CLIENT).client_id == CLIENT_ID


def test_without_lightkube_opening_the_sink_says_what_to_install() -> None:
    program = (
        "import sys; sys.modules['lightkube'] = None\n"
        "from pathlib import Path\n"
        "from pydantic import TypeAdapter\n"
        "from mpctl.errors import SecretSinkError\n"
        "from mpctl.model import SinkSpec\n"
        "from mpctl.secrets import SinkContext, open_sink\n"
        "spec = TypeAdapter(SinkSpec).validate_python("
        "{'type': 'kubernetes-secret', 'namespace': 'acme'})\n"
        "try:\n"
        "    open_sink(spec, SinkContext('test', Path('.'), 'https://i/', 'https://t/'))\n"
        "except SecretSinkError as exc:\n"
        "    print(exc, '|', exc.hint)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert "needs lightkube" in done.stdout
    assert "pip install 'mpctl[kubernetes]'" in done.stdout


# --- never a secret in logs -------------------------------------------------------------------


def test_debug_logs_errors_and_reprs_hold_no_key_and_no_token(
    cluster: RunningCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = open_sink(cluster, tmp_path)
    rotated(sink)
    cluster.fail_writes(0)
    with pytest.raises(SecretSinkError) as failed:
        sink.stage(CLIENT, key("k3"))
    cluster.heal()
    cluster.before_next_write(
        "secrets", KEYS, lambda: open_sink(cluster, tmp_path).stage(CLIENT, key("k3"))
    )
    with pytest.raises(ConflictError) as raced:
        sink.stage(CLIENT, key("k3"))
    assert "HTTP Request: PUT" in caplog.text  # the client's log lines were captured
    errors = (failed.value, raced.value)
    assert all(e.__cause__ is None and e.__context__ is None for e in errors)
    shown = "\n".join(
        [caplog.text, repr(sink), str(sink), repr(sink.api)]
        + [f"{e} {e!r} {e.hint}" for e in errors]
    )
    for kid in ("k1", "k2", "k3"):
        assert not any(line in shown for line in secret_lines(key(kid))), kid
    assert not any(token in shown for token in cluster.state.tokens)


# --- kubectl, a second client -----------------------------------------------------------------


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_reads_what_mpctl_wrote_and_restarts_as_mpctl_does(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    cluster.add_deployment(NAMESPACE, "billing-api")
    cluster.add_deployment(NAMESPACE, "by-hand")
    rotated(open_sink(cluster, tmp_path, restart=("billing-api",)))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    environ.update(KUBECONFIG=str(kubeconfig(cluster, tmp_path, ADMIN)), HOME=str(tmp_path))

    def kubectl(*args: str) -> str:
        done = subprocess.run(
            ["kubectl", "--cache-dir", str(tmp_path / "cache"), "-n", NAMESPACE, *args],
            capture_output=True,
            text=True,
            env=environ,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    seen = json.loads(kubectl("get", "secret", SECRET, "-o", "json"))
    assert seen == cluster.stored("secrets", NAMESPACE, SECRET)
    assert base64.b64decode(seen["data"]["MASKINPORTEN_KID"]) == b"k2"
    kubectl("rollout", "restart", "deployment/by-hand")
    by_kubectl = next(p for p in cluster.state.patches if p[0].endswith("/by-hand"))
    by_mpctl = next(p for p in cluster.state.patches if p[0].endswith("/billing-api"))
    assert by_kubectl[1] == by_mpctl[1] == "application/strategic-merge-patch+json"
    kubectl_annotations = by_kubectl[2]["spec"]["template"]["metadata"]["annotations"]
    mpctl_annotations = by_mpctl[2]["spec"]["template"]["metadata"]["annotations"]
    assert set(kubectl_annotations) == {RESTARTED_AT}
    assert set(mpctl_annotations) == {RESTARTED_AT, RESTART_MARKER + SECRET}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", mpctl_annotations[RESTARTED_AT])
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", kubectl_annotations[RESTARTED_AT]
    )


# --- the documented wire format, pinned in a cassette -----------------------------------------


def _cassette() -> list[dict[str, Any]]:
    interactions: list[dict[str, Any]] = yaml.safe_load(CASSETTE.read_text())["interactions"]
    return interactions


def _shape(value: Any) -> Any:
    """A JSON value's structure: keys and types, plus the values that are not per-server."""
    volatile = re.compile(
        r"^(uid|creationTimestamp|resourceVersion|kubectl\.kubernetes\.io/restartedAt)$"
    )
    if isinstance(value, dict):
        return {k: (type(v).__name__ if volatile.match(k) else _shape(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


def test_the_fake_answers_the_documented_requests_in_the_documented_shape(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    token = cluster.token_for(ADMIN)
    versions: dict[str, str] = {}  # the cassette's resourceVersions → the fake's
    trust = ssl.create_default_context(cafile=str(cluster.ca_file))
    with httpx.Client(base_url=cluster.url, verify=trust) as client:
        for n, interaction in enumerate(_cassette()):
            request, documented = interaction["request"], interaction["response"]
            body = request["body"] or None
            for theirs, ours in versions.items():
                body = body and body.replace(
                    f'"resourceVersion":"{theirs}"', f'"resourceVersion":"{ours}"'
                )
            headers = {k: v[0] for k, v in request["headers"].items()}
            if headers.pop("authorization", None):
                headers["authorization"] = f"Bearer {token}"
            answer = client.request(
                request["method"], urlsplit(request["uri"]).path, content=body, headers=headers
            )
            expected = json.loads(documented["body"]["string"])
            assert answer.status_code == documented["status"]["code"], (n, answer.text)
            assert answer.headers["content-type"] == "application/json"
            assert _shape(answer.json()) == _shape(expected), n
            if "resourceVersion" in expected.get("metadata", {}):
                versions[expected["metadata"]["resourceVersion"]] = answer.json()["metadata"][
                    "resourceVersion"
                ]


def _replay(interactions: list[dict[str, Any]]) -> httpx2.MockTransport:
    """Serve the cassette's answers in order to requests of the same method and path."""
    queue = list(interactions)

    def answer(request: httpx2.Request) -> httpx2.Response:
        for n, interaction in enumerate(queue):
            recorded = interaction["request"]
            if (recorded["method"], urlsplit(recorded["uri"]).path) == (
                request.method,
                request.url.path,
            ):
                del queue[n]
                response = interaction["response"]
                return httpx2.Response(
                    response["status"]["code"],
                    headers={"content-type": "application/json"},
                    content=response["body"]["string"].encode(),
                )
        raise AssertionError(f"not in the cassette: {request.method} {request.url.path}")

    return httpx2.MockTransport(answer)


def test_the_sink_reads_the_documented_answers_as_documented() -> None:
    """lightkube against the API reference's answers (not the fake's): a Secret object comes
    back whole, and a stale resourceVersion's 409 Status is a conflict, nothing overwritten."""
    config = KubeConfig.from_server("https://kubernetes.example:443", namespace=NAMESPACE).get()
    assert config is not None
    config = config._replace(user=config.user or _user())
    client = Client(config, namespace=NAMESPACE, transport=_replay(_cassette()))
    api = KubeApi(client, NAMESPACE, "https://kubernetes.example:443")
    created = api.create_secret(json.loads(_cassette()[0]["request"]["body"]))
    read = api.get_secret("maskinporten-demo")
    assert read is not None
    assert (read.resource_version, read.value("MASKINPORTEN_KID")) == (
        created.resource_version,
        "demo-1",
    )
    stale = {**dict(read.body), "metadata": {**read.metadata, "resourceVersion": "37999"}}
    with pytest.raises(ConflictError, match="another writer changed secret 'maskinporten-demo'"):
        api.replace_secret(stale)


def _user() -> Any:
    from lightkube.config.models import User

    return User(token="cassette")


def test_the_cassette_is_the_documented_wire_format() -> None:
    interactions = _cassette()
    statuses = [json.loads(i["response"]["body"]["string"]) for i in interactions]
    reasons = {s.get("reason") for s in statuses if s.get("kind") == "Status"}
    assert reasons >= {"Conflict", "AlreadyExists", "NotFound", "Unauthorized"}
    conflict = next(s for s in statuses if s.get("reason") == "Conflict")
    assert conflict["code"] == 409
    assert conflict["message"].startswith('Operation cannot be fulfilled on secrets "')
    secret = statuses[0]
    assert (secret["kind"], secret["apiVersion"], secret["type"]) == ("Secret", "v1", "Opaque")
    assert base64.b64decode(secret["data"]["MASKINPORTEN_KID"]) == b"demo-1"
    assert "PRIVATE KEY" not in CASSETTE.read_text()
