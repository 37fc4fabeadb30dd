"""The long fault soak of apply and rotation (issue 13): thousands of runs, zero violations.

Runs `tests/soak/driver.py` (the short version is tests/soak/test_soak.py): fresh worlds of
the trimmed example plus `--bulk` clients on the in-process emulator, each with its own clock
skew (up to ±8 s, the sign alternating), and `--runs` runs over them, each a random manifest
edit, forced rotation, days passing or nothing, with random 5xx, 429, dropped connections, lost
writes and late key propagation, applied at `--parallelism` under the environment lock,
sometimes beside a second apply. The harness checks reliability.md §2 after every API call and
sink write. Prints runs, faults injected by type, API calls, invariant checks, violations and
wall time; exits 1 on any violation or problem (no convergence, a failure not safe to re-run).

    .venv/bin/python benchmarks/soak.py --runs 2000 --seed 7 [--parallelism 16] [--bulk 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.soak.driver import SoakResult

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--parallelism", type=int, default=16)
    parser.add_argument("--bulk", type=int, default=10, help="clients beside the example's 3")
    parser.add_argument("--runs-per-world", type=int, default=250)
    parser.add_argument("--converge-every", type=int, default=25)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))  # the driver lives with the tests
    import stamina.instrumentation

    from tests.soak.driver import SoakConfig, key_pool, run_soak

    # As `mpctl` does (mpctl.cli.logs): without it stamina printed a bare
    # `stamina.retry_scheduled` line for each of the run's thousands of retries.
    stamina.instrumentation.set_on_retry_hooks(())

    config = SoakConfig(
        runs=args.runs,
        seed=args.seed,
        parallelism=args.parallelism,
        bulk_clients=args.bulk,
        runs_per_world=args.runs_per_world,
        converge_every=args.converge_every,
    )
    started = time.perf_counter()
    pool = key_pool(config.pool_size)
    print(f"key pool: {len(pool)} keys in {time.perf_counter() - started:.1f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="mpctl-soak-") as directory:
        result = run_soak(Path(directory), config, pool, after_world=progress(started))
    for line in result.lines():
        print(line)
    return 0 if result.clean else 1


def progress(started: float) -> Callable[[SoakResult], None]:
    def after_world(result: SoakResult) -> None:
        print(
            f"  {result.runs} runs, {len(result.violations)} violations, "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )

    return after_world


if __name__ == "__main__":
    raise SystemExit(main())
