"""Each semantic lint rule: one manifest that trips it, and the Maskinporten error it prevents."""

from __future__ import annotations

import pytest

from mpctl.manifests import CODES, load
from mpctl.manifests.findings import FindingSeverity
from tests.conftest import BASE_PROJECT, ProjectFactory

SCOPE = "kind: Scope\nname: acme:invoices.read\ndescription: Read invoices\n"
DELEGABLE = "kind: Scope\nname: acme:reports\ndescription: r\ndelegation_source: altinn\n"


def client(body: str) -> str:
    return f"kind: Client\nname: c\ndescription: d\n{body}"


CASES = {
    "MPL101 orgno checksum": (
        {"s.yaml": SCOPE + 'consumers: ["123456789"]\n'},
        "MPL101",
    ),
    "MPL102 consumer_org is own org": (
        {
            "s.yaml": DELEGABLE,
            "c.yaml": client(
                "scopes: [acme:reports]\ndelegations:\n"
                '  - {consumer_org: "313367002", scopes: [acme:reports]}\n'
            ),
        },
        "MPL102",
    ),
    "MPL103 delegation without delegation source": (
        {
            "s.yaml": SCOPE,
            "c.yaml": client(
                "scopes: [acme:invoices.read]\ndelegations:\n"
                '  - {consumer_org: "910753614", scopes: [acme:invoices.read]}\n'
            ),
        },
        "MPL103",
    ),
    "MPL104 prefix not owned": (
        {"s.yaml": "kind: Scope\nname: other:thing\ndescription: d\n"},
        "MPL104",
    ),
    "MPL105 integration type excluded": (
        {
            "s.yaml": SCOPE + "allowed_integration_types: [idporten]\n",
            "c.yaml": client("scopes: [acme:invoices.read]\n"),
        },
        "MPL105",
    ),
    "MPL106 client without scopes": ({"c.yaml": client("scopes: []\n")}, "MPL106"),
    "MPL107 too many keys": (
        {"c.yaml": client("scopes: [x:y]\nkeys: {preserve: [a, b, c]}\n")},
        "MPL107",
    ),
    "MPL109 grant lifetime": ({"c.yaml": client("scopes: [x:y]\ngrant_lifetime: 300\n")}, "MPL109"),
    "MPL110 duplicate name": (
        {"a.yaml": client("scopes: [x:y]\n"), "b.yaml": client("scopes: [x:z]\n")},
        "MPL110",
    ),
    "MPL111 own scope not declared": ({"c.yaml": client("scopes: [acme:nothere]\n")}, "MPL111"),
    "MPL112 delegated scope not on client": (
        {
            "s.yaml": DELEGABLE,
            "c.yaml": client(
                "scopes: [x:y]\ndelegations:\n"
                '  - {consumer_org: "910753614", scopes: [acme:reports]}\n'
            ),
        },
        "MPL112",
    ),
    "MPL113 unknown delegation source": (
        {"s.yaml": SCOPE + "delegation_source: brreg\n"},
        "MPL113",
    ),
    "MPL008 unknown environment": (
        {"c.yaml": client("scopes: [x:y]\nenvironments: [test, staging]\n")},
        "MPL008",
    ),
}


@pytest.mark.parametrize(("files", "code"), CASES.values(), ids=CASES.keys())
def test_rule_trips(make_project: ProjectFactory, files: dict[str, str], code: str) -> None:
    codes = {d.code for d in load(make_project(files), "test").errors}
    assert code in codes


def test_every_code_is_catalogued_with_what_it_prevents() -> None:
    tripped = {code for _, code in CASES.values()}
    assert tripped <= set(CODES)
    assert all(prevents for _, prevents in CODES.values())


ISSUERS = {
    "no trailing slash": (
        "issuer: https://test.maskinporten.no/",
        "issuer: https://test.maskinporten.no",
    ),
    "retired ver2 host": (
        "issuer: https://test.maskinporten.no/",
        "issuer: https://ver2.maskinporten.no/",
    ),
    "issuer is the token endpoint": (
        "issuer: https://test.maskinporten.no/",
        "issuer: https://test.maskinporten.no/token/",
    ),
    "prod issuer with test api": (
        "issuer: https://test.maskinporten.no/\n    token_endpoint: https://test.maskinporten.no/token",
        "issuer: https://maskinporten.no/\n    token_endpoint: https://maskinporten.no/token",
    ),
    "plain http": (
        "token_endpoint: https://test.maskinporten.no/token",
        "token_endpoint: http://test.maskinporten.no/token",
    ),
}


@pytest.mark.parametrize(("old", "new"), ISSUERS.values(), ids=ISSUERS.keys())
def test_issuer_mistakes_trip_mpl108(make_project: ProjectFactory, old: str, new: str) -> None:
    assert old in BASE_PROJECT
    directory = make_project({}, BASE_PROJECT.replace(old, new, 1))
    problems = [d for d in load(directory, "test").errors if d.code == "MPL108"]
    assert problems
    assert all(p.file.endswith("mpctl.yaml") and p.line > 1 for p in problems)


def test_delegation_source_of_other_environment_is_a_warning(make_project: ProjectFactory) -> None:
    files = {"s.yaml": SCOPE + "delegation_source: https://www.altinn.no/\n"}
    result = load(make_project(files), "test")
    assert result.errors == []
    assert [(d.code, d.severity) for d in result.diagnostics] == [
        ("MPL113", FindingSeverity.WARNING)
    ]


def test_clean_project_has_no_diagnostics(make_project: ProjectFactory) -> None:
    files = {"s.yaml": SCOPE, "c.yaml": client("scopes: [acme:invoices.read]\n")}
    assert load(make_project(files), "test").diagnostics == []
