"""`mpctl validate` end to end through the CLI entry point (exit codes and located output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpctl.cli.main import main
from tests.conftest import EXAMPLE_MANIFESTS


def test_example_project_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--manifests", str(EXAMPLE_MANIFESTS), "--all-environments"]) == 0
    out = capsys.readouterr().out
    assert "local: 6 clients, 3 scopes valid" in out
    assert "prod:" in out


def test_broken_copy_lists_every_problem_with_file_and_line(
    example_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scopes = example_copy / "resources" / "scopes.yaml"
    scopes.write_text(
        scopes.read_text() + "---\nkind: Scope\nname: acme:x\ndescription: d\nvisibilty: PUBLIC\n"
    )
    brreg = example_copy / "resources" / "clients" / "brreg.yaml"
    brreg.write_text(
        brreg.read_text().replace('consumer_org: "910753614"', 'consumer_org: "313367002"')
    )
    assert main(["validate", "--manifests", str(example_copy), "-e", "test"]) == 1
    out = capsys.readouterr().out
    assert "scopes.yaml:35: MPL005 unknown field 'visibilty'" in out
    assert "brreg.yaml:14: MPL102" in out
    assert "2 error(s)" in out


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("kind: Client\nname: !!python/object/apply:os.system ['echo pwned']\n", "MPL003"),
        ("kind: Client\nname: a\nname: b\n", "MPL002"),
        ("kind: Client\nname: a\ndescription: d\nscopes: [x:y]\nsecret_sauce: 1\n", "MPL005"),
        (
            "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{n}: &{n} [" + ",".join([f"*{p}"] * 10) + "]\n"
                for n, p in zip("bcdefg", "abcdef", strict=True)
            ),
            "MPL004",
        ),
    ],
    ids=["python-tag", "duplicate-key", "unknown-field", "alias-bomb"],
)
def test_hostile_manifest_is_rejected_without_traceback(
    example_copy: Path, capsys: pytest.CaptureFixture[str], text: str, code: str
) -> None:
    (example_copy / "resources" / "evil.yaml").write_text(text)
    assert main(["validate", "--manifests", str(example_copy)]) == 1
    captured = capsys.readouterr()
    assert "evil.yaml:" in captured.out
    assert code in captured.out
    assert "Traceback" not in captured.out + captured.err
    assert "pwned" not in captured.out + captured.err or code != "MPL003"


def test_json_format_is_machine_readable(
    example_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (example_copy / "resources" / "bad.yaml").write_text("kind: Scope\nname: acme:x\n")
    assert main(["validate", "--manifests", str(example_copy), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["diagnostics"][0]["code"] == "MPL005"
    assert report["diagnostics"][0]["line"] == 1


def test_unknown_environment_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--manifests", str(EXAMPLE_MANIFESTS), "-e", "staging"]) == 1
    assert "unknown environment 'staging'" in capsys.readouterr().out


def test_usage_error_exits_1() -> None:
    assert main(["validate", "--no-such-flag"]) == 1


BRREG = ("resources", "clients", "brreg.yaml")
SCOPES = ("resources", "scopes.yaml")
DELEGATION_MISTAKES = {
    "own org as consumer_org": (
        BRREG,
        ('consumer_org: "910753614"', 'consumer_org: "313367002"'),
        "brreg.yaml:14: MPL102",
    ),
    "delegated scope not on the client": (
        BRREG,
        ("scopes: [brreg:reelle/rapporteringspliktig]\ndelegations", "scopes: [x:y]\ndelegations"),
        "brreg.yaml:16: MPL112",
    ),
    "declared scope without delegation_source": (
        BRREG,
        ("brreg:reelle/rapporteringspliktig", "acme:invoices.read"),
        "brreg.yaml:16: MPL103",
    ),
    "unknown delegation source": (
        SCOPES,
        ("delegation_source: altinn", "delegation_source: altin"),
        "scopes.yaml:29: MPL113",
    ),
}


@pytest.mark.parametrize(
    ("where", "edit", "finding"), DELEGATION_MISTAKES.values(), ids=DELEGATION_MISTAKES.keys()
)
def test_validate_and_plan_report_a_delegation_mistake_once_with_one_code(
    example_copy: Path,
    capsys: pytest.CaptureFixture[str],
    where: tuple[str, ...],
    edit: tuple[str, str],
    finding: str,
) -> None:
    """Each delegation rule has one home (lint), so both commands name it with the same code."""
    path = example_copy.joinpath(*where)
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1]))
    assert main(["validate", "--manifests", str(example_copy)]) == 1
    validated = capsys.readouterr().out
    assert main(["plan", "--manifests", str(example_copy), "--format", "json"]) == 1
    planned = capsys.readouterr()
    for output in (validated, planned.err):
        assert output.count(finding) == 1
        assert "delegation." not in output
    assert planned.out == ""
