"""`benchmarks/apply_steps.py` runs and charges each call to the step that made it.

The script as a user runs it, for 4 new clients at 0 ms latency (its own emulator on loopback,
2,048-bit keys): every create and key step is counted, and a new client's key step makes the
calls the rotation protocol makes (4 reads or writes of its JWKS, one upload, one token test;
its sink is told the client id, read twice, staged and promoted). Asserts counts, never times.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "apply_steps.py"


def test_each_step_is_timed_with_the_calls_it_made() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--size", "4", "--parallelism", "2", "--latency-ms", "0"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {
        line.split()[0]: line.split()
        for line in done.stdout.splitlines()
        if line.split() and line.split()[0] in {"client", "key"}
    }
    assert set(rows) == {"client", "key"}, done.stdout
    _kind, steps, _step, _http, http_calls, _sink, sink_calls, _rest = rows["key"]
    assert (steps, http_calls, sink_calls) == ("4", "6.00", "5.00")
    _kind, steps, _step, _http, http_calls, _sink, sink_calls, _rest = rows["client"]
    assert steps == "4"
    assert float(http_calls) >= 1.0  # its POST, and its listing when it made one
    assert sink_calls == "0.00"
