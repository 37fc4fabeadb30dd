"""Odd kinds, hostile `resources` entries, unreadable folders and one bad file among many."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpctl.manifests import load
from mpctl.manifests.project import MAX_FILE_BYTES, load_project
from mpctl.manifests.resolve import SourceDocument, resolve
from mpctl.manifests.yaml import YamlDocument
from tests.conftest import BASE_PROJECT, ProjectFactory

KNOWN_BAD = "kind: Scope\nname: acme:known\ndescription: d\nvisibilty: PUBLIC\n"


def located(directory: Path, env: str = "test") -> set[tuple[str, int, str]]:
    return {(Path(d.file).name, d.line, d.code) for d in load(directory, env).errors}


@pytest.mark.parametrize(
    ("text", "line", "code"),
    [
        ("kind: [Client]\nname: x\n", 1, "MPL005"),
        ("name: x\nkind: {Client: 1}\n", 2, "MPL005"),
        ("kind: Client\nname: x\nenvironments: [[test]]\n", 3, "MPL008"),
        ("kind: Client\nname: x\nenvironments: [{a: 1}]\n", 3, "MPL008"),
    ],
    ids=["kind-list", "kind-mapping", "environment-list", "environment-mapping"],
)
def test_unhashable_kinds_and_environments_are_located(
    make_project: ProjectFactory, text: str, line: int, code: str
) -> None:
    directory = make_project({"odd.yaml": text})
    assert ("odd.yaml", line, code) in located(directory)


@pytest.mark.parametrize("entry", ["/", "..", "resources/../..", "/etc"])
def test_resources_outside_the_project_are_refused(
    make_project: ProjectFactory, entry: str
) -> None:
    directory = make_project(project=BASE_PROJECT + f'resources: ["resources", "{entry}"]\n')
    (error,) = load(directory, "test").errors
    line = BASE_PROJECT.count("\n") + 1
    assert (Path(error.file).name, error.line, error.code) == ("mpctl.yaml", line, "MPL007")
    assert "points outside the project directory" in error.message


def test_symlink_to_a_file_outside_is_refused(make_project: ProjectFactory) -> None:
    outside = Path(tempfile.mkdtemp()) / "secret.yaml"
    outside.write_text("kind: Scope\nname: acme:outside\ndescription: d\n")
    directory = make_project()
    (directory / "resources" / "link.yaml").symlink_to(outside)
    (error,) = load(directory, "test").errors
    assert error.code == "MPL007"
    assert "is a symlink to a file outside it" in error.message
    shutil.rmtree(outside.parent)


def test_symlinked_folders_are_not_walked(make_project: ProjectFactory) -> None:
    directory = make_project({"a/c.yaml": KNOWN_BAD})
    (directory / "resources" / "loop").symlink_to(directory / "resources")
    (directory / "resources" / "root").symlink_to("/")
    assert located(directory) == {("c.yaml", 4, "MPL005")}


def test_every_file_reports_its_problems_when_others_fail(make_project: ProjectFactory) -> None:
    directory = make_project(
        {
            "a-div.yaml.j2": "kind: Client\nname: {{ 1/0 }}\n",
            "b-deep.yaml": "kind: Client\nname: " + "[" * 3000,
            "c-kind.yaml": "kind: [Client]\n",
            "d-binary.yaml": "",
            "e-known.yaml": KNOWN_BAD,
            "f-include.yaml.j2": "kind: Client\n{% include 'x' %}\n",
        }
    )
    (directory / "resources" / "d-binary.yaml").write_bytes(b"\x00\xff\xfe\x00")
    assert located(directory) == {
        ("a-div.yaml.j2", 2, "MPL006"),
        ("b-deep.yaml", 2, "MPL004"),
        ("c-kind.yaml", 1, "MPL005"),
        ("d-binary.yaml", 1, "MPL007"),
        ("e-known.yaml", 4, "MPL005"),
        ("f-include.yaml.j2", 2, "MPL006"),
    }


def test_invalid_utf8_is_located_on_its_line(make_project: ProjectFactory) -> None:
    directory = make_project()
    (directory / "resources" / "latin1.yaml").write_bytes(
        b"kind: Client\nname: x\ndescription: bl\xe5\n"
    )
    (error,) = load(directory, "test").errors
    assert (Path(error.file).name, error.line, error.code) == ("latin1.yaml", 3, "MPL007")
    assert "not UTF-8 text (byte 0xe5)" in error.message


def test_oversized_file_is_refused_without_reading_it_all(make_project: ProjectFactory) -> None:
    directory = make_project()
    (directory / "resources" / "huge.yaml").write_bytes(b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    (error,) = load(directory, "test").errors
    assert (Path(error.file).name, error.code) == ("huge.yaml", "MPL007")
    assert "larger than" in error.message


class _Exploding(dict[str, object]):
    """A document whose data fails in a way no manifest can cause: stands in for an mpctl bug."""

    def get(self, key: str, default: object = None) -> object:
        raise RuntimeError("bug in a check")


def test_an_unexpected_error_in_one_document_is_mpl009_for_it_alone(
    make_project: ProjectFactory,
) -> None:
    project, _ = load_project(make_project())
    assert project is not None
    scope = {"kind": "Scope", "name": "acme:x.read", "description": "d"}
    sources = [
        SourceDocument("bug.yaml", YamlDocument(_Exploding(kind="Client"), 7)),
        SourceDocument("fine.yaml", YamlDocument(scope, 1)),
    ]
    resources, problems = resolve(project, "test", sources)
    assert [r.resource.name for r in resources] == ["acme:x.read"]
    assert [(p.file, p.line, p.code) for p in problems] == [("bug.yaml", 7, "MPL009")]
    assert "RuntimeError: bug in a check" in problems[0].message


@pytest.fixture
def locked_folder_project() -> Iterator[Path]:
    """A project, readable by anyone, whose resources hold a folder nobody may read."""
    directory = Path(tempfile.mkdtemp(prefix="mpctl-locked-"))
    directory.chmod(0o755)
    (directory / "mpctl.yaml").write_text(BASE_PROJECT)
    (directory / "resources" / "locked").mkdir(parents=True)
    (directory / "resources" / "open.yaml").write_text(KNOWN_BAD.replace("known", "open"))
    (directory / "resources" / "locked" / "c.yaml").write_text(KNOWN_BAD)
    (directory / "resources" / "locked").chmod(0o000)
    yield directory
    (directory / "resources" / "locked").chmod(0o755)
    shutil.rmtree(directory)


def _load_as_nobody_when_root(directory: Path) -> list[str]:
    """`load` in a forked child that, when the tests run as root, drops to user nobody first."""
    load(directory, "test")  # import everything lazily imported while still allowed to
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            lines = [d.format() for d in load(directory, "test").errors]
            os.write(writer, "\n".join(lines).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        output = pipe.read().decode()
    os.waitpid(pid, 0)
    return output.splitlines()


def test_unreadable_folder_is_an_error_not_a_silent_skip(locked_folder_project: Path) -> None:
    """Skipped silently, the folder's resources would be planned for deletion."""
    lines = _load_as_nobody_when_root(locked_folder_project)
    assert any(
        "mpctl.yaml:1: MPL007 resources entry 'resources': cannot read folder" in line
        and "locked: Permission denied" in line
        for line in lines
    ), lines
    assert any("open.yaml:4: MPL005" in line for line in lines), lines
