"""The console-script entry point `run`: the collector's settings for a CLI run, and the exit.

Owns the checks that `run` exits with `main`'s code, that the young generations are collected
rarely while the command runs, and that what the command made is frozen out of the collector's
reach before the interpreter shuts down (its shutdown collections would walk it all again).
Times are `benchmarks/`'s to measure; this only pins what `run` does.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mpctl.cli import main as entry


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector")
def test_run_exits_with_the_commands_code_after_freezing_what_it_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[tuple[int, int, int], int]] = []

    def command() -> int:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return 2

    monkeypatch.setattr(entry, "main", command)
    with pytest.raises(SystemExit) as exited:
        entry.run()
    assert exited.value.code == 2
    assert seen == [(entry.GC_THRESHOLDS, 0)]  # nothing frozen while the command runs
    assert gc.get_freeze_count() > 0
