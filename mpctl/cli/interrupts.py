"""Ctrl-C and SIGTERM while a command runs, handled the way Terraform handles them.

Owns the signal handling of one command run. `Interrupts`, installed on the running event loop
for SIGINT and SIGTERM (a cancelled CI job), has two modes:

- before anything can be written: the first signal cancels the work at once (nothing is lost);
- once writing may start (`begin_writes`): the first signal asks the work to stop after the
  step in flight (`stop_requested`), the second abandons that step too (the task is cancelled;
  apply is built to survive a crash anywhere, so this is safe, only less tidy).

`paused` hands the signals back to Python's defaults for a blocking prompt, so the first Ctrl-C
at a prompt interrupts it. `terminate_as_interrupt` makes SIGTERM raise `KeyboardInterrupt`
like Ctrl-C outside the loop, so `finally` blocks (the lock's release) always run. Must not
print directly: messages go to the `notify` callback. Must not decide exit codes beyond
carrying 130 in `InterruptError`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mpctl.errors import MpctlError

if TYPE_CHECKING:  # asyncio costs 25 ms of start-up; the error boundary needs none of it
    import asyncio
    from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_INTERRUPTED = 130


class InterruptError(MpctlError):
    """The user or the CI runner interrupted the command; exit code 130."""

    code = "INTERRUPTED"
    exit_code = EXIT_INTERRUPTED


class Interrupts:
    """Signal handling for the task running one command (see the module docstring)."""

    def __init__(self, task: asyncio.Task[Any], notify: Callable[[str], None]) -> None:
        self._task = task
        self._loop = task.get_loop()
        self._notify = notify
        self._writing = False
        self._stop = False
        self._cancelled = False
        self._previous: dict[int, Any] = {}
        self.received = 0

    @property
    def cancelled(self) -> bool:
        """True once a signal cancelled the task (the work did not finish on its own)."""
        return self._cancelled

    def stop_requested(self) -> bool:
        """True once a signal asked the work to stop after the step in flight."""
        return self._stop

    def begin_writes(self) -> None:
        """From now on the first signal stops gracefully instead of cancelling."""
        self._writing = True

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        """Handle SIGINT and SIGTERM on the loop; restore the previous handlers afterwards."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self._install()
        try:
            yield self
        finally:
            self._uninstall()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Signals raise `KeyboardInterrupt` again (for a blocking prompt), then loop handling."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._uninstall()
        try:
            with _raising(SIGNALS):
                yield
        finally:
            self._install()

    def _install(self) -> None:
        for sig in SIGNALS:
            self._previous[sig] = signal.getsignal(sig)
            self._loop.add_signal_handler(sig, self._on_signal, sig)

    def _uninstall(self) -> None:
        for sig, previous in self._previous.items():
            self._loop.remove_signal_handler(sig)
            if previous is not None:
                signal.signal(sig, previous)
        self._previous.clear()

    def _on_signal(self, sig: int) -> None:
        self.received += 1
        name = signal.Signals(sig).name
        if not self._writing:
            self._notify(f"Interrupt received: nothing was written; stopping ({name}).")
            self._cancel()
        elif self.received == 1:
            self._stop = True
            self._notify(
                f"Interrupt received: finishing the step in flight, then stopping ({name}). "
                "Interrupt again to abandon that step too (apply re-reads before it writes "
                "again, so that is safe); the lock is released either way."
            )
        else:
            self._notify(f"Second interrupt ({name}): abandoning the step in flight.")
            self._cancel()

    def _cancel(self) -> None:
        if not self._cancelled:
            self._cancelled = True
            self._task.cancel()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises `KeyboardInterrupt` (as SIGINT does) while this is active."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _raising((signal.SIGTERM,)):
        yield


@contextmanager
def _raising(signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        signal.signal(sig, _raise_interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise KeyboardInterrupt
