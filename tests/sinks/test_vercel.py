"""The shared sink behaviour (`tests.sinks.suite`) for the Vercel sink, against a local fake.

No Vercel server can be installed here, so `tests.fakes.vercel` implements the documented REST
endpoints on 127.0.0.1 (uvicorn in a thread); the sink talks to it over real HTTP. A failed write
is a 500 from the fake; the workload reads the variables it knows (seed 002's names) as a
production deployment built now would get them. Below the suite: redeploy after promote, the
api_url pin, credentials and refusals, and a replay of one rotation's recorded traffic
(`tests/fakes/cassettes/vercel.yaml`, the wire format pinned in a reviewable file).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
import yaml
from pydantic import ValidationError

from mpctl.cli.main import main
from mpctl.errors import SecretSinkError
from mpctl.model import SinkVariables, VercelSink
from mpctl.secrets import (
    BlockingSecretSink,
    PrivateKey,
    SinkContext,
    from_pem,
    from_private_jwk_base64,
    generate_key,
    open_sink,
    to_pem,
)
from mpctl.secrets.vercel import LABELS_VARIABLE, VercelSecretSink, open_vercel_sink
from tests.fakes.vercel import VercelFake, serve
from tests.sinks.suite import *  # noqa: F403 (the shared behaviour runs here)
from tests.sinks.suite import CLIENT, CLIENT_ID, T0, StoreUnderTest, key, rotated, secret_lines

TOKEN = "vercel-test-token-0123456789"
TEAM = "team_mpctl0test"
PROJECT_ID = "prj_mpctlTest01"
PROJECT_NAME = "billing-api"
ISSUER = "https://test.maskinporten.no/"
TOKEN_ENDPOINT = "https://test.maskinporten.no/token"
CASSETTE = Path(__file__).parent.parent / "fakes" / "cassettes" / "vercel.yaml"
WORKLOAD_NAMES = set(SinkVariables().model_dump().values())


def context(base_dir: Path, **environ: str) -> SinkContext:
    return SinkContext(
        "test", base_dir, ISSUER, TOKEN_ENDPOINT, environ={"MPCTL_VERCEL_TOKEN": TOKEN, **environ}
    )


def spec(api_url: str, **fields: Any) -> VercelSink:
    return VercelSink.model_validate(
        {
            "type": "vercel",
            "project": PROJECT_NAME,
            "team_id": TEAM,
            "token": {"env": "MPCTL_VERCEL_TOKEN"},
            "api_url": api_url,
            **fields,
        }
    )


@pytest.fixture
def fake() -> VercelFake:
    return VercelFake(token=TOKEN, project_id=PROJECT_ID, project_name=PROJECT_NAME, team_id=TEAM)


@pytest.fixture
def api_url(fake: VercelFake) -> Iterator[str]:
    with serve(fake) as url:
        yield url


@pytest.fixture
def store(fake: VercelFake, api_url: str, tmp_path: Path) -> StoreUnderTest:
    def opened() -> BlockingSecretSink:
        return open_vercel_sink(spec(api_url), context(tmp_path))

    def workload() -> dict[str, str]:
        return {k: v for k, v in fake.runtime_env("production").items() if k in WORKLOAD_NAMES}

    return StoreUnderTest(
        open=opened,
        fail_writes=fake.fail_writes,
        heal=fake.heal,
        workload=workload,
        kind="vercel",
        wire_log=fake.wire_log,
    )


# --- beyond the suite -----------------------------------------------------------------------


def test_the_workload_gets_seed_002s_variables_for_the_current_key(
    fake: VercelFake, api_url: str, tmp_path: Path
) -> None:
    sink = open_vercel_sink(spec(api_url, targets=["production", "preview"]), context(tmp_path))
    rotated(sink)
    for target in ("production", "preview"):
        env = fake.runtime_env(target)
        assert env["MASKINPORTEN_CLIENT_ID"] == CLIENT_ID
        assert env["MASKINPORTEN_KID"] == "k2"
        assert env["MASKINPORTEN_PRIVATE_KEY"] == to_pem(key("k2"))
        assert env["MASKINPORTEN_ISSUER"] == ISSUER
        assert env["MASKINPORTEN_TOKEN_ENDPOINT"] == TOKEN_ENDPOINT
        assert env["MASKINPORTEN_MODE"] == "live"
    assert "MASKINPORTEN_KID" not in fake.runtime_env("development")
    assert {e.type for e in fake.envs} == {"encrypted"}
    labels = json.loads(fake.runtime_env()[LABELS_VARIABLE])
    assert "BEGIN" not in json.dumps(labels)
    assert (labels["current"]["kid"], labels["previous"]["kid"]) == ("k2", "k1")


@pytest.mark.parametrize("encoding", ["base64", "jwk-base64"])
def test_the_key_variable_follows_the_private_key_encoding(
    fake: VercelFake, api_url: str, tmp_path: Path, encoding: str
) -> None:
    sink = open_vercel_sink(spec(api_url, private_key_encoding=encoding), context(tmp_path))
    rotated(sink)
    env = fake.runtime_env()
    assert "MASKINPORTEN_PRIVATE_KEY" not in env
    value = env["MASKINPORTEN_PRIVATE_KEY_BASE64"]
    loaded = (
        from_pem(base64.b64decode(value).decode(), kid="k2", created_at=T0)
        if encoding == "base64"
        else from_private_jwk_base64(value, created_at=T0)
    )
    assert loaded.thumbprint == key("k2").thumbprint


def test_other_variables_of_the_project_are_left_alone_and_a_clash_is_named(
    fake: VercelFake, api_url: str, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{api_url}/v10/projects/{PROJECT_NAME}/env?teamId={TEAM}"
    every = ["production", "preview", "development"]
    theirs = {"key": "DATABASE_URL", "value": "postgres://db", "type": "encrypted", "target": every}
    clash = {"key": "MASKINPORTEN_KID", "value": "x", "type": "plain", "target": every[:2]}
    assert httpx.post(url, json=theirs, headers=headers).status_code == 201
    assert httpx.post(url, json=clash, headers=headers).status_code == 201
    sink = open_vercel_sink(spec(api_url), context(tmp_path))
    with pytest.raises(SecretSinkError, match="MASKINPORTEN_KID targets preview, production"):
        sink.read_state(CLIENT)
    other = open_vercel_sink(spec(api_url, targets=["development"]), context(tmp_path))
    rotated(other)
    assert fake.runtime_env("production") == {
        "MASKINPORTEN_KID": "x",
        "DATABASE_URL": "postgres://db",
    }


def test_a_forgotten_key_is_deleted_by_the_next_labels_write(
    fake: VercelFake, api_url: str, tmp_path: Path
) -> None:
    sink = open_vercel_sink(spec(api_url), context(tmp_path))
    rotated(sink)
    sink.forget_previous(CLIENT, "k1")
    sink.stage(CLIENT, key("k3"))
    values = "\n".join(fake.runtime_env().values())
    assert not any(line in values for line in secret_lines(key("k1")))
    with pytest.raises(SecretSinkError, match="no key with kid 'k1'"):
        sink.load_private_key(CLIENT, "k1")


def test_promote_redeploys_the_latest_production_deployment_once(
    fake: VercelFake, api_url: str, tmp_path: Path
) -> None:
    sink = open_vercel_sink(spec(api_url, redeploy=True), context(tmp_path))
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    first = fake.deployments[-1].uid
    sink.promote(CLIENT, "k1", T0)
    newest = fake.deployments[-1]
    assert newest.uid != first
    assert newest.target == "production"
    assert newest.meta == {"action": "redeploy", "mpctlKid": "k1"}
    assert newest.env["MASKINPORTEN_KID"] == "k1"
    assert newest.env["MASKINPORTEN_PRIVATE_KEY"] == to_pem(key("k1"))
    sink.promote(CLIENT, "k1", T0)  # a re-run: no second redeploy
    assert fake.deployments[-1].uid == newest.uid


def test_a_redeploy_that_failed_is_made_by_the_next_run(
    fake: VercelFake, api_url: str, tmp_path: Path
) -> None:
    sink = open_vercel_sink(spec(api_url, redeploy=True), context(tmp_path))
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    before = len(fake.deployments)
    fake.fail_writes(2)  # the workload's variables and the labels; the redeploy fails
    with pytest.raises(SecretSinkError, match="HTTP 500"):
        sink.promote(CLIENT, "k1", T0)
    fake.heal()
    assert len(fake.deployments) == before
    open_vercel_sink(spec(api_url, redeploy=True), context(tmp_path)).promote(CLIENT, "k1", T0)
    assert fake.deployments[-1].env["MASKINPORTEN_KID"] == "k1"
    assert len(fake.deployments) == before + 1


def test_a_project_without_a_production_deployment_is_named(
    fake: VercelFake, api_url: str, tmp_path: Path
) -> None:
    fake.deployments.clear()
    sink = open_vercel_sink(spec(api_url, redeploy=True), context(tmp_path))
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    with pytest.raises(SecretSinkError, match="no ready production deployment") as caught:
        sink.promote(CLIENT, "k1", T0)
    assert "redeploy: false" in str(caught.value.hint)
    assert fake.runtime_env()["MASKINPORTEN_KID"] == "k1"


def test_one_project_serves_one_client(fake: VercelFake, api_url: str, tmp_path: Path) -> None:
    sink = open_vercel_sink(spec(api_url), context(tmp_path))
    rotated(sink)
    with pytest.raises(SecretSinkError, match="holds the keys of client 'billing'") as caught:
        sink.read_state("invoicing")
    assert "keys.sink" in str(caught.value.hint)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"MPCTL_VERCEL_TOKEN": "wrong"}, "HTTP 403 forbidden"),
        ({}, "HTTP 404 not_found"),
    ],
)
def test_refusals_name_the_status_and_the_fix(
    api_url: str, tmp_path: Path, change: dict[str, str], expected: str
) -> None:
    fields: dict[str, Any] = {} if change else {"team_id": None}
    sink = open_vercel_sink(spec(api_url, **fields), context(tmp_path, **change))
    with pytest.raises(SecretSinkError, match=expected) as caught:
        sink.read_state(CLIENT)
    hint = str(caught.value.hint)
    assert ("Member or Owner" in hint) if change else ("team_id" in hint)
    assert TOKEN not in str(caught.value) + hint


def test_a_missing_token_is_named_when_the_sink_is_opened(tmp_path: Path) -> None:
    bare = SinkContext("test", tmp_path, ISSUER, TOKEN_ENDPOINT, environ={})
    with pytest.raises(SecretSinkError, match="MPCTL_VERCEL_TOKEN is empty or not set"):
        open_sink(spec("https://api.vercel.com"), bare)


def test_a_token_file_is_read_relative_to_the_manifests(
    fake: VercelFake, api_url: str, tmp_path: Path
) -> None:
    (tmp_path / "vercel.token").write_text(TOKEN + "\n")
    sink = open_vercel_sink(spec(api_url, token={"file": "vercel.token"}), context(tmp_path))
    assert sink.read_state(CLIENT).current is None


def test_a_sensitive_variable_of_the_same_name_is_refused_before_any_write(
    fake: VercelFake, api_url: str, tmp_path: Path
) -> None:
    sink = open_vercel_sink(spec(api_url), context(tmp_path))
    rotated(sink)
    sink.forget_previous(CLIENT, "k1")
    sink.stage(CLIENT, key("k3"))
    for env in fake.envs:
        if env.key == "MASKINPORTEN_KID":
            env.type = "sensitive"  # made by hand in the dashboard: it cannot be read back
    writes = len(fake.wire)
    with pytest.raises(SecretSinkError, match="MASKINPORTEN_KID is of type sensitive") as caught:
        sink.promote(CLIENT, "k3", T0 + timedelta(days=180))
    assert "encrypted" in str(caught.value.hint)
    assert not any(line.startswith(("POST", "DELETE")) for line in fake.wire[writes:])
    assert sink.read_state(CLIENT).pending is not None


@pytest.mark.parametrize(
    "url",
    ["https://api.vercel.com.example.org", "http://api.vercel.com", "https://10.0.0.1:443"],
)
def test_the_api_url_is_pinned_to_vercel_or_loopback(url: str) -> None:
    with pytest.raises(ValidationError, match="is not Vercel's API"):
        spec(url)


def test_repr_shows_no_token(api_url: str, tmp_path: Path) -> None:
    sink = open_vercel_sink(spec(api_url), context(tmp_path))
    assert isinstance(sink, VercelSecretSink)
    assert TOKEN not in repr(sink) + str(sink) + repr(vars(sink))


# --- the wire format, pinned ----------------------------------------------------------------

CASSETTE_URL = "http://127.0.0.1:38417"
"""Where the cassette was recorded (the fake on a fixed port); replay never opens a socket."""


def _recorder(mode: str) -> vcr.VCR:
    return vcr.VCR(
        record_mode=mode,
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        filter_headers=["authorization"],
    )


def _one_rotation(sink: BlockingSecretSink, first: PrivateKey, *later: PrivateKey) -> None:
    """k1 current; k2 staged and promoted, k1 forgotten; k3 staged (k1's variable deleted)."""
    second, third = later
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, first)
    sink.promote(CLIENT, first.kid, T0)
    sink.stage(CLIENT, second)
    sink.promote(CLIENT, second.kid, T0 + timedelta(days=90))
    sink.forget_previous(CLIENT, first.kid)
    sink.stage(CLIENT, third)


def _throwaway_keys_in(cassette: Path) -> list[PrivateKey]:
    """The throwaway keys the recording staged, as the sink sent them (they are in its bodies)."""
    keys: dict[str, PrivateKey] = {}
    for interaction in yaml.safe_load(cassette.read_text())["interactions"]:
        request = interaction["request"]
        if request["method"] != "POST" or not request["body"]:
            continue
        for item in json.loads(request["body"]):
            if item["key"].startswith("MPCTL_PRIVATE_KEY_"):
                stored = json.loads(item["value"])
                keys[stored["kid"]] = from_pem(
                    stored["private_key_pem"],
                    kid=stored["kid"],
                    created_at=datetime.fromisoformat(stored["created_at"]),
                )
    return list(keys.values())


def test_one_rotation_replays_the_recorded_wire_format(tmp_path: Path) -> None:
    """`cassettes/vercel.yaml` holds one rotation's requests and responses (Authorization
    filtered, throwaway keys never registered anywhere); the sink must send exactly the same
    requests, bodies included, and accept the recorded answers (record_mode none).

    Re-record only when the wire format changes on purpose: MPCTL_RECORD_VERCEL=1 pytest -k
    replays tests/sinks/test_vercel.py (then review the diff of the cassette).
    """
    if os.environ.get("MPCTL_RECORD_VERCEL") == "1":
        _record(tmp_path)
    keys = _throwaway_keys_in(CASSETTE)
    with _recorder("none").use_cassette(str(CASSETTE)) as cassette:
        sink = open_vercel_sink(spec(CASSETTE_URL), context(tmp_path))
        _one_rotation(sink, *keys)
        assert sink.read_state(CLIENT).current is not None
    assert cassette.all_played
    text = CASSETTE.read_text()
    assert TOKEN not in text
    assert "/v10/projects/billing-api/env?teamId=team_mpctl0test&upsert=true" in text
    assert "method: DELETE" in text


def _record(tmp_path: Path) -> None:
    CASSETTE.unlink(missing_ok=True)
    fake = VercelFake(token=TOKEN, project_id=PROJECT_ID, project_name=PROJECT_NAME, team_id=TEAM)
    keys = [generate_key(kid=f"cassette-k{n}", created_at=T0, size=2048) for n in (1, 2, 3)]
    port = int(CASSETTE_URL.rsplit(":", 1)[1])
    with serve(fake, port=port) as url, _recorder("all").use_cassette(str(CASSETTE)):
        sink = open_vercel_sink(spec(url), context(tmp_path))
        _one_rotation(sink, *keys)
        sink.read_state(CLIENT)


def test_validate_names_the_line_of_an_api_url_that_is_not_vercels(
    example_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = example_copy / "mpctl.yaml"
    text = config.read_text()
    sink = (
        "    sink:\n"
        "      type: vercel\n"
        "      project: billing-api\n"
        "      token: {env: MPCTL_VERCEL_TOKEN}\n"
        "      api_url: https://vercel-proxy.example.org\n"
    )
    config.write_text(text.replace("  local:\n", "  local:\n" + sink, 1))
    assert main(["validate", "--manifests", str(example_copy)]) == 1
    out = capsys.readouterr().out
    block = 1 + text.splitlines().index("  local:") + 1  # the `sink:` line
    assert any(f"mpctl.yaml:{line}: " in out for line in range(block, block + 5))
    assert "sink.vercel.api_url: api_url 'https://vercel-proxy.example.org' is not Vercel's" in out
    assert "http://127.0.0.1" in out


# --- through the real CLI -------------------------------------------------------------------


def test_apply_verify_plan_with_one_client_keys_in_vercel(
    example_copy: Path,
    fake: VercelFake,
    api_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`keys.sink` of one example client names the Vercel project (with redeploy); `apply`
    writes its key there and redeploys, `verify` mints with the key read back from Vercel, and
    the next plan is empty."""
    config = example_copy / "mpctl.yaml"
    config.write_text(config.read_text().replace("size: 3072", "size: 2048"))
    client = example_copy / "resources" / "clients" / "altinn.yaml"
    text = client.read_text()
    assert text.count("keys:\n") == 1
    sink = (
        "keys:\n"
        "  sink:\n"
        "    type: vercel\n"
        f"    project: {PROJECT_NAME}\n"
        f"    team_id: {TEAM}\n"
        "    token: {env: MPCTL_VERCEL_TOKEN}\n"
        f"    api_url: {api_url}\n"
        "    redeploy: true\n"
    )
    client.write_text(text.replace("keys:\n", sink))
    monkeypatch.setenv("MPCTL_VERCEL_TOKEN", TOKEN)
    manifests = ["--manifests", str(example_copy)]

    assert main(["apply", *manifests, "--auto-approve"]) == 0, capsys.readouterr()
    assert main(["verify", *manifests, "--client", "altinn-sync"]) == 0, capsys.readouterr()
    assert main(["plan", *manifests, "--detailed-exitcode"]) == 0, capsys.readouterr()

    env = fake.runtime_env("production")
    labels = json.loads(env[LABELS_VARIABLE])
    assert labels["client"] == "altinn-sync"
    assert (labels["pending"], labels["previous"]) == (None, None)
    assert env["MASKINPORTEN_KID"] == labels["current"]["kid"]
    assert env["MASKINPORTEN_CLIENT_ID"] == labels["client_id"]
    assert fake.deployments[-1].env["MASKINPORTEN_KID"] == env["MASKINPORTEN_KID"]
    output = capsys.readouterr()
    pem_body = env["MASKINPORTEN_PRIVATE_KEY"].splitlines()[1]
    assert pem_body not in output.out + output.err
    assert not (example_copy / ".mpctl" / "secrets" / "local" / "altinn-sync.json").exists()


# --- the fake refuses what Vercel refuses ---------------------------------------------------


def test_the_fake_answers_as_vercel_documents(fake: VercelFake, api_url: str) -> None:
    api = httpx.Client(
        base_url=f"{api_url}/",
        headers={"Authorization": f"Bearer {TOKEN}"},
        params={"teamId": TEAM},
    )
    envs = f"v10/projects/{PROJECT_ID}/env"
    item = {"key": "A", "value": "one", "type": "encrypted", "target": ["production"]}
    created = api.post(envs, json=item)
    assert created.status_code == 201
    env_id = created.json()["created"]["id"]
    assert created.json()["created"]["value"] != "one"  # encrypted: ciphertext only
    again = api.post(envs, json=item)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "ENV_ALREADY_EXISTS"
    assert again.json()["error"]["envVarId"] == env_id
    assert api.post(envs, json={**item, "colour": "red"}).json()["error"]["code"] == "bad_request"
    assert api.post(envs, json={**item, "target": []}).status_code == 400
    assert api.get(f"v1/projects/{PROJECT_ID}/env/{env_id}").json()["value"] == "one"
    edited = api.patch(f"v9/projects/{PROJECT_ID}/env/{env_id}", json={"value": "two"})
    assert edited.status_code == 200
    assert fake.runtime_env()["A"] == "two"
    hidden = {**item, "key": "S", "type": "sensitive"}
    assert api.post(envs, json=hidden).status_code == 201
    listed = {e["key"]: e for e in api.get(envs, params={"decrypt": "true"}).json()["envs"]}
    assert listed["A"]["value"] == "two"
    assert "value" not in listed["S"]
    assert api.delete(f"v9/projects/{PROJECT_ID}/env/{env_id}").status_code == 200
    assert api.get(f"v1/projects/{PROJECT_ID}/env/{env_id}").status_code == 404
    no_team = httpx.get(f"{api_url}/{envs}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert no_team.json()["error"]["code"] == "not_found"
    assert httpx.get(f"{api_url}/{envs}", params={"teamId": TEAM}).status_code == 403
    redeploy = {"name": PROJECT_NAME, "deploymentId": "dpl_unknown", "target": "production"}
    assert api.post("v13/deployments", json=redeploy).status_code == 404
    assert api.post("v13/deployments", json={"deploymentId": "x"}).status_code == 400
    api.close()
