"""A pull request cannot send an admin token anywhere, and reading never holds write scopes.

- `digdir: test|prod` pins Digdir's own API, issuer and token endpoint: a manifest that names
  another host is an MPL108 error at its line (with the override variable in the hint), and
  at run time Digdir's hosts are used whatever the manifest says; only `MPCTL_<ENV>_*`
  variables point an environment elsewhere. Other environments may name loopback hosts only.
- Reading commands (plan, drift = plan, import, verify) ask for read-only admin scopes, from
  `admin_readonly` when there is one; only apply asks for write scopes. Proven against the
  embedded emulator, which enforces admin scopes: plan works for an admin client that holds
  only read scopes, the token a reading connection carries has no write scope, and a write
  with it is refused (403).
- The shipped plan-on-PR and drift workflows give mpctl only the read-only credential.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml

from mpctl.cli.environment import connect, open_workspace
from mpctl.errors import ConfigError
from mpctl.model import ClientRegistration
from mpctl.model.config import DIGDIR_TEST, READ_SCOPES, Environment
from mpctl.remote.connect import effective_environment
from mpctl.remote.errors import Forbidden
from tests.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
WRITE = ("idporten:dcr.write", "idporten:dcr.modify", "idporten:scopes.write")
NEW_CLIENT = {
    "client_name": "intruder",
    "description": "made with a read-only token",
    "integration_type": "maskinporten",
    "application_type": "web",
    "token_endpoint_auth_method": "private_key_jwt",
    "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
    "scopes": ["acme:invoices.read"],
}


def _mpctl(project: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mpctl", args[0], "--manifests", str(project), *args[1:]]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MPCTL_")}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean, "NO_COLOR": "1", **environ},
        check=False,
    )


def _line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def _edit_world(project: Path, edit: Any) -> None:
    path = project / "emulator-world.yaml"
    world = yaml.safe_load(path.read_text())
    edit(world)
    path.write_text(yaml.safe_dump(world, sort_keys=False))


def _admin(world: dict[str, Any], client_id: str = "acme-admin") -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in world["admin_clients"] if a["client_id"] == client_id)
    return found


# --- pinned hosts -----------------------------------------------------------------------------


def test_a_digdir_environment_pointed_elsewhere_is_a_located_error(example_copy: Path) -> None:
    config = example_copy / "mpctl.yaml"
    evil = "    api_base_url: https://evil.example/api/v1"
    config.write_text(
        config.read_text().replace("    digdir: test\n", f"    digdir: test\n{evil}\n")
    )
    result = _mpctl(example_copy, "validate", "--all-environments")
    assert result.returncode == 1
    line = _line_of(config, evil)
    assert f"mpctl.yaml:{line}: MPL108 test: api_base_url https://evil.example/api/v1" in (
        result.stdout
    )
    assert "MPCTL_TEST_API_BASE_URL" in result.stdout  # the hint names the only override
    planned = _mpctl(example_copy, "plan", "-e", "test")
    assert planned.returncode == 1
    assert "the manifests have 1 error(s)" in planned.stderr  # refused before any request
    assert "nothing was written" not in planned.stderr


def test_the_old_form_with_any_https_host_no_longer_passes_validate(example_copy: Path) -> None:
    """Before: `api_base_url: https://anything` passed validate, and plan-on-PR sent the token."""
    config = example_copy / "mpctl.yaml"
    hosts = (
        "    api_base_url: https://collector.example/api/v1\n"
        "    issuer: https://collector.example/\n"
        "    token_endpoint: https://collector.example/token\n"
    )
    config.write_text(config.read_text().replace("    digdir: prod\n", hosts))
    result = _mpctl(example_copy, "validate", "-e", "prod")
    assert result.returncode == 1
    for field in ("api_base_url", "issuer", "token_endpoint"):
        line = next(
            i
            for i, t in enumerate(config.read_text().splitlines(), 1)
            if field in t and "collector" in t
        )
        assert f"mpctl.yaml:{line}: MPL108 prod: {field} " in result.stdout
    assert "neither Digdir" in result.stdout


def test_an_unparsable_issuer_is_a_located_error_not_a_crash(example_copy: Path) -> None:
    config = example_copy / "mpctl.yaml"
    broken = "    issuer: 'https://[::1/'"
    config.write_text(
        config.read_text().replace("    digdir: test\n", f"    digdir: test\n{broken}\n")
    )
    result = _mpctl(example_copy, "validate", "-e", "test")
    assert result.returncode == 1
    assert f"mpctl.yaml:{_line_of(config, broken)}: MPL108 test: 'https://[::1/' is not a URL" in (
        result.stdout
    )
    assert "unexpected" not in result.stdout + result.stderr


def test_a_loopback_environment_is_accepted(example_copy: Path) -> None:
    config = example_copy / "mpctl.yaml"
    served = (
        "  served:\n"
        "    api_base_url: http://127.0.0.1:8080/api/v1\n"
        "    issuer: http://127.0.0.1:8080/\n"
        "    token_endpoint: http://127.0.0.1:8080/token\n"
        "    delegation_sources: {altinn: https://tt02.altinn.no/}\n"
    )
    config.write_text(config.read_text().replace("environments:\n", f"environments:\n{served}"))
    result = _mpctl(example_copy, "validate", "-e", "served")
    assert result.returncode == 0, result.stdout + result.stderr


def test_run_time_endpoints_are_digdirs_whatever_the_manifest_says() -> None:
    """Defence in depth: even a manifest value that slipped past lint is never used."""
    smuggled = Environment.model_validate(
        {"digdir": "test", "api_base_url": "https://evil.example/api/v1"}
    )
    used = effective_environment(smuggled, env_name="test", environ={}, in_process=False)
    assert str(used.api_base_url) == DIGDIR_TEST["api_base_url"]
    assert used.issuer == DIGDIR_TEST["issuer"]
    assert str(used.token_endpoint) == DIGDIR_TEST["token_endpoint"]


def test_only_an_environment_variable_points_an_environment_elsewhere() -> None:
    digdir = Environment.model_validate({"digdir": "test"})
    environ = {
        "MPCTL_TEST_API_BASE_URL": "http://127.0.0.1:9/api/v1",
        "MPCTL_TEST_ISSUER": "http://127.0.0.1:9/",
        "MPCTL_TEST_TOKEN_ENDPOINT": "http://127.0.0.1:9/token",
        "MPCTL_PROD_API_BASE_URL": "http://wrong-environment.example/",
    }
    used = effective_environment(digdir, env_name="test", environ=environ, in_process=False)
    assert (str(used.api_base_url), used.issuer, str(used.token_endpoint)) == (
        "http://127.0.0.1:9/api/v1",
        "http://127.0.0.1:9/",
        "http://127.0.0.1:9/token",
    )
    bad_issuer = {"MPCTL_TEST_ISSUER": "http://127.0.0.1:9"}
    with pytest.raises(ConfigError, match="MPCTL_TEST_ISSUER must end with '/'"):
        effective_environment(digdir, env_name="test", environ=bad_issuer, in_process=False)


def test_a_non_loopback_host_from_a_manifest_is_refused_before_any_request() -> None:
    custom = Environment.model_validate(
        {
            "api_base_url": "https://collector.example/api/v1",
            "issuer": "https://collector.example/",
            "token_endpoint": "https://collector.example/token",
        }
    )
    with pytest.raises(ConfigError, match="refusing to send the admin token to collector") as e:
        effective_environment(custom, env_name="ci", environ={}, in_process=False)
    assert e.value.hint is not None
    assert "MPCTL_CI_API_BASE_URL" in e.value.hint
    overridden = {
        "MPCTL_CI_API_BASE_URL": "https://emulator.ci.internal/api/v1",
        "MPCTL_CI_ISSUER": "https://emulator.ci.internal/",
        "MPCTL_CI_TOKEN_ENDPOINT": "https://emulator.ci.internal/token",
    }
    used = effective_environment(custom, env_name="ci", environ=overridden, in_process=False)
    assert str(used.api_base_url) == "https://emulator.ci.internal/api/v1"


def test_plan_on_digdir_uses_the_read_only_credential_and_the_override(
    example_copy: Path,
) -> None:
    result = _mpctl(example_copy, "plan", "-e", "test")
    assert result.returncode == 1
    assert "MPCTL_TEST_READONLY_ADMIN_PRIVATE_KEY is not set" in result.stderr
    applied = _mpctl(example_copy, "apply", "-e", "test", "--auto-approve")
    assert applied.returncode == 1
    assert "MPCTL_TEST_ADMIN_PRIVATE_KEY is not set" in applied.stderr


# --- read-only scopes against the embedded emulator ---------------------------------------------


def test_plan_works_with_an_admin_client_that_holds_only_read_scopes(example_copy: Path) -> None:
    """Before: plan asked for every admin scope, and the emulator refused the grant."""
    _edit_world(example_copy, lambda world: _admin(world).update(scopes=list(READ_SCOPES)))
    planned = _mpctl(example_copy, "plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "to create" in planned.stdout
    applied = _mpctl(example_copy, "apply", "--auto-approve")
    assert applied.returncode == 1
    assert "idporten:dcr.write" in applied.stderr  # the grant asked for write: refused
    state = json.loads((example_copy / ".mpctl/local/emulator-state.json").read_text())
    assert not [c for c in state["clients"].values() if "[mpctl:" in c["description"]]


def test_reading_commands_use_admin_readonly_and_apply_uses_admin(example_copy: Path) -> None:
    def add_reader(world: dict[str, Any]) -> None:
        reader = {**_admin(world), "client_id": "acme-admin-read", "scopes": list(READ_SCOPES)}
        world["admin_clients"].append(reader)

    _edit_world(example_copy, add_reader)
    config = example_copy / "mpctl.yaml"
    text = config.read_text().replace(
        "      client_id: acme-admin\n", "      client_id: unknown-admin\n"
    )
    reader = (
        "    admin_readonly:\n"
        "      client_id: acme-admin-read\n"
        "      certificate: {file: ./.mpctl/local/admin-certificate.pem}\n"
        "      private_key: {file: ./.mpctl/local/admin-key.pem}\n"
    )
    config.write_text(text.replace("    emulator:\n", f"{reader}    emulator:\n", 1))
    planned = _mpctl(example_copy, "plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    applied = _mpctl(example_copy, "apply", "--auto-approve")
    assert applied.returncode == 1
    assert "Client authentication failed" in applied.stderr  # apply used `admin`


class _Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the emulator and keeps the bearer tokens they carried."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.bearers: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme == "Bearer":
            self.bearers.append(token)
        return await self.inner.handle_async_request(request)


def test_a_reading_token_has_no_write_scope_and_cannot_write(example_copy: Path) -> None:
    workspace = open_workspace(example_copy, None)

    async def scenario() -> tuple[list[str], httpx.Response]:
        async with connect(workspace) as (remote, transport):
            assert transport is not None
            await remote.list_clients()
            with pytest.raises(Forbidden, match="lacks a required scope"):
                await remote.create_client(ClientRegistration.model_validate(NEW_CLIENT))
        async with connect(workspace, access="write") as (writer, _):
            await writer.list_clients()  # the writing path works: the world allows it
        recorder = _Recorder(_inner(workspace))
        async with connect_with(workspace, recorder) as remote:
            await remote.list_clients()
        async with httpx.AsyncClient(transport=_inner(workspace)) as http:
            response = await http.post(
                f"{workspace.environment.api_base_url}/clients",
                json=NEW_CLIENT,
                headers={"Authorization": f"Bearer {recorder.bearers[0]}"},
            )
        return recorder.bearers, response

    bearers, response = asyncio.run(scenario())
    scopes = {jwt.decode(t, options={"verify_signature": False})["scope"] for t in bearers}
    assert scopes == {" ".join(READ_SCOPES)}
    assert response.status_code == 403


def _inner(workspace: Any) -> httpx.AsyncBaseTransport:
    from mpctl.cli.environment import transport_for

    transport = transport_for(workspace, writable=True)
    assert transport is not None
    return transport


def connect_with(workspace: Any, transport: httpx.AsyncBaseTransport) -> Any:
    from mpctl.remote.connect import open_remote

    return open_remote(
        workspace.environment,
        base_dir=workspace.directory,
        environ={},
        env_name=workspace.env_name,
        transport=transport,
    )


# --- the shipped workflows ----------------------------------------------------------------------


def _workflow(name: str) -> dict[str | bool, Any]:
    loaded: dict[str | bool, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def _credential_variables(access: str) -> dict[str, set[str]]:
    """Per Digdir environment of the example project: the variables its credential reads."""
    config = yaml.safe_load((REPO / "manifests" / "mpctl.yaml").read_text())
    found: dict[str, set[str]] = {}
    for name, environment in config["environments"].items():
        if "digdir" not in environment:
            continue
        credential = environment["admin_readonly" if access == "read" else "admin"]
        found[name] = {
            source["env"]
            for field in ("private_key", "certificate")
            if isinstance(source := credential.get(field), dict) and "env" in source
        }
    return found


def _job_text(job: dict[str, Any]) -> str:
    return json.dumps(job)


@pytest.mark.parametrize(("workflow", "job"), [("plan-on-pr.yml", "plan"), ("drift.yml", "drift")])
def test_plan_on_pr_and_drift_get_only_the_read_only_credential(workflow: str, job: str) -> None:
    text = _job_text(_workflow(workflow)["jobs"][job])
    secrets = set(re.findall(r"secrets\.([A-Z0-9_]+)", text))
    assert secrets
    assert all("READONLY" in s for s in secrets), secrets
    read = _credential_variables("read")
    write = _credential_variables("write")
    provided = set(re.findall(r'"(MPCTL_[A-Z0-9_]+)":', text))
    assert provided == set().union(*read.values())
    assert not provided & set().union(*write.values())
    triggers = _workflow(workflow)[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request_target" not in triggers


def test_apply_on_merge_has_the_writing_credential() -> None:
    text = _job_text(_workflow("apply-on-merge.yml")["jobs"]["apply"])
    provided = set(re.findall(r'"(MPCTL_[A-Z0-9_]+)":', text))
    assert set().union(*_credential_variables("write").values()) <= provided
