"""Norwegian organisation numbers: nine digits with a modulus-11 check digit.

Owns the syntax check only. It must not decide whether an organisation is known to the
emulator's world; that is the caller's business.
"""

from __future__ import annotations

import re
from typing import Final

_ORGNO: Final = re.compile(r"^\d{9}\Z")
_WEIGHTS: Final = (3, 2, 7, 6, 5, 4, 3, 2)


def check_digit(first_eight: str) -> int | None:
    """Return the mod-11 check digit for eight digits, or None when none exists (remainder 1)."""
    total = sum(int(digit) * weight for digit, weight in zip(first_eight, _WEIGHTS, strict=True))
    digit = 11 - total % 11
    if digit == 11:
        return 0
    if digit == 10:
        return None
    return digit


def is_valid_orgno(value: object) -> bool:
    """True when `value` is a string of exactly nine digits with a correct check digit."""
    if not isinstance(value, str) or not _ORGNO.match(value):
        return False
    return check_digit(value[:8]) == int(value[8])
