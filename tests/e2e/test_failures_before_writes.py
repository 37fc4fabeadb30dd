"""What a failed or retried run prints, through the real CLI against the embedded emulator.

A failure before apply's first step (observing Digdir, getting the admin token) says that
nothing was written and that a re-run is safe. Retries are reported once each, in mpctl's
words (method, path, status, attempt, wait), and only with `-v`; stamina's own
`stamina.retry_scheduled` lines never reach stderr.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.processes import lock_file, mpctl, prepare

RETRY_LINE = re.compile(
    r"^retry: GET (/api/v1/\S+) failed with status 503 on attempt (\d) of 4; "
    r"next attempt in \d+\.\d s$",
    re.MULTILINE,
)


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "error", "status": 500, "path": "/api/v1/*", "methods": ["GET"]},
        {"kind": "error", "status": 500, "path": "/token"},
    ],
    ids=["observing", "admin-token"],
)
def test_a_failure_before_the_first_step_says_nothing_was_written(
    example_copy: Path, fault: dict[str, object]
) -> None:
    project = prepare(example_copy, fault)
    run = mpctl(project, "apply", "--auto-approve")
    assert run.returncode == 1, run.stdout + run.stderr
    error = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1, run.stderr
    assert error[0].endswith("nothing was written; safe to re-run"), run.stderr
    assert "500" in error[0]
    assert not lock_file(project).exists()


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_retries_are_reported_once_each_and_only_with_verbose(
    example_copy: Path, verbose: bool
) -> None:
    two_failures = {  # the listing of clients, which plan reads while it reads the scopes
        "kind": "error",
        "status": 503,
        "path": "/api/v1/clients",
        "methods": ["GET"],
        "max_hits": 2,
    }
    project = prepare(example_copy, two_failures)
    run = mpctl(project, *(["--verbose"] if verbose else []), "plan")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "stamina" not in run.stderr  # before: one bare stamina.retry_scheduled per retry
    retries = RETRY_LINE.findall(run.stderr)
    if verbose:
        assert retries == [("/api/v1/clients", "1"), ("/api/v1/clients", "2")], run.stderr
    else:
        assert "retry" not in run.stderr
