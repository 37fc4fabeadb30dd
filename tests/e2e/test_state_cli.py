"""`mpctl state list|show` and `mpctl output` through the real CLI, after a real apply.

Each test runs the CLI in its own process on a copy of the example project that one apply (per
worker) converged against the embedded emulator. What the commands print is checked against
what the apply left behind through other paths: the manifests (every managed name is listed),
the file sink's own `.env` (client_id, kid, variable names) and key file (the private key).
A fresh runner is a copy whose `.mpctl/` holds only the emulator's state file (Digdir's store,
not mpctl's): the commands still answer, from Digdir alone.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mpctl.cli.environment import open_workspace
from tests.conftest import EXAMPLE_MANIFESTS
from tests.e2e.processes import SAFETY_TIMEOUT

CLIENT = "billing-invoices"
EMULATOR_STATE = Path(".mpctl/local/emulator-state.json")
SINK = Path(".mpctl/secrets/local")


def _mpctl(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environ = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    environ.pop("CI", None)
    environ.pop("GITHUB_ACTIONS", None)
    done = subprocess.run(
        [sys.executable, "-m", "mpctl", *args, "--manifests", str(project)],
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
        env=environ,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project (2048-bit keys) after one apply; tests copy it, never change it."""
    project = tmp_path_factory.mktemp("state-cli") / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, project, ignore=shutil.ignore_patterns(".mpctl"))
    config = project / "mpctl.yaml"
    config.write_text(config.read_text().replace("size: 3072", "size: 2048"))
    code, out, err = _mpctl(project, "apply", "--auto-approve")
    assert code == 0, out + err
    return project


@pytest.fixture
def project(applied: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "manifests"
    shutil.copytree(applied, copy)
    return copy


@pytest.fixture
def fresh_runner(applied: Path, tmp_path: Path) -> Path:
    """A checkout with an empty `.mpctl/` but for the emulator's state (Digdir itself)."""
    copy = tmp_path / "runner"
    shutil.copytree(applied, copy, ignore=shutil.ignore_patterns(".mpctl"))
    (copy / EMULATOR_STATE).parent.mkdir(parents=True, mode=0o700)
    shutil.copy2(applied / EMULATOR_STATE, copy / EMULATOR_STATE)
    return copy


def _managed_addresses(project: Path) -> set[str]:
    desired = open_workspace(project, None).desired
    return {*(f"client/{n}" for n in desired.clients), *(f"scope/{n}" for n in desired.scopes)}


def _dotenv(project: Path, client: str) -> dict[str, str]:
    """The file sink's own `.env` for `client` (PEM values span lines; others are one line)."""
    values: dict[str, str] = {}
    for line in (project / SINK / f"{client}.env").read_text().splitlines():
        name, sign, value = line.partition("=")
        if sign and not line.startswith("#") and value.startswith('"') and value.endswith('"'):
            values[name] = value.strip('"')
    return values


def _key_body_lines(project: Path, client: str) -> list[str]:
    """The base64 lines of the client's current private key, as its sink holds it."""
    text = (project / SINK / f"{client}.env").read_text()
    pem = text.split("-----BEGIN PRIVATE KEY-----", 1)[1].split("-----END PRIVATE KEY-----")[0]
    lines = [line for line in pem.split() if line]
    assert len(lines) > 10
    return lines


def _yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def test_list_shows_every_managed_client_and_scope_in_text_json_and_yaml(project: Path) -> None:
    code, text, err = _mpctl(project, "state", "list")
    assert code == 0, text + err
    code, as_json, err = _mpctl(project, "state", "list", "-o", "json")
    assert code == 0, as_json + err
    code, as_yaml, err = _mpctl(project, "state", "list", "--output", "yaml")
    assert code == 0, as_yaml + err

    document = json.loads(as_json)
    assert _yaml(as_yaml) == document
    managed = _managed_addresses(project)
    listed = [view["address"] for view in (*document["clients"], *document["scopes"])]
    assert set(listed) == managed
    for views in (document["clients"], document["scopes"]):
        assert [v["name"] for v in views] == sorted(v["name"] for v in views)
    for client in document["clients"]:
        assert client["client_id"], client
        labels = [(key["label"], key["registered"]) for key in client["keys"]]
        assert labels == [("current", True)], client
        assert client["sink"]["type"] == "file"
    for address in sorted(managed):
        assert f"\n{address}\n" in text
    assert document["unmanaged_clients"] >= 1  # the world's client without mpctl's marker
    assert "mpctl import" in text
    scopes = {s["name"]: s for s in document["scopes"]}
    assert scopes["acme:invoices.read"]["consumers"] == ["910753614"]
    assert scopes["acme:reports/monthly"]["delegation_source"] == "https://tt02.altinn.no/"


def test_show_gives_the_client_id_and_each_kid_with_its_sink_label(project: Path) -> None:
    written = _dotenv(project, CLIENT)
    code, text, err = _mpctl(project, "state", "show", f"client/{CLIENT}")
    assert code == 0, text + err
    assert f"client_id: {written['MASKINPORTEN_CLIENT_ID']}" in text
    assert f"key {written['MASKINPORTEN_KID']}  current" in text

    code, out, err = _mpctl(project, "apply", "--auto-approve", "--rotate", CLIENT)
    assert code == 0, out + err
    code, out, err = _mpctl(project, "state", "show", f"client/{CLIENT}", "-o", "json")
    assert code == 0, out + err
    view = json.loads(out)
    assert view["client_id"] == written["MASKINPORTEN_CLIENT_ID"]
    labels = {key["kid"]: key["label"] for key in view["keys"]}
    assert labels[written["MASKINPORTEN_KID"]] == "previous"  # in its grace, still registered
    assert labels[_dotenv(project, CLIENT)["MASKINPORTEN_KID"]] == "current"
    assert [key["label"] for key in view["keys"]] == ["current", "previous"]
    assert all(key["registered"] and key["expires_at"] for key in view["keys"])


def test_a_fresh_runner_reads_the_state_from_digdir_alone(
    applied: Path, fresh_runner: Path
) -> None:
    code, out, err = _mpctl(fresh_runner, "state", "list", "-o", "json")
    assert code == 0, out + err
    document = json.loads(out)
    assert {c["address"] for c in document["clients"]} | {
        s["address"] for s in document["scopes"]
    } == _managed_addresses(fresh_runner)
    for client in document["clients"]:
        written = _dotenv(applied, client["name"])
        assert client["client_id"] == written["MASKINPORTEN_CLIENT_ID"]
        # The sink (a file on the old machine) is gone: Digdir's kid, no label.
        assert [(k["kid"], k["label"]) for k in client["keys"]] == [
            (written["MASKINPORTEN_KID"], "unknown")
        ]
    left = sorted(str(p.relative_to(fresh_runner)) for p in fresh_runner.rglob(".mpctl/**/*"))
    assert left == [str(EMULATOR_STATE.parent), str(EMULATOR_STATE)]  # nothing written

    code, out, err = _mpctl(fresh_runner, "output", CLIENT)
    assert code == 1, out + err
    assert "no current key in its secret sink" in err


def test_output_prints_what_the_workload_needs_and_never_the_key_unless_asked(
    project: Path,
) -> None:
    written = _dotenv(project, CLIENT)
    body = _key_body_lines(project, CLIENT)
    shown = {}
    for fmt in ("text", "json", "env"):
        code, out, err = _mpctl(project, "output", CLIENT, "-o", fmt)
        assert code == 0, out + err
        for printed in (out, err):
            assert "PRIVATE KEY" not in printed
            assert not any(line in printed for line in body)
        shown[fmt] = out
    values = json.loads(shown["json"])
    assert values["client_id"] == written["MASKINPORTEN_CLIENT_ID"]
    assert values["kid"] == written["MASKINPORTEN_KID"]
    assert values["token_endpoint"] == written["MASKINPORTEN_TOKEN_ENDPOINT"]
    assert values["issuer"] == values["audience"] == written["MASKINPORTEN_ISSUER"]
    assert values["scopes"] == ["acme:invoices.read"]
    assert values["private_key"] is None
    assert f"kid: {written['MASKINPORTEN_KID']}" in shown["text"]
    env_lines = [line for line in shown["env"].splitlines() if not line.startswith("#")]
    assert env_lines == [
        f'{name}="{value}"' for name, value in written.items() if name != "MASKINPORTEN_PRIVATE_KEY"
    ]

    code, out, err = _mpctl(
        project, "output", f"client/{CLIENT}", "-o", "env", "--show-private-key"
    )
    assert code == 0, out + err
    assert all(line in out for line in body)
    assert "private key" in err
    assert [line for line in out.splitlines() if not line.startswith("#")] == [
        line
        for line in (project / SINK / f"{CLIENT}.env").read_text().splitlines()
        if not line.startswith("#")
    ]


def test_an_unknown_address_or_client_exits_1_naming_the_known_ones(project: Path) -> None:
    code, out, err = _mpctl(project, "state", "show", "client/no-such-client")
    assert code == 1, out + err
    assert out == ""
    assert "known addresses: client/altinn-sync, client/billing-invoices" in err
    assert "scope/acme:invoices.read" in err
    code, out, err = _mpctl(project, "output", "no-such-client")
    assert code == 1, out + err
    assert f"clients: altinn-sync, {CLIENT}" in err
