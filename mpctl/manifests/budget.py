"""The work and memory one template render may spend, checked before each costly operation.

Owns `RenderBudget` (steps, wall-clock, characters emitted, call depth) and the size rules for
values a template makes: no string or list longer than `MAX_VALUE`, no integer wider than
`MAX_INT_BITS`, no formatting width above `MAX_WIDTH`. Checks run *before* an operation whose
result can outgrow its inputs (repetition, powers, padding, joins, stringifying nested values),
so a hostile template is refused in milliseconds instead of allocating gigabytes. Must not know
about Jinja's environment or about manifests; `sandbox` wires these checks into Jinja.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace

MAX_STEPS = 50_000
"""Calls, lookups, operators, loop iterations and output pieces in one render."""
MAX_SECONDS = 2.0
"""Wall-clock backstop for one render; the step budget normally ends a runaway first."""
MAX_OUTPUT = 512 * 1024
"""Characters one render may emit, `{% set %}` captures included."""
MAX_VALUE = 256 * 1024
"""Longest string, list or mapping (counted through nesting) a template may make."""
MAX_INT_BITS = 4096
MAX_WIDTH = 10_000
"""Largest padding width, tab size or format width."""
MAX_CALL_DEPTH = 48
"""Nested calls (macros calling macros, recursive loops)."""
MAX_NESTING = 64
_NODES_PER_STEP = 8

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


class BudgetExceededError(SecurityError):
    """A template asked for more work or memory than a manifest may use."""


class RenderBudget:
    """What is left for one render. Not thread-safe: one budget per render."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline = clock() + MAX_SECONDS
        self.steps = 0
        self.emitted = 0
        self.depth = 0

    def step(self, count: int = 1) -> None:
        """Spend `count` steps; refuse when the step or time budget is gone."""
        self.steps += count
        if self.steps > MAX_STEPS:
            raise BudgetExceededError(
                f"more than {MAX_STEPS} operations (an endless or huge loop?)"
            )
        if self._clock() > self._deadline:
            raise BudgetExceededError(f"takes longer than {MAX_SECONDS:g} s to render")

    def emit(self, value: Any) -> str:
        """`value` as output text, counted against the output budget."""
        self.step()
        self.check_stringify(value)
        text = str(value)
        self.emitted += len(text)
        if self.emitted > MAX_OUTPUT:
            raise BudgetExceededError(f"output is larger than {MAX_OUTPUT // 1024} KiB")
        return text

    def enter_call(self) -> None:
        self.step()
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            raise BudgetExceededError(
                f"calls nested deeper than {MAX_CALL_DEPTH} levels (a macro calling itself?)"
            )

    def leave_call(self) -> None:
        self.depth -= 1

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """`iterable`, spending one step per item; refuses once its items add up too large.

        A loop may hold on to what it iterates (`loop.length`, `loop.revindex`), so the items
        of one loop together stay within the output budget.
        """
        size = 0
        for item in iterable:
            self.step()
            size += self.size_of(item)
            if size > MAX_OUTPUT:
                raise BudgetExceededError(
                    f"a loop's items add up to more than {MAX_OUTPUT // 1024} Ki characters"
                )
            yield item

    def collect(self, iterable: Iterable[Any]) -> list[Any]:
        """`iterable` as a list, spending one step per item, refused once it grows too large."""
        items, size = [], 0
        for item in iterable:
            self.step()
            size += self.size_of(item)
            require_size(size)
            items.append(item)
        return items

    def size_of(self, value: Any, limit: int = MAX_VALUE) -> int:
        """Characters/items `value` has through its nesting, counting at least 1 per value.

        Roughly the length of `str(value)`, which is what output, `~` and most filters make of
        a value. Stops once above `limit`, and spends one step per `_NODES_PER_STEP` values
        walked, so even measuring is budgeted.
        """
        total, walked, stack = 0, 0, [(value, 0)]
        while stack and total <= limit:
            current, depth = stack.pop()
            if depth > MAX_NESTING:
                raise BudgetExceededError(f"value nested deeper than {MAX_NESTING} levels")
            walked += 1
            if walked % _NODES_PER_STEP == 0:
                self.step()
            total += max(1, len(current)) if isinstance(current, str | bytes) else 1
            stack.extend((child, depth + 1) for child in _children(current))
        return total

    def check_stringify(self, *values: Any) -> None:
        """Refuse turning `values` into text when that text would be too long."""
        require_size(sum(self.size_of(v) for v in values))

    def check_binop(self, operator: str, left: Any, right: Any) -> None:
        """Refuse `left <operator> right` when its result would be too large."""
        if operator == "*":
            self._check_repeat(left, right)
            self._check_repeat(right, left)
            if _is_int(left) and _is_int(right):
                require_bits(left.bit_length() + right.bit_length())
        elif operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            require_bits(left.bit_length() * min(right, MAX_INT_BITS + 1))
        elif operator == "%" and isinstance(left, str):
            self.check_printf(left, right)
        elif operator == "+" and _is_sized(left) and _is_sized(right):
            require_size(len(left) + len(right))

    def _check_repeat(self, sequence: Any, times: Any) -> None:
        if _is_sized(sequence) and _is_int(times) and times > 0:
            require_size(self.size_of(sequence) * min(times, MAX_VALUE + 1))

    def check_printf(self, template: str, arguments: Any) -> None:
        """Refuse `template % arguments` when a width is too large or the result too long."""
        specs = 0
        for match in _PRINTF_SPEC.finditer(template):
            specs += 1
            for width in match.groups():
                if width == "*":
                    raise BudgetExceededError("'*' widths in % formatting are not supported")
                if width is not None:
                    check_format_spec(width)
        require_size(len(template) + specs * self.size_of(arguments))


def _children(value: Any) -> Iterable[Any]:
    if isinstance(value, Namespace):
        value = object.__getattribute__(value, "_Namespace__attrs")
    if isinstance(value, dict):
        return (item for pair in value.items() for item in pair)
    if isinstance(value, list | tuple | set | frozenset):
        return value
    return ()


def check_value(value: Any) -> Any:
    """Refuse a value a template made that is already too large; return it otherwise."""
    if _is_int(value):
        require_bits(value.bit_length())
    elif isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        require_size(len(value))
    return value


def require_size(size: int, what: str = "value") -> None:
    if size > MAX_VALUE:
        raise BudgetExceededError(
            f"makes a {what} of more than {MAX_VALUE // 1024} Ki characters or items"
        )


def require_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise BudgetExceededError(f"makes an integer wider than {MAX_INT_BITS} bits")


def require_width(width: Any, what: str = "width") -> None:
    if _is_int(width) and abs(width) > MAX_WIDTH:
        raise BudgetExceededError(f"{what} {width} is above the limit of {MAX_WIDTH}")


def check_format_spec(spec: str) -> None:
    """Refuse a `format()` spec whose width or precision is above `MAX_WIDTH`."""
    for digits in _DIGITS.findall(spec):
        require_width(int(digits) if len(digits) <= 8 else MAX_WIDTH + 1, "format width")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_sized(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)
