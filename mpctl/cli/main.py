"""The single error boundary: runs the typer app and turns outcomes into exit codes.

0 success / no changes, 1 error, 2 changes present (only with --detailed-exitcode), 130
interrupted. Only this module catches broad exceptions; tracebacks only with MPCTL_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click
import typer
from typer.exceptions import TyperException

from mpctl.cli import console
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
    except (click.exceptions.Exit, typer.Exit) as exc:
        return int(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort, typer.Abort):
        console.error("interrupted")
        return EXIT_INTERRUPTED
    except (click.ClickException, TyperException) as exc:
        _show_usage_error(exc)
        return EXIT_ERROR
    except MpctlError as exc:
        console.error(exc.message, exc.hint)
        return exc.exit_code
    except Exception as exc:
        if os.environ.get("MPCTL_DEBUG") == "1":
            raise
        console.error(f"unexpected {type(exc).__name__}: {exc}", "re-run with MPCTL_DEBUG=1")
        return EXIT_ERROR
    return result if isinstance(result, int) else EXIT_OK


def _show_usage_error(exc: Exception) -> None:
    """Usage errors (unknown option, bad value) as click words them, exit code 1 not 2."""
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:
        console.error(str(exc))


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
