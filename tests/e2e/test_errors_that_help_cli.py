"""Issue 14 through the real CLI: errors that help, the -v request log, import of unmanaged
clients.

- No network: an environment whose Digdir host refuses connections fails with one line
  `cannot reach HOST: connection refused` and a hint, no traceback and no raw retry log lines.
- Unset credential variables: one error names every one, with its environment and field.
- `-v` shows each request (method, path, status, duration) and never a token, grant or key.
- `import --all-unmanaged --out FILE` writes the clients without the mpctl marker, refuses to
  replace the file without --force, and with --force gives the same names again.

Retries run without waits: the child turns on stamina's test mode (4 attempts, no sleeps)
before it runs mpctl's own entry point, so the test exercises them and stays fast.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.processes import SAFETY_TIMEOUT

_NO_WAITS = (
    "import sys, stamina; stamina.set_testing(True, attempts=4, cap=True); "
    "from mpctl.cli.main import main; sys.exit(main(sys.argv[1:]))"
)
_KEY_VARIABLE = "MPCTL_H8_REMOTE_ADMIN_KEY"


def _mpctl(project: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    # CI is dropped: a CI runner refuses a local file sink outside the emulator (another
    # check, tested on its own); these tests are about the errors after it
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MPCTL_") and k != "CI"}
    return subprocess.run(
        [sys.executable, "-c", _NO_WAITS, *args, "--manifests", str(project)],
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        env={**clean, "NO_COLOR": "1", "COLUMNS": "200", **environ},
        check=False,
    )


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable(example_copy: Path) -> Path:
    """The example with an environment `remote` on a loopback port nobody listens on."""
    port = _closed_port()
    config = example_copy / "mpctl.yaml"
    text = config.read_text(encoding="utf-8")
    marker = "  # `digdir: test|prod`"
    assert text.count(marker) == 1
    remote = (
        "  remote:\n"
        f"    api_base_url: http://127.0.0.1:{port}/api/v1\n"
        f"    issuer: http://127.0.0.1:{port}/\n"
        f"    token_endpoint: http://127.0.0.1:{port}/token\n"
        "    delegation_sources:\n"
        "      altinn: https://tt02.altinn.no/\n"
        "    admin:\n"
        "      client_id: acme-admin\n"
        "      kid: acme-admin-1\n"
        f"      private_key: {{env: {_KEY_VARIABLE}}}\n\n"
    )
    config.write_text(text.replace(marker, remote + marker), encoding="utf-8")
    return example_copy


@pytest.fixture(scope="module")
def admin_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_no_network_is_one_line_with_a_hint(unreachable: Path, admin_key_pem: str) -> None:
    result = _mpctl(unreachable, "plan", "-e", "remote", **{_KEY_VARIABLE: admin_key_pem})
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: cannot reach 127.0.0.1:")
    assert lines[0].endswith(": connection refused")
    assert "hint:" in lines[1]
    assert "MPCTL_REMOTE_API_BASE_URL" in lines[1]
    assert "Traceback" not in result.stderr
    assert "WARNING" not in result.stderr
    assert "retry" not in result.stderr.lower()
    assert "→" not in result.stderr  # requests are logged with -v only


def test_every_unset_variable_is_named_in_one_run(example_copy: Path) -> None:
    result = _mpctl(example_copy, "apply", "-e", "test", "--auto-approve")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert (
        "MPCTL_TEST_ADMIN_CERTIFICATE is not set (environments.test.admin.certificate)" in errors[0]
    )
    assert (
        "MPCTL_TEST_ADMIN_PRIVATE_KEY is not set (environments.test.admin.private_key)" in errors[0]
    )


def test_verbose_shows_each_request_with_status_and_no_secret(example_copy: Path) -> None:
    result = _mpctl(example_copy, "-v", "plan")
    assert result.returncode in (0, 2), result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("POST /token → 200 in ") for line in lines), result.stderr
    assert any(line.startswith("GET /api/v1/clients → 200 in ") for line in lines)
    assert all(line.endswith(" s") or "correlation id" in line for line in lines if "→" in line)
    for secret in ("eyJ", "Bearer", "assertion", "BEGIN", "access_token", "client_assertion"):
        assert secret not in result.stderr


_HAND_MADE = """
  - client_id: 0b6e1c2d-0000-4000-8000-00000000000{n}
    client_orgno: "313367002"
    client_name: {name}
    description: Laget for hånd
    scopes: [altinn:instances.read]
    created: "2024-03-14T09:12:43.354+01:00"
"""


def test_import_all_unmanaged_writes_out_and_never_overwrites(example_copy: Path) -> None:
    world = example_copy / "emulator-world.yaml"
    text = world.read_text(encoding="utf-8")
    extra = "".join(
        _HAND_MADE.format(n=n, name=name)
        for n, name in ((1, "Håndlaget"), (2, "Kjøretøy Ærlig"), (3, "Håndlaget"))
    )
    world.write_text(text.replace("\nclients:\n", "\nclients:" + extra, 1), encoding="utf-8")
    out = example_copy / "resources" / "adopted.yaml"
    first = _mpctl(example_copy, "import", "--all-unmanaged", "--out", str(out))
    assert first.returncode == 0, first.stderr
    text = out.read_text(encoding="utf-8")
    assert "name: acme-manuell-testklient\n" in text
    assert "name: handlaget\n" in text
    assert "name: kjoretoy-aerlig\n" in text
    assert "name: handlaget-2\n" in text
    # the clash goes by client id: the first Håndlaget keeps the plain name
    assert text.index("adopt: 0b6e1c2d-0000-4000-8000-000000000001") < text.index(
        "name: handlaget-2"
    )
    assert "client_name: Håndlaget\n" in text
    assert "adopt: " in text
    assert "[mpctl:" not in text
    again = _mpctl(example_copy, "import", "--all-unmanaged", "--out", str(out))
    assert again.returncode == 1
    assert "--force" in again.stderr
    assert out.read_text(encoding="utf-8") == text
    forced = _mpctl(example_copy, "import", "--all-unmanaged", "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert out.read_text(encoding="utf-8") == text  # its own names are free again: no -3
