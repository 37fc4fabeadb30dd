"""What reaches stderr as log lines: mpctl's own notices (retries) with -v, never stamina's.

Owns the logging set-up of one CLI run. stamina's retry instrumentation is switched off (it
printed a bare `stamina.retry_scheduled` line per retry); `mpctl.remote.retry` reports each
retry once, in mpctl's words, on the `mpctl` logger, which reaches stderr only with
`-v/--verbose`. Must not log anything itself, and must not decide exit codes.
"""

from __future__ import annotations

import logging

import stamina.instrumentation

from mpctl.cli import console

_LOGGER = logging.getLogger("mpctl")


class _ConsoleHandler(logging.Handler):
    """Log records as plain lines on mpctl's stderr console (markup off)."""

    def emit(self, record: logging.LogRecord) -> None:
        console.stderr().print(self.format(record), style="dim")


def configure(*, verbose: bool) -> None:
    """Silence stamina's own logging; show mpctl's INFO lines on stderr only when verbose."""
    stamina.instrumentation.set_on_retry_hooks(())
    for handler in [h for h in _LOGGER.handlers if isinstance(h, _ConsoleHandler)]:
        _LOGGER.removeHandler(handler)
    if verbose:
        _LOGGER.addHandler(_ConsoleHandler())
        _LOGGER.setLevel(logging.INFO)
        _LOGGER.propagate = False
    else:
        _LOGGER.setLevel(logging.WARNING)
        _LOGGER.propagate = True
