"""Identifier types shared by manifests, plans and remote representations.

Owns the syntax of Norwegian organisation numbers (9 digits, mod-11 check digit), scope names,
key ids, resource names and durations. Pure: no I/O. Each validator says how to fix a bad value.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_ORGNO_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_ORGNO_SHAPE = re.compile(r"^\d{9}$")
SCOPE_NAME_PATTERN = re.compile(r"^[a-z0-9]+:([a-z0-9æøå]+[./:_-]?)*[a-z0-9æøå]+$")
KID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
RESOURCE_NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DURATION = re.compile(r"^(?P<n>\d+)(?P<unit>[smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def orgno_check_digit(first_eight: str) -> int | None:
    """The mod-11 check digit for the first eight digits, or None when no valid digit exists."""
    remainder = sum(int(d) * w for d, w in zip(first_eight, _ORGNO_WEIGHTS, strict=True)) % 11
    digit = 0 if remainder == 0 else 11 - remainder
    return None if digit == 10 else digit


def orgno_problem(value: str) -> str | None:
    """Why `value` is not a valid organisation number, or None when it is."""
    if not _ORGNO_SHAPE.match(value):
        return f"organisation number {value!r} must be exactly 9 digits"
    expected = orgno_check_digit(value[:8])
    if expected is None or expected != int(value[8]):
        return f"organisation number {value} fails the mod-11 check digit"
    return None


def _coerce_orgno(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:09d}" if value >= 0 else str(value)
    return value


def _check_orgno(value: str) -> str:
    problem = orgno_problem(value)
    if problem:
        raise ValueError(f"{problem} (check it in Enhetsregisteret; write it quoted)")
    return value


OrgNo = Annotated[str, BeforeValidator(_coerce_orgno), AfterValidator(_check_orgno)]


def _check_scope_name(value: str) -> str:
    if not SCOPE_NAME_PATTERN.match(value):
        raise ValueError(
            f"scope {value!r} must look like 'prefix:subscope' (lower-case letters and digits, "
            "with '/', '.', ':' or '_' between parts)"
        )
    return value


ScopeName = Annotated[str, AfterValidator(_check_scope_name)]


def _check_kid(value: str) -> str:
    if not KID_PATTERN.match(value):
        raise ValueError(f"kid {value!r} may only use A-Z a-z 0-9 . _ - (at most 128)")
    return value


Kid = Annotated[str, AfterValidator(_check_kid)]

CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


def _check_client_id(value: str) -> str:
    if not CLIENT_ID_PATTERN.match(value):
        raise ValueError(
            f"client_id {value!r} may only use A-Z a-z 0-9 . _ : - (at most 128), as Digdir "
            "shows it in `mpctl plan` under 'not managed'"
        )
    return value


ClientId = Annotated[str, AfterValidator(_check_client_id)]


def _check_resource_name(value: str) -> str:
    if not RESOURCE_NAME_PATTERN.match(value):
        raise ValueError(
            f"name {value!r} must be 1-63 lower-case letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return value


ResourceName = Annotated[str, AfterValidator(_check_resource_name)]


def parse_duration(value: object) -> timedelta:
    """Parse '90d', '12h', '30m', '45s', '2w', a number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and (match := _DURATION.match(value.strip())):
        return timedelta(seconds=int(match["n"]) * _UNIT_SECONDS[match["unit"]])
    raise ValueError(f"duration {value!r} must look like 90d, 12h, 30m, 45s or 2w")


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of `value` in the units `parse_duration` reads."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": "^[0-9]+[smhdw]$"},
                {"type": "integer", "minimum": 0},
            ],
            "description": "A duration such as 90d, 12h, 30m, 45s, 2w, or seconds",
        }
    ),
]
