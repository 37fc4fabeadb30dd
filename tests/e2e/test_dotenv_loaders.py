"""The `.env` the file sink writes loads the usual ways, and mpctl's own probes accept the result.

For each `dotenv_encoding` the example project is applied against the embedded emulator, then
each client's `.env` is loaded for real: `set -a; . FILE` in bash and in dash, followed by
`mpctl readiness` and `mpctl verify --from-env` in that shell; `kubectl create secret generic
--from-env-file --dry-run=client` and the docker CLI's `--env-file` parser when they are
installed; and a reader that follows docker's documented line rules (`NAME=VALUE` per line,
leading whitespace trimmed, `#` comments, no quote removal, no multi-line values). The
line-based loaders must round-trip the base64 variants exactly and must refuse the PEM variant,
whose header says it is not line-safe.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mpctl.cli.main import main
from mpctl.verify.readiness import probe
from tests.conftest import EXAMPLE_MANIFESTS

ENCODINGS = ("pem", "base64", "jwk-base64")
CLIENT = "saldo-studielan"
SHELLS = [shell for shell in ("bash", "dash") if shutil.which(shell)]


class EnvFileError(ValueError):
    """A line docker's `--env-file` parser refuses."""


def docker_env_file(text: str) -> dict[str, str]:
    """docker's `--env-file` rules (docs: docker run --env-file; opts/envfile.go).

    Each line is `NAME=VALUE` or `NAME` (taken from the host); leading whitespace is trimmed;
    lines starting with `#` and empty lines are skipped; the value is everything after the
    first `=`, quotes included; a name with whitespace in it is an error.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        name, has_value, value = stripped.partition("=")
        if not name or any(ch.isspace() for ch in name):
            raise EnvFileError(f"variable {name[:20]!r} contains whitespaces")
        if not has_value:
            raise EnvFileError(f"{name[:20]!r} has no '=': docker would read it from the host")
        values[name] = value
    return values


@pytest.fixture(scope="module", params=ENCODINGS)
def applied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project applied with this `dotenv_encoding`; returns the project directory."""
    project = tmp_path_factory.mktemp(f"dotenv-{request.param}", numbered=False) / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, project, ignore=shutil.ignore_patterns(".mpctl"))
    config = project / "mpctl.yaml"
    text = config.read_text().replace("size: 3072", "size: 2048")
    text = text.replace(
        "      grace: 1d\n",
        f"      grace: 1d\n      sink: {{dotenv_encoding: {request.param}}}\n",
    )
    config.write_text(text)
    assert main(["apply", "--manifests", str(project), "--auto-approve"]) == 0
    return project


def encoding_of(project: Path) -> str:
    return project.parent.name.removeprefix("dotenv-")


def env_file(project: Path) -> Path:
    return project / ".mpctl" / "secrets" / "local" / f"{CLIENT}.env"


def stored_pem(project: Path) -> str:
    document = json.loads((project / ".mpctl" / "secrets" / "local" / f"{CLIENT}.json").read_text())
    pem: str = document["current"]["private_key_pem"]
    return pem


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without any MASKINPORTEN_* variable, plus `extra`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MASKINPORTEN_")}
    return base | extra


def in_shell(shell: str, project: Path, command: str) -> subprocess.CompletedProcess[str]:
    """`set -a; . FILE; <command>` in `shell`, with $MPCTL running this checkout's mpctl."""
    script = f'set -a; . "$ENV_FILE"; set +a; {command}'
    environ = clean_environ(ENV_FILE=str(env_file(project)), PY=sys.executable)
    return subprocess.run(
        [shell, "-c", script], env=environ, capture_output=True, text=True, timeout=120, check=False
    )


def shell_values(shell: str, project: Path) -> dict[str, str]:
    """The MASKINPORTEN_* variables as the shell exported them (NUL-separated, exact)."""
    result = in_shell(
        shell, project, 'exec "$PY" -c "import os,json;print(json.dumps(dict(os.environ)))"'
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, str] = json.loads(result.stdout)
    return {k: v for k, v in loaded.items() if k.startswith("MASKINPORTEN_")}


@pytest.mark.parametrize("shell", SHELLS)
def test_sourced_file_gives_the_exact_key(applied: Path, shell: str) -> None:
    values = shell_values(shell, applied)
    pem = stored_pem(applied)
    if encoding_of(applied) == "pem":
        assert values["MASKINPORTEN_PRIVATE_KEY"] == pem
    elif encoding_of(applied) == "base64":
        assert base64.b64decode(values["MASKINPORTEN_PRIVATE_KEY_BASE64"]).decode() == pem
    else:
        jwk = json.loads(base64.b64decode(values["MASKINPORTEN_PRIVATE_KEY_BASE64"]))
        assert jwk["kid"] == values["MASKINPORTEN_KID"]
        assert {"d", "p", "q", "dp", "dq", "qi"} <= set(jwk)
    assert values["MASKINPORTEN_MODE"] == "live"


@pytest.mark.parametrize("shell", SHELLS)
def test_sourced_file_is_ready_and_verifies(applied: Path, shell: str) -> None:
    ready = in_shell(shell, applied, 'exec "$PY" -m mpctl readiness --allow-http --format json')
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert json.loads(ready.stdout) == {"status": "ready"}
    verified = in_shell(
        shell,
        applied,
        f'exec "$PY" -m mpctl verify --from-env --client {CLIENT} --manifests "{applied}"',
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{CLIENT}: token for lanekassen:lan/v1/saldoopplysninger" in verified.stdout
    assert "PRIVATE KEY" not in verified.stdout + verified.stderr


def test_docker_line_rules(applied: Path) -> None:
    text = env_file(applied).read_text()
    if encoding_of(applied) == "pem":
        assert "It is not line-safe" in text
        with pytest.raises(EnvFileError):
            docker_env_file(text)
        return
    values = docker_env_file(text)
    assert values == shell_values(SHELLS[0], applied)
    assert probe(values, allow_http=True).status == "ready"


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")
def test_docker_cli_parses_only_the_line_safe_variants(applied: Path) -> None:
    """The real docker CLI reads the env file before it contacts a daemon (none is needed)."""
    result = subprocess.run(
        ["docker", "run", "--rm", "--env-file", str(env_file(applied)), "mpctl-no-such-image"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean_environ(DOCKER_HOST="unix:///nonexistent/docker.sock"),
    )
    assert result.returncode != 0
    refused = "invalid env file" in result.stderr
    assert refused == (encoding_of(applied) == "pem"), result.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_from_env_file(applied: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            "kubectl",
            "create",
            "secret",
            "generic",
            "maskinporten",
            f"--from-env-file={env_file(applied)}",
            "--dry-run=client",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean_environ(KUBECONFIG=str(tmp_path / "none")),
    )
    if encoding_of(applied) == "pem":
        assert result.returncode != 0
        assert "is not a valid key name" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)["data"]
    values = {name: base64.b64decode(value).decode() for name, value in data.items()}
    assert values == shell_values(SHELLS[0], applied)
    assert probe(values, allow_http=True).status == "ready"


def test_python_dotenv_when_installed(applied: Path) -> None:
    dotenv = pytest.importorskip("dotenv")
    values = dict(dotenv.dotenv_values(env_file(applied)))
    assert values == shell_values(SHELLS[0], applied)
