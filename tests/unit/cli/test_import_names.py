"""`mpctl import` names clients readably: Digdir's client names folded to resource names."""

from __future__ import annotations

import pytest

from mpctl.cli.commands.import_ import readable_name, unique_name
from mpctl.model.identifiers import RESOURCE_NAME_PATTERN


@pytest.mark.parametrize(
    ("client_name", "expected"),
    [
        ("Håndlaget", "handlaget"),
        ("Kjøretøy Ærlig", "kjoretoy-aerlig"),
        ("ÆØÅ æøå", "aeoa-aeoa"),
        ("ACME - manuell testklient", "acme-manuell-testklient"),
        ("  --Skatteetaten: MVA (prod)--  ", "skatteetaten-mva-prod"),
        ("Café Zürich", "cafe-zurich"),
        ("Straße", "strasse"),
        ("数据", "client"),
        ("", "client"),
    ],
)
def test_client_names_fold_to_readable_resource_names(client_name: str, expected: str) -> None:
    assert readable_name(client_name) == expected


def test_a_long_name_is_trimmed_to_a_valid_resource_name() -> None:
    name = readable_name("Ø" * 40 + " " + "å" * 40)
    assert len(name) <= 63
    assert RESOURCE_NAME_PATTERN.match(name)
    assert not name.endswith("-")


def test_clashes_get_numbers_in_order() -> None:
    taken = {"handlaget"}
    first = unique_name(readable_name("Håndlaget"), taken)
    taken.add(first)
    second = unique_name(readable_name("HÅNDLAGET!"), taken)
    assert (first, second) == ("handlaget-2", "handlaget-3")


def test_a_clash_of_a_63_character_name_stays_within_63() -> None:
    long = "a" * 62 + "b"
    numbered = unique_name(long, {long})
    assert numbered == "a" * 61 + "-2"
    assert RESOURCE_NAME_PATTERN.match(numbered)


def test_a_free_name_is_kept() -> None:
    assert unique_name("handlaget", {"other"}) == "handlaget"
