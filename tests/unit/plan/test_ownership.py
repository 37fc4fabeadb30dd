"""The ownership marker and the split of remote objects into managed / unmanaged."""

from __future__ import annotations

import pytest

from mpctl.model import ObservedClient, ObservedScope, ObservedState
from mpctl.plan.ownership import (
    CLIENT_SEPARATOR,
    SCOPE_SEPARATOR,
    add_marker,
    classify_clients,
    classify_scopes,
    parse_marker,
    strip_marker,
)

from .builders import desired, scope


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Fetches invoices [mpctl:billing]", "billing"),
        ("[mpctl:acme:invoices.read]", "acme:invoices.read"),
        ("Long text\n\n[mpctl:acme:a/b]\n", "acme:a/b"),
        ("two markers [mpctl:a] [mpctl:b]", "b"),
        ("marker not at the end [mpctl:billing] more", None),
        ("no marker", None),
        ("[mpctl:] empty name", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_marker(text: str | None, name: str | None) -> None:
    assert parse_marker(text) == name


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
    assert add_marker(text, "x", separator=separator) == marked
    assert parse_marker(marked) == "x"
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
