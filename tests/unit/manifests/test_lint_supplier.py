"""Supplier mode in the manifests: `client_orgno` per client or from defaults, MPL114 (own
organisation) and MPL115 (another organisation without an admin holding idporten:dcr.supplier)."""

from __future__ import annotations

from mpctl.manifests import load
from mpctl.manifests.findings import FindingSeverity
from tests.conftest import BASE_PROJECT, ProjectFactory

CUSTOMER = "910753614"
ADMIN = """\
    admin:
      client_id: acme-admin
      certificate: {env: CERT}
      private_key: {env: KEY}
"""
WITH_ADMIN = BASE_PROJECT.replace(
    "    delegation_sources: {altinn: https://tt02.altinn.no/}\n",
    "    delegation_sources: {altinn: https://tt02.altinn.no/}\n" + ADMIN,
    1,
)
SUPPLIER = WITH_ADMIN.replace(
    "      private_key: {env: KEY}\n", "      private_key: {env: KEY}\n      supplier: true\n"
)


def _client(orgno: str | None) -> dict[str, str]:
    line = f'client_orgno: "{orgno}"\n' if orgno else ""
    return {"c.yaml": f"kind: Client\nname: c\ndescription: d\nscopes: [x:y]\n{line}"}


def test_another_organisation_needs_the_supplier_admin(make_project: ProjectFactory) -> None:
    errors = load(make_project(_client(CUSTOMER), WITH_ADMIN), "test").errors
    assert [e.code for e in errors] == ["MPL115"]
    assert errors[0].file.endswith("c.yaml")
    assert errors[0].line == 5
    assert "supplier: true" in errors[0].hint
    assert "environments.test.admin" in errors[0].hint


def test_a_supplier_admin_may_register_for_customers(make_project: ProjectFactory) -> None:
    result = load(make_project(_client(CUSTOMER), SUPPLIER), "test")
    assert result.diagnostics == []
    assert result.desired is not None
    client = result.desired.clients["c"]
    assert result.desired.client_orgno(client) == CUSTOMER
    assert result.desired.is_supplied(client)


def test_the_read_only_admin_needs_it_too(make_project: ProjectFactory) -> None:
    readonly = SUPPLIER.replace(
        "      supplier: true\n",
        "      supplier: true\n    admin_readonly:\n      client_id: r\n      kid: r1\n"
        "      private_key: {env: RKEY}\n",
    )
    errors = load(make_project(_client(CUSTOMER), readonly), "test").errors
    assert [(e.code, "admin_readonly" in e.message) for e in errors] == [("MPL115", True)]


def test_own_organisation_as_client_orgno_is_a_warning(make_project: ProjectFactory) -> None:
    result = load(make_project(_client("313367002"), WITH_ADMIN), "test")
    assert result.errors == []
    assert [(d.code, d.severity) for d in result.diagnostics] == [
        ("MPL114", FindingSeverity.WARNING)
    ]
    assert result.desired is not None
    assert not result.desired.is_supplied(result.desired.clients["c"])


def test_defaults_give_every_client_a_customer(make_project: ProjectFactory) -> None:
    project = SUPPLIER + f'defaults:\n  client:\n    client_orgno: "{CUSTOMER}"\n'
    result = load(make_project(_client(None), project), "test")
    assert result.errors == []
    assert result.desired is not None
    assert result.desired.client_orgnos() == {CUSTOMER: 1}


def test_a_customer_orgno_must_pass_mod_11(make_project: ProjectFactory) -> None:
    errors = load(make_project(_client("123456789"), SUPPLIER), "test").errors
    assert errors
    assert all("123456789" in e.message for e in errors)
