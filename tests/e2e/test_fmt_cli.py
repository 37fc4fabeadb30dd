"""`mpctl fmt` through the real CLI, on a copy of the example project (issue 14).

Checked: the example is canonical (`--check` exits 0 and writes nothing); a messy manifest is
listed by `--check` (exit 1, untouched), shown by `--diff` (untouched) and rewritten by `fmt`
with its mode kept; a file that does not parse is reported as FILE:LINE and left as it was
while the others are formatted; templates are skipped and listed with `-v`; the pre-commit hook
runs `mpctl fmt --check`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mpctl.manifests import load
from tests.conftest import EXAMPLE_MANIFESTS, REPO

_MESSY = (
    "# A client written by hand.\n"
    "scopes:\n"
    "- acme:reports/monthly\n"
    "name: messy  # keep this comment\n"
    "kind: Client\n"
    "description: Written out of order\n"
    "delegations:\n"
    "- consumer_org: 910753614\n"
    "  scopes: [acme:reports/monthly]\n"
)
_CANONICAL = (
    "# A client written by hand.\n"
    "kind: Client\n"
    "name: messy  # keep this comment\n"
    "description: Written out of order\n"
    "scopes:\n"
    "  - acme:reports/monthly\n"
    "delegations:\n"
    '  - consumer_org: "910753614"\n'
    "    scopes: [acme:reports/monthly]\n"
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder holding a copy of the example as `manifests/`, with an empty `.mpctl/`."""
    target = tmp_path / "manifests"
    shutil.copytree(EXAMPLE_MANIFESTS, target, ignore=shutil.ignore_patterns(".mpctl"))
    (target / ".mpctl").mkdir(mode=0o700)
    return tmp_path


def mpctl(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpctl", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(REPO)},
    )


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_the_example_project_is_canonical_and_check_writes_nothing(workdir: Path) -> None:
    before = _snapshot(workdir)
    result = mpctl(workdir, "fmt", "--check")
    assert result.returncode == 0, result.stderr
    assert "0 file(s) would be reformatted, 6 unchanged, 1 template(s) skipped" in result.stderr
    assert _snapshot(workdir) == before


def test_check_lists_diff_shows_and_fmt_rewrites_keeping_the_mode(workdir: Path) -> None:
    messy = workdir / "manifests" / "resources" / "clients" / "messy.yaml"
    messy.write_text(_MESSY)
    messy.chmod(0o640)

    checked = mpctl(workdir, "fmt", "--check")
    assert checked.returncode == 1
    assert "would reformat manifests/resources/clients/messy.yaml" in checked.stderr
    assert "1 file(s) would be reformatted, 6 unchanged" in checked.stderr
    assert messy.read_text() == _MESSY

    diffed = mpctl(workdir, "fmt", "--diff", "manifests/resources/clients")
    assert diffed.returncode == 0, diffed.stderr
    assert diffed.stdout.startswith("--- a/manifests/resources/clients/messy.yaml\n")
    assert "\n-- consumer_org: 910753614\n" in diffed.stdout
    assert '\n+  - consumer_org: "910753614"\n' in diffed.stdout
    assert messy.read_text() == _MESSY

    written = mpctl(workdir, "fmt")
    assert written.returncode == 0, written.stderr
    assert "reformatted manifests/resources/clients/messy.yaml" in written.stderr
    assert messy.read_text() == _CANONICAL
    assert messy.stat().st_mode & 0o777 == 0o640
    assert not list(messy.parent.glob(".*.tmp"))
    assert mpctl(workdir, "fmt", "--check").returncode == 0
    assert not load(workdir / "manifests").errors


def test_a_file_that_does_not_parse_is_reported_and_left_while_the_others_are_formatted(
    workdir: Path,
) -> None:
    clients = workdir / "manifests" / "resources" / "clients"
    broken = clients / "broken.yaml"
    broken_text = "kind: Client\nname: broken\nscopes: [acme:invoices.read\ndescription: x\n"
    broken.write_text(broken_text)
    (clients / "messy.yaml").write_text(_MESSY)

    result = mpctl(workdir, "fmt")
    assert result.returncode == 1
    assert "Error: manifests/resources/clients/broken.yaml:4: YAML syntax" in result.stderr
    assert "file left unchanged" in result.stderr
    assert "1 file(s) reformatted, 6 unchanged, 1 template(s) skipped, 1 could not be" in (
        result.stderr.replace("\n", " ")
    )
    assert broken.read_text() == broken_text
    assert (clients / "messy.yaml").read_text() == _CANONICAL


def test_templates_are_skipped_and_listed_with_verbose(workdir: Path) -> None:
    template = workdir / "manifests" / "resources" / "teams.yaml.j2"
    before = template.read_bytes()
    result = mpctl(workdir, "-v", "fmt", "manifests/resources")
    assert result.returncode == 0, result.stderr
    assert "skipped manifests/resources/teams.yaml.j2: a Jinja template, not YAML" in result.stderr
    assert template.read_bytes() == before


def test_a_symlink_out_of_the_folder_is_never_written_through(
    workdir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(_MESSY)
    (workdir / "manifests" / "resources" / "linked.yaml").symlink_to(outside)
    result = mpctl(workdir, "-v", "fmt")
    assert result.returncode == 0, result.stderr
    assert "skipped manifests/resources/linked.yaml: a symlink to a file outside" in result.stderr
    assert outside.read_text() == _MESSY


def test_the_pre_commit_hook_runs_fmt_check_on_yaml_changes(workdir: Path) -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(hook for hook in hooks if hook["id"] == "mpctl-fmt")
    assert hook["entry"] == "mpctl fmt --check"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("manifests/resources/clients/brreg.yaml")
    assert files.search("manifests/mpctl.yaml")
    assert not files.search("README.md")

    command = hook["entry"].split()
    assert command[0] == "mpctl"
    assert mpctl(workdir, *command[1:]).returncode == 0
    (workdir / "manifests" / "resources" / "messy.yaml").write_text(_MESSY)
    assert mpctl(workdir, *command[1:]).returncode == 1
