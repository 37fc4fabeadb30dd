"""Directories for keys and sinks are 0700 whatever the umask; unsafe sink files are refused.

Through the real CLI: `apply` on the example project (embedded emulator) and `keys create` run in
a child process under `umask 000`, the worst case, and every directory they create, parents
included, must be 0700 and every file holding a key 0600. A sink file or directory that others
can write, or that another user owns, is refused with its path and the `chmod` that fixes it,
before its key is used: a key planted in such a file is never registered at Digdir.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mpctl.cli.main import main
from tests.conftest import EXAMPLE_MANIFESTS

CLIENT = "billing-invoices"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_under_umask_000(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`mpctl ARGS` in a child process whose umask is 000."""
    code = (
        "import os, sys; os.umask(0); from mpctl.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, target, ignore=shutil.ignore_patterns(".mpctl"))
    config = target / "mpctl.yaml"
    config.write_text(config.read_text().replace("size: 3072", "size: 2048"))
    return target


def test_apply_under_umask_000_makes_every_directory_0700(project: Path) -> None:
    result = run_under_umask_000(
        "apply", "--manifests", str(project), "--auto-approve", cwd=project
    )
    assert result.returncode == 0, result.stdout + result.stderr
    state = project / ".mpctl"
    directories = [state, *(p for p in state.rglob("*") if p.is_dir())]
    assert {state / "local", state / "secrets", state / "secrets" / "local"} <= set(directories)
    assert {str(d.relative_to(project)): mode_of(d) for d in directories} == {
        str(d.relative_to(project)): 0o700 for d in directories
    }
    secrets = [p for p in state.rglob("*") if p.is_file() and p.suffix in (".json", ".env", ".pem")]
    loose = {
        str(p.relative_to(project)): oct(mode_of(p))
        for p in secrets
        if mode_of(p) != 0o600 and p.name != "admin-certificate.pem"  # public half only
    }
    assert loose == {}


def test_keys_create_under_umask_000_makes_every_parent_0700(tmp_path: Path) -> None:
    result = run_under_umask_000(
        "keys", "create", "svc", "--dir", "a/b/c", "--size", "2048", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for directory in ("a", "a/b", "a/b/c", "a/b/c/svc"):
        assert mode_of(tmp_path / directory) == 0o700, directory
    for file in (tmp_path / "a/b/c/svc").iterdir():
        assert mode_of(file) == 0o600, file


def test_default_key_store_is_private(tmp_path: Path) -> None:
    result = run_under_umask_000("keys", "create", "svc", "--size", "2048", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for directory in (".mpctl", ".mpctl/keys", ".mpctl/keys/svc"):
        assert mode_of(tmp_path / directory) == 0o700, directory


def _applied(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["apply", "--manifests", str(project), "--auto-approve"]) == 0
    capsys.readouterr()
    return project / ".mpctl" / "secrets" / "local"


def _refused(project: Path, capsys: pytest.CaptureFixture[str], *fragments: str) -> None:
    assert main(["plan", "--manifests", str(project)]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    for fragment in fragments:
        assert fragment in text, text


def test_a_sink_file_open_to_others_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = _applied(project, capsys)
    path = sink / f"{CLIENT}.json"
    path.chmod(0o666)
    _refused(project, capsys, str(path), f"chmod 600 {path}")
    path.chmod(0o600)
    assert main(["plan", "--manifests", str(project), "--detailed-exitcode"]) == 0


def test_a_dotenv_open_to_others_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = _applied(project, capsys)
    path = sink / f"{CLIENT}.env"
    path.chmod(0o644)
    assert main(["apply", "--manifests", str(project), "--auto-approve", "--rotate", CLIENT]) == 1
    out = capsys.readouterr()
    assert f"chmod 600 {path}" in out.out + out.err


@pytest.mark.parametrize("directory", ["secrets/local", "secrets", "."])
def test_a_sink_directory_writable_by_others_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str], directory: str
) -> None:
    sink = _applied(project, capsys)
    path = (project / ".mpctl" / directory).resolve()
    path.chmod(0o777)
    _refused(project, capsys, f"chmod 700 {path}")
    assert sink.is_dir()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_sink_file_of_another_user_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = _applied(project, capsys)
    path = sink / f"{CLIENT}.json"
    os.chown(path, 65534, 65534)
    _refused(project, capsys, str(path), "belongs to another user")


def test_a_planted_key_is_never_registered(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone else prepared the sink (world-writable) before the first apply: nothing happens."""
    planted = tmp_path / "donor"
    shutil.copytree(project, planted)
    donor_sink = _applied(planted, capsys)
    sink = project / ".mpctl" / "secrets" / "local"
    sink.mkdir(parents=True)
    sink.chmod(0o777)
    shutil.copy(donor_sink / f"{CLIENT}.json", sink / f"{CLIENT}.json")
    planted_kid = json.loads((sink / f"{CLIENT}.json").read_text())["current"]["kid"]
    assert main(["apply", "--manifests", str(project), "--auto-approve"]) == 1
    out = capsys.readouterr()
    assert f"chmod 700 {sink}" in out.out + out.err
    state = project / ".mpctl" / "local" / "emulator-state.json"
    assert not state.exists() or planted_kid not in state.read_text()


def test_keys_export_refuses_a_key_file_open_to_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "keys"
    assert main(["keys", "create", "svc", "--dir", str(store), "--size", "2048"]) == 0
    pem = store / "svc" / "TEST.pem"
    pem.chmod(0o644)
    capsys.readouterr()
    assert main(["keys", "export", "svc", "--dir", str(store)]) == 1
    captured = capsys.readouterr()
    assert f"chmod 600 {pem}" in captured.out + captured.err
