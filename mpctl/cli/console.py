"""The only owner of terminal output: two rich consoles and small semantic display helpers.

Colour follows rich's rules (NO_COLOR, non-TTY and TERM=dumb turn it off); markup and highlighting
are off so remote or user text is never interpreted; error lines pass through `mpctl.redaction`
(the error boundary also prints unexpected exceptions). Must not decide exit codes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cache

from rich.console import Console

from mpctl.redaction import redact_text


@cache
def stdout() -> Console:
    return Console(markup=False, highlight=False, soft_wrap=True)


@cache
def stderr() -> Console:
    return Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


def error(message: str, hint: str | None = None) -> None:
    """An error line on stderr, with its hint below it (both through `mpctl.redaction`)."""
    stderr().print(f"Error: {redact_text(message)}", style="bold red")
    if hint:
        stderr().print(f"  hint: {redact_text(hint)}")


def success(message: str) -> None:
    stdout().print(message, style="green")


def warning(message: str) -> None:
    stderr().print(message, style="yellow")


def color() -> bool:
    """Colour on unless NO_COLOR is set (rich also turns it off for non-TTY output)."""
    return "NO_COLOR" not in os.environ


@contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr while work runs, only on a terminal; quiet otherwise."""
    status = stderr().status(message) if stderr().is_terminal else nullcontext()
    with status:
        yield
