"""The -v request log and what reaches stderr without -v."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mpctl.cli import logs
from mpctl.remote import CallEvent


@pytest.fixture
def restored() -> Iterator[None]:
    yield
    logs.configure(verbose=False)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h).__module__ == logs.__name__]:
        root.removeHandler(handler)


def test_verbose_logs_each_request_as_one_line(
    restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(verbose=True)
    assert logs.requests_logged()
    logs.log_call(CallEvent("GET", "/api/v1/clients", 200, "corr-1", duration=0.1234))
    logs.log_call(CallEvent("POST", "/token", 400))
    assert capsys.readouterr().err.splitlines() == [
        "GET /api/v1/clients → 200 in 0.12 s (correlation id corr-1)",
        "POST /token → 400",
    ]


def test_without_verbose_no_request_and_no_library_warning_reaches_stderr(
    restored: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The root logger as a CLI process has it: without pytest's capture handlers (added for
    # the test call), so only what `configure` adds stands before the last-resort handler.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    logs.configure(verbose=False)
    assert not logs.requests_logged()
    logs.log_call(CallEvent("GET", "/api/v1/clients", 200))
    logging.getLogger("a.library").warning("Retrying (Retry(total=2)) after …")
    logging.getLogger("mpctl.remote").info("retry: GET /api/v1/clients failed")
    assert capsys.readouterr().err == ""


def test_verbose_shows_a_library_warning_in_mpctls_console(
    restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(verbose=True)
    logging.getLogger("urllib3.connectionpool").warning("Retrying (Retry(total=2))")
    assert "Retrying (Retry(total=2))" in capsys.readouterr().err
