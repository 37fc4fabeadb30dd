"""Organisation numbers, scope names, kids, resource names and durations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from mpctl.model.identifiers import (
    Duration,
    OrgNo,
    ResourceName,
    ScopeName,
    format_duration,
    orgno_check_digit,
    orgno_problem,
)


@pytest.mark.parametrize("orgno", ["313367002", "910753614", "991825827", "974760673", "960885406"])
def test_real_organisation_numbers_pass(orgno: str) -> None:
    assert orgno_problem(orgno) is None
    assert TypeAdapter(OrgNo).validate_python(orgno) == orgno


@pytest.mark.parametrize(
    ("orgno", "reason"),
    [
        ("123456789", "mod-11"),
        ("31336700", "9 digits"),
        ("3133670021", "9 digits"),
        ("31336700a", "9 digits"),
        ("../scopes", "9 digits"),
    ],
)
def test_bad_organisation_numbers_say_why(orgno: str, reason: str) -> None:
    problem = orgno_problem(orgno)
    assert problem is not None
    assert reason in problem


def test_check_digit_ten_means_no_valid_number() -> None:
    # 10000002x: 3*1 + 2*0 ... + 2*2 = 7 → 11 - 7 = 4; find a prefix whose remainder is 1.
    prefixes = [f"{n:08d}" for n in range(10_000_000, 10_000_200)]
    assert any(orgno_check_digit(p) is None for p in prefixes)


def test_unquoted_orgno_is_accepted_as_text() -> None:
    assert TypeAdapter(OrgNo).validate_python(313367002) == "313367002"


@pytest.mark.parametrize(
    "name",
    ["acme:invoices.read", "altinn:authorization/authorize", "lanekassen:lan/v1/saldoopplysninger"],
)
def test_scope_names(name: str) -> None:
    assert TypeAdapter(ScopeName).validate_python(name) == name


@pytest.mark.parametrize("name", ["noprefix", "Acme:x", "acme:", "acme:a b", ":x"])
def test_bad_scope_names(name: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(ScopeName).validate_python(name)


@pytest.mark.parametrize("name", ["Bad_Name", "-x", "x-", "", "a" * 64])
def test_bad_resource_names(name: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(ResourceName).validate_python(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        (45, timedelta(seconds=45)),
    ],
)
def test_durations_round_trip(text: object, expected: timedelta) -> None:
    parsed = TypeAdapter(Duration).validate_python(text)
    assert parsed == expected
    assert TypeAdapter(Duration).validate_python(format_duration(parsed)) == expected


@pytest.mark.parametrize("text", ["90", "1y", "soon", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Duration).validate_python(text)
