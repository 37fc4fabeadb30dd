"""The ownership marker and the split of remote objects into managed / unmanaged."""

from __future__ import annotations

import pytest

from mpctl.model import ObservedClient, ObservedScope, ObservedState
from mpctl.plan.ownership import (
    CLIENT_SEPARATOR,
    SCOPE_SEPARATOR,
    Marker,
    Owner,
    add_marker,
    classify_clients,
    classify_scopes,
    parse_marker,
    strip_marker,
)

from .builders import desired, scope


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Fetches invoices [mpctl:billing]", Marker("billing")),
        ("Fetches invoices [mpctl:web/billing]", Marker("billing", "web")),
        ("[mpctl:acme:invoices.read]", Marker("acme:invoices.read")),
        ("[mpctl:web/acme:invoices.read]", Marker("acme:invoices.read", "web")),
        ("Long text\n\n[mpctl:acme:a/b]\n", Marker("acme:a/b")),
        ("Long text\n\n[mpctl:web/acme:a/b]\n", Marker("acme:a/b", "web")),
        ("two markers [mpctl:a] [mpctl:b]", Marker("b")),
        ("[mpctl:Web/x] not a project name", None),
        ("[mpctl:Web/x]", Marker("Web/x")),
        ("[mpctl:web/]", Marker("web/")),
        ("marker not at the end [mpctl:billing] more", None),
        ("no marker", None),
        ("[mpctl:] empty name", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_marker(text: str | None, found: Marker | None) -> None:
    assert parse_marker(text) == found


@pytest.mark.parametrize("project", [None, "web", "a", "team-42"])
@pytest.mark.parametrize("name", ["billing", "acme:invoices.read", "brreg:reelle/x"])
def test_markers_round_trip(project: str | None, name: str) -> None:
    marker = Owner(project).marker(name)
    assert parse_marker(add_marker("text", marker, separator=CLIENT_SEPARATOR)) == marker


def test_a_project_claims_its_own_and_legacy_markers_only() -> None:
    web = Owner("web")
    assert web.claims(Marker("x", "web"))
    assert web.claims(Marker("x"))
    assert not web.claims(Marker("x", "billing"))
    assert not Owner().claims(Marker("x", "web"))


@pytest.mark.parametrize(
    ("text", "separator", "marked"),
    [
        ("Fetches invoices", CLIENT_SEPARATOR, "Fetches invoices [mpctl:x]"),
        ("Fetches invoices [mpctl:old]", CLIENT_SEPARATOR, "Fetches invoices [mpctl:x]"),
        ("Markdown text", SCOPE_SEPARATOR, "Markdown text\n\n[mpctl:x]"),
        ("", SCOPE_SEPARATOR, "[mpctl:x]"),
        (None, CLIENT_SEPARATOR, "[mpctl:x]"),
    ],
)
def test_add_marker_replaces_any_old_marker(text: str | None, separator: str, marked: str) -> None:
    assert add_marker(text, Marker("x"), separator=separator) == marked
    assert parse_marker(marked) == Marker("x")
    assert strip_marker(marked) == strip_marker(text)


def _client(client_id: str, description: str | None, *, active: bool = True) -> ObservedClient:
    return ObservedClient(client_id=client_id, description=description, active=active)


def test_clients_are_managed_only_with_a_unique_marker_and_when_active() -> None:
    observed = ObservedState(
        clients={
            "1": _client("1", "a [mpctl:billing]"),
            "2": _client("2", "made by hand"),
            "3": _client("3", "x [mpctl:twice]"),
            "4": _client("4", "y [mpctl:twice]"),
            "5": _client("5", "z [mpctl:gone]", active=False),
        }
    )
    found = classify_clients(observed)
    assert {name: c.client_id for name, c in found.managed.items()} == {"billing": "1"}
    assert found.ambiguous == {"twice": ("3", "4")}
    assert [u.remote_id for u in found.unmanaged] == ["2"]


def test_scopes_are_managed_by_declaration_and_deletable_only_with_the_marker() -> None:
    state = desired(scopes=[scope("acme:declared"), scope("acme:sleeping")])
    observed = ObservedState(
        scopes={
            "acme:declared": ObservedScope(name="acme:declared"),
            "acme:sleeping": ObservedScope(name="acme:sleeping", active=False),
            "acme:marked": ObservedScope(
                name="acme:marked", long_description="[mpctl:acme:marked]"
            ),
            "acme:other-marker": ObservedScope(
                name="acme:other-marker", long_description="[mpctl:acme:marked]"
            ),
            "acme:hand": ObservedScope(name="acme:hand"),
            "acme:deleted": ObservedScope(
                name="acme:deleted", long_description="[mpctl:acme:deleted]", active=False
            ),
        }
    )
    found = classify_scopes(state, observed)
    assert sorted(found.managed) == ["acme:declared", "acme:sleeping"]
    assert sorted(found.orphaned) == ["acme:marked"]
    assert [u.remote_id for u in found.unmanaged] == ["acme:hand", "acme:other-marker"]


def test_another_projects_clients_are_never_managed_here() -> None:
    observed = ObservedState(
        clients={
            "1": _client("1", "a [mpctl:web/billing]"),
            "2": _client("2", "b [mpctl:payroll/billing]"),
            "3": _client("3", "c [mpctl:legacy]"),
        }
    )
    found = classify_clients(observed, Owner("web"))
    assert {name: c.client_id for name, c in found.managed.items()} == {
        "billing": "1",
        "legacy": "3",
    }
    assert [(u.remote_id, u.reason) for u in found.unmanaged] == [
        ("2", "managed by mpctl project 'payroll', not this one")
    ]
    assert classify_clients(observed, Owner("payroll")).managed["billing"].client_id == "2"


def test_scopes_of_another_project_are_refused_and_legacy_orphans_kept() -> None:
    state = desired(scopes=[scope("acme:theirs")])
    observed = ObservedState(
        scopes={
            "acme:theirs": ObservedScope(
                name="acme:theirs", long_description="[mpctl:payroll/acme:theirs]"
            ),
            "acme:legacy": ObservedScope(
                name="acme:legacy", long_description="[mpctl:acme:legacy]"
            ),
            "acme:mine": ObservedScope(name="acme:mine", long_description="[mpctl:web/acme:mine]"),
        }
    )
    found = classify_scopes(state, observed, Owner("web"))
    assert found.foreign == {"acme:theirs": "payroll"}
    assert found.managed == {}
    assert sorted(found.orphaned) == ["acme:mine"]
    assert [u.remote_id for u in found.unmanaged] == ["acme:legacy"]
