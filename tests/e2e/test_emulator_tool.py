"""The emulator as a tool, through the real CLI (issue 14).

- `mpctl emulator reset`: the state goes back to the world file, the admin certificate is
  issued again, the secret sink is left alone; it asks first, and refuses without a terminal
  unless `--yes`. A world file changed after the state was made is warned about, once.
- `mpctl emulator serve --port P` with P taken: one clear line and exit 1, no traceback.
- `mpctl emulator serve --tls`: an https environment with the printed CA as its `ca_bundle`
  plans and applies; without the CA the TLS failure is reported clearly. Planning it loads no
  emulator, starlette or uvicorn (they are for an embedded environment only: fast start). With
  `--in-memory` an apply's changes stay in the serving process: the state file is not rewritten.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mpctl.cli.main import main
from tests.e2e.harness import build_project
from tests.unit.cli.test_validate_start import RUN_AS_DASH_M

CLIENT = "billing-invoices"
ORGNO = "313367002"
TIMEOUT = 300
WORLD_CHANGED = (
    "emulator-world.yaml changed after the emulator state was made; "
    "run `mpctl emulator reset` to start over from it"
)


def _environ() -> dict[str, str]:
    """Without CI: a CI runner refuses a local file sink outside the embedded emulator (tested
    on its own), and the served https environment here keeps its keys in one."""
    kept = {name: value for name, value in os.environ.items() if name != "CI"}
    return {**kept, "NO_COLOR": "1", "COLUMNS": "200"}


def mpctl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_python(["-m", "mpctl", *args], cwd=cwd)


def run_python(arguments: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=_environ(),
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example trimmed to one client and its scope, with an empty `.mpctl/`."""
    return build_project(tmp_path / "project", clients=(CLIENT,), scopes=("acme:invoices.read",))


def _state(project: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads(
        (project / ".mpctl" / "local" / "emulator-state.json").read_text()
    )
    return document


def _client_descriptions(project: Path) -> list[str]:
    clients = _state(project)["clients"]
    assert isinstance(clients, dict)
    return sorted(str(client["description"]) for client in clients.values())


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_reset_starts_over_from_the_world_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = ("--manifests", str(project))
    applied = mpctl("apply", "--auto-approve", *manifests)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert any(CLIENT in d for d in _client_descriptions(project))
    admin_certificate = project / ".mpctl" / "local" / "admin-certificate.pem"
    issued = admin_certificate.read_bytes()
    sink = _files(project / ".mpctl" / "secrets")
    assert sink, "the file sink holds the client's key and .env"

    world = project / "emulator-world.yaml"
    world.write_text(world.read_text() + "# edited after the state was made\n")
    planned = mpctl("plan", *manifests)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert planned.stderr.count(WORLD_CHANGED) == 1, planned.stderr

    assert main(["emulator", "reset", *manifests]) == 1  # stdin is no terminal here
    assert "refusing to reset the emulator without confirmation" in capsys.readouterr().err
    assert any(CLIENT in d for d in _client_descriptions(project))

    reset = mpctl("emulator", "reset", "--yes", *manifests)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert "Traceback" not in reset.stderr
    assert not any(CLIENT in d for d in _client_descriptions(project))
    assert admin_certificate.read_bytes() != issued
    assert _files(project / ".mpctl" / "secrets") == sink

    again = mpctl("plan", "--detailed-exitcode", *manifests)
    assert again.returncode == 2, again.stdout + again.stderr  # the client is to be made again
    assert WORLD_CHANGED not in again.stderr


def test_reset_needs_an_embedded_emulator(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["emulator", "reset", "--yes", "-e", "test", "--manifests", str(project)])
    assert code == 1
    assert "environment test has no embedded emulator" in capsys.readouterr().err


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = mpctl("emulator", "serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert f"port {port} is already in use on 127.0.0.1; pick another with --port" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _tls_environment(port: int, *, ca_bundle: bool) -> str:
    base = f"https://127.0.0.1:{port}"
    trust = "    ca_bundle: served/tls-ca.pem\n" if ca_bundle else ""
    return (
        "  served:\n"
        f"    api_base_url: {base}/api/v1\n"
        f"    issuer: {base}/\n"
        f"    token_endpoint: {base}/token\n"
        "    delegation_sources: {altinn: https://tt02.altinn.no/}\n"
        f"{trust}"
        "    admin:\n"
        "      client_id: acme-admin\n"
        "      certificate: {file: served/admin-certificate.pem}\n"
        "      private_key: {file: served/admin-key.pem}\n"
    )


def _with_environment(project: Path, block: str, *, replace: bool = False) -> None:
    """Add the `served` environment before the Digdir ones (or replace the one added)."""
    config = project / "mpctl.yaml"
    text = config.read_text()
    marker = "\n  # `digdir: test|prod` pins"
    assert marker in text
    if replace:
        start = text.index("\n  served:\n") + 1
        text = text[:start] + text[text.index(marker) + 1 :]
    config.write_text(text.replace(marker, f"\n{block}{marker}", 1))


@pytest.fixture
def served(project: Path) -> Iterator[int]:
    """`mpctl emulator serve --tls` on a free port, its state and TLS files in `served/`."""
    with serving(project) as port:
        yield port


@contextmanager
def serving(project: Path, *options: str) -> Iterator[int]:
    """`mpctl emulator serve --tls OPTIONS` on a free port while the block runs."""
    state = project / "served" / "state.json"
    world = project / "emulator-world.yaml"
    issued = mpctl(
        "emulator", "issue-certificate", "--orgno", ORGNO, "--state", str(state),
        "--world", str(world), "--cert", str(project / "served" / "admin-certificate.pem"),
        "--key", str(project / "served" / "admin-key.pem"),
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    port = _free_port()
    command = [sys.executable, "-m", "mpctl", "emulator", "serve", "--tls", "--port", str(port)]
    command += ["--state", str(state), "--world", str(world), *options]
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_environ()
    )
    try:
        _wait_until_serving(port, project / "served" / "tls-ca.pem", server)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=TIMEOUT)
        assert server.stderr is not None
        server.stderr.close()


def _wait_until_serving(port: int, ca: Path, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        if ca.is_file():
            try:
                trust = ssl.create_default_context(cafile=str(ca))
                httpx.get(f"https://127.0.0.1:{port}/jwk", verify=trust, timeout=5)
                return
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise AssertionError("the emulator did not start serving https")


def test_an_https_environment_trusts_the_served_ca(project: Path, served: int) -> None:
    _with_environment(project, _tls_environment(served, ca_bundle=False))
    manifests = ("--manifests", str(project), "-e", "served")
    untrusted = mpctl("--verbose", "plan", *manifests)
    assert untrusted.returncode != 0
    assert "retry:" not in untrusted.stderr  # an untrusted certificate stays so: no resend
    assert f"cannot reach 127.0.0.1:{served}: its TLS certificate is not trusted" in (
        untrusted.stderr
    ), untrusted.stderr
    assert "set served's ca_bundle in mpctl.yaml" in untrusted.stderr
    assert "Traceback" not in untrusted.stderr

    _with_environment(project, _tls_environment(served, ca_bundle=True), replace=True)
    planned = mpctl("plan", "--detailed-exitcode", *manifests)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    applied = mpctl("apply", "--auto-approve", *manifests)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    converged = mpctl("plan", "--detailed-exitcode", *manifests)
    assert converged.returncode == 0, converged.stdout + converged.stderr


def test_planning_a_served_environment_loads_no_emulator(project: Path, served: int) -> None:
    _with_environment(project, _tls_environment(served, ca_bundle=True))
    arguments = ["plan", "--detailed-exitcode", "--manifests", str(project), "-e", "served"]
    done = run_python(["-c", RUN_AS_DASH_M, *arguments])
    assert done.returncode == 2, done.stdout + done.stderr[-2000:]
    imported = set(done.stderr.split())
    assert {"mpctl.cli.commands.plan", "mpctl.remote.fetch", "httpx"} <= imported
    emulator_side = ("mpctl.emulator", "mpctl.cli.throwaway", "starlette", "uvicorn")
    loaded = [n for n in imported if any(n == p or n.startswith(p + ".") for p in emulator_side)]
    assert sorted(loaded) == []


def test_serve_in_memory_keeps_changes_in_the_process_and_leaves_the_state_file(
    project: Path,
) -> None:
    with serving(project, "--in-memory") as port:
        state = project / "served" / "state.json"
        before = state.read_bytes()
        _with_environment(project, _tls_environment(port, ca_bundle=True))
        manifests = ("--manifests", str(project), "-e", "served")
        applied = mpctl("apply", "--auto-approve", *manifests)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        converged = mpctl("plan", "--detailed-exitcode", *manifests)
        assert converged.returncode == 0, converged.stdout + converged.stderr
        assert state.read_bytes() == before
