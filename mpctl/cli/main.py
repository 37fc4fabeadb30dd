"""The single error boundary: runs the typer app and turns outcomes into exit codes.

0 success / no changes, 1 error, 2 changes present (only with --detailed-exitcode), 130
interrupted. Only this module catches broad exceptions; tracebacks only with MPCTL_DEBUG=1.
Imports stay light (the console and click load only when needed), so start-up is fast.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence

import typer
from typer.exceptions import TyperException

from mpctl.cli.app import app
from mpctl.cli.interrupts import EXIT_INTERRUPTED, terminate_as_interrupt
from mpctl.errors import MpctlError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run mpctl with `argv` and return the exit code."""
    command = typer.main.get_command(app)
    try:
        with terminate_as_interrupt():
            result = command.main(
                args=list(argv) if argv is not None else None, standalone_mode=False
            )
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        return _interrupted()
    except TyperException as exc:
        _show_usage_error(exc)
        return EXIT_ERROR
    except MpctlError as exc:
        _error(exc.message, exc.hint)
        return exc.exit_code
    except Exception as exc:
        code = _click_outcome(exc)
        if code is not None:
            return code
        if os.environ.get("MPCTL_DEBUG") == "1":
            raise
        _error(f"unexpected {type(exc).__name__}: {exc}", "re-run with MPCTL_DEBUG=1")
        return EXIT_ERROR
    return result if isinstance(result, int) else EXIT_OK


def _click_outcome(exc: Exception) -> int | None:
    """The exit code for one of click's own exceptions, None for any other exception.

    click is not imported here: only a command that imported it can raise its exceptions.
    """
    click = sys.modules.get("click")
    if click is None:
        return None
    if isinstance(exc, click.exceptions.Exit):
        return int(exc.exit_code)
    if isinstance(exc, click.exceptions.Abort):
        return _interrupted()
    if isinstance(exc, click.ClickException):
        _show_usage_error(exc)
        return EXIT_ERROR
    return None


def _interrupted() -> int:
    _error("interrupted")
    return EXIT_INTERRUPTED


def _error(message: str, hint: str | None = None) -> None:
    from mpctl.cli import console  # noqa: PLC0415 - rich loads only when there is an error

    console.error(message, hint)


def _show_usage_error(exc: Exception) -> None:
    """Usage errors (unknown option, bad value) as click words them, exit code 1 not 2."""
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:
        _error(str(exc))


GC_THRESHOLDS = (50_000, 50, 100)
"""The cyclic collector's thresholds for a CLI run. With Python's defaults (700, 10, 10) it
spent more than half of a 10,000-client plan traversing the plan's own objects, which live
until the process ends; collecting young objects 70 times less often keeps that to a few
percent (benchmarks/plan_size.py: 10,000 new clients 1.69 s CPU with the defaults, 0.79 s
so). Reference counting still frees everything else at once."""


def run() -> None:
    """Console-script entry point.

    When the command is done, everything it made is frozen out of the cyclic collector's reach
    (`gc.freeze`): the interpreter's shutdown runs full collections over every object still
    alive, about 0.1 s after a 1,000-client plan is printed (perf: `gc_collect_main` filled the
    process's last 0.1 s), and there is nothing for them to find. Objects are still freed by
    reference counting, files flushed and closed, atexit handlers run.
    """
    gc.set_threshold(*GC_THRESHOLDS)
    code = main()
    gc.freeze()
    sys.exit(code)
