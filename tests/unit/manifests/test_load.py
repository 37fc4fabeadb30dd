"""Loading a project: environments, defaults, overrides, templates, and located problems."""

from __future__ import annotations

from pathlib import Path

from mpctl.manifests import load
from mpctl.model.resources import Client
from tests.conftest import BASE_PROJECT, EXAMPLE_MANIFESTS, ProjectFactory

CLIENT = """\
kind: Client
name: billing
description: Billing
scopes: [acme:invoices.read]
"""
SCOPE = """\
kind: Scope
name: acme:invoices.read
description: Read invoices
"""


def test_example_project_is_clean_in_every_environment() -> None:
    for env in ("local", "test", "prod"):
        result = load(EXAMPLE_MANIFESTS, env)
        assert result.errors == [], [d.format() for d in result.errors]
        assert result.desired is not None
        assert result.desired.clients


def test_example_project_exercises_every_kind_and_feature() -> None:
    desired = load(EXAMPLE_MANIFESTS, "test").desired
    assert desired is not None
    assert {"billing-invoices", "ledger-invoices"} <= set(desired.clients)  # from the Jinja loop
    assert any(c.delegations for c in desired.clients.values())
    assert any(s.delegation_source for s in desired.scopes.values())


def test_environments_filter_and_overrides_apply(make_project: ProjectFactory) -> None:
    directory = make_project(
        {
            "s.yaml": SCOPE,
            "c.yaml": CLIENT
            + "environments: [test, prod]\noverrides:\n  prod:\n    description: Billing in prod\n",
            "t.yaml": CLIENT.replace("billing", "testonly") + "environments: [test]\n",
        }
    )
    prod = load(directory, "prod").desired
    test = load(directory, "test").desired
    assert prod is not None
    assert test is not None
    assert prod.clients["billing"].description == "Billing in prod"
    assert test.clients["billing"].description == "Billing"
    assert "testonly" not in prod.clients


def test_defaults_from_project_file_merge_under_documents(make_project: ProjectFactory) -> None:
    directory = make_project(
        {"s.yaml": SCOPE, "c.yaml": CLIENT},
        BASE_PROJECT
        + "defaults:\n  client:\n    access_token_lifetime: 60\n    keys: {size: 4096}\n",
    )
    desired = load(directory, "test").desired
    assert desired is not None
    client = desired.clients["billing"]
    assert isinstance(client, Client)
    assert client.access_token_lifetime == 60
    assert client.keys is not None
    assert client.keys.size == 4096


def test_error_in_defaults_points_at_the_project_file(make_project: ProjectFactory) -> None:
    directory = make_project(
        {"s.yaml": SCOPE, "c.yaml": CLIENT},
        BASE_PROJECT + "defaults:\n  client:\n    keys: {size: 1024}\n",
    )
    problems = load(directory, "test").errors
    assert problems, "a weak default key size must be refused"
    assert problems[0].file.endswith("mpctl.yaml")


def test_error_in_override_points_at_the_override_line(make_project: ProjectFactory) -> None:
    override = "overrides:\n  prod:\n    access_token_lifetime: -5\n"
    directory = make_project({"s.yaml": SCOPE, "c.yaml": CLIENT + override})
    problems = load(directory, "prod").errors
    assert [(p.code, p.line) for p in problems] == [("MPL005", 7)]


def test_template_loop_makes_many_clients(make_project: ProjectFactory) -> None:
    template = (
        "{% for t in teams %}\n---\nkind: Client\nname: {{ t }}-{{ env }}\n"
        "description: team {{ t }}\nscopes: [acme:invoices.read]\n{% endfor %}\n"
    )
    directory = make_project({"s.yaml": SCOPE, "teams.yaml.j2": template})
    desired = load(directory, "prod").desired
    assert desired is not None
    assert sorted(desired.clients) == ["a-prod", "b-prod"]


def test_every_problem_is_reported_in_one_run(make_project: ProjectFactory) -> None:
    directory = make_project(
        {
            "a.yaml": CLIENT.replace("description: Billing", "descriptoin: Billing"),
            "b.yaml": "kind: Scope\nname: acme:x\ndescription: d\nvisibility: SECRET\n",
            "c.yaml": "kind: Client\nname: x\nname: y\n",
            "d.yaml": "kind: Client\nname: !!python/object/apply:os.system [ls]\n",
        }
    )
    codes = sorted((Path(p.file).name, p.code) for p in load(directory, "test").errors)
    assert ("a.yaml", "MPL005") in codes
    assert ("b.yaml", "MPL005") in codes
    assert ("c.yaml", "MPL002") in codes
    assert ("d.yaml", "MPL003") in codes


def test_unknown_field_suggests_the_right_one(make_project: ProjectFactory) -> None:
    directory = make_project({"s.yaml": SCOPE + "visibilty: PUBLIC\n"})
    (problem,) = load(directory, "test").errors
    assert problem.line == 4
    assert "visibility" in problem.hint


def test_missing_project_file_is_a_located_problem(tmp_path: Path) -> None:
    (problem,) = load(tmp_path, None).errors
    assert problem.code == "MPL007"


def test_fingerprint_changes_with_any_manifest_byte(make_project: ProjectFactory) -> None:
    directory = make_project({"s.yaml": SCOPE, "c.yaml": CLIENT})
    before = load(directory, "test").fingerprint
    (directory / "resources" / "c.yaml").write_text(CLIENT + "# comment\n", encoding="utf-8")
    assert load(directory, "test").fingerprint != before
