"""What reaches stderr as log lines: mpctl's own notices (requests, retries) with -v only.

Owns the logging set-up of one CLI run and the request log. stamina's retry instrumentation is
switched off (it printed a bare `stamina.retry_scheduled` line per retry); `mpctl.remote.retry`
reports each retry once, in mpctl's words, on the `mpctl` logger, and `log_call` reports each
answered request (method, path without secret query values, status, duration, correlation
id: never a header or a body). Both reach stderr only with `-v/--verbose`, and so do other
libraries' warnings (urllib3's retries): without it no raw log line reaches stderr. Must not
log anything but requests itself, and must not decide exit codes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import stamina.instrumentation

from mpctl.cli import console

if TYPE_CHECKING:
    from mpctl.remote import CallEvent

_LOGGER = logging.getLogger("mpctl")
_REQUESTS = logging.getLogger("mpctl.requests")


class _ConsoleHandler(logging.Handler):
    """Log records as plain lines on mpctl's stderr console (markup off)."""

    def emit(self, record: logging.LogRecord) -> None:
        console.stderr().print(self.format(record), style="dim")


class _Quiet(logging.NullHandler):
    """Stands on the root logger without -v, so Python's last-resort handler never prints a
    library's warning (urllib3's "Retrying (Retry(total=…))") as a raw line."""


def configure(*, verbose: bool) -> None:
    """Silence stamina's own logging; show mpctl's INFO lines (and other libraries' warnings)
    on stderr only when verbose."""
    stamina.instrumentation.set_on_retry_hooks(())
    root = logging.getLogger()
    for logger in (_LOGGER, root):
        for handler in [h for h in logger.handlers if isinstance(h, _ConsoleHandler | _Quiet)]:
            logger.removeHandler(handler)
    if verbose:
        _LOGGER.addHandler(_ConsoleHandler())
        _LOGGER.setLevel(logging.INFO)
        _LOGGER.propagate = False
        root.addHandler(_ConsoleHandler(logging.WARNING))
    else:
        _LOGGER.setLevel(logging.WARNING)
        _LOGGER.propagate = True
        root.addHandler(_Quiet())


def requests_logged() -> bool:
    """Whether `log_call` lines would be shown (the run has -v)."""
    return _REQUESTS.isEnabledFor(logging.INFO)


def log_call(event: CallEvent) -> None:
    """One answered request as one line: `GET /api/v1/clients → 200 in 0.12 s (correlation
    id …)`. A `CallObserver`: never raises."""
    line = f"{event.method} {event.path} → {event.status}"
    if event.duration is not None:
        line += f" in {event.duration:.2f} s"
    if event.correlation_id:
        line += f" (correlation id {event.correlation_id})"
    _REQUESTS.info("%s", line)
