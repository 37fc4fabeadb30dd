"""The short fault soak (issue 13): a few hundred random runs at parallelism 16, zero violations.

`tests/soak/driver.py` drives fresh worlds (the harness's three clients plus three more, each
world with its own clock skew of up to ±8 s) through random manifest edits, forced rotations
and days passing, under random 5xx, 429, dropped connections, lost writes and late key
propagation, sometimes with a second apply beside the first; the harness checks reliability.md
§2 after every API call and sink write. The test also holds the soak to what it claims to
exercise (every fault type fired, both skew signs, second applies refused by the lock, applies
that completed), and shows that a broken rotation (promote without a token test) is caught.

The seed is printed with the figures, and named in every failure. `MPCTL_SOAK_RUNS` and
`MPCTL_SOAK_SEED` change the size and the seed; the long soak is a documented command:

    .venv/bin/python benchmarks/soak.py --runs 2000 --seed 7
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import mpctl.apply.rotation
import tests.soak.driver
from mpctl.apply import ApplyContext
from mpctl.plan import KeyPhase
from tests.soak.driver import Soak, SoakConfig, key_pool, run_soak, soak_world

RUNS = int(os.environ.get("MPCTL_SOAK_RUNS", "200"))
SEED = int(os.environ.get("MPCTL_SOAK_SEED", "20261204"))
SHORT = SoakConfig(runs=RUNS, seed=SEED, bulk_clients=3, runs_per_world=100, converge_every=20)


def test_a_few_hundred_random_runs_with_faults_keep_every_invariant(tmp_path: Path) -> None:
    result = run_soak(tmp_path, SHORT, key_pool(SHORT.pool_size))
    figures = "\n".join(result.lines())
    print(f"\nfault soak:\n{figures}")
    assert result.clean, f"seed {SEED} (MPCTL_SOAK_SEED={SEED} to repeat):\n{figures}"

    assert result.runs == RUNS
    assert result.convergences >= RUNS // SHORT.converge_every
    assert {"5xx", "429", "drop", "lost_write", "late key propagation (runs)"} <= {
        kind for kind, count in result.faults.items() if count
    }, figures
    assert min(result.skews) < 0 < max(result.skews), figures
    assert result.outcomes["second, beside the first: refused by the lock"] > 0, figures
    assert result.outcomes["refused by the lock"] == 0, figures  # the first apply never is
    after = [k for k in result.outcomes if k.startswith("second, after the first:")]
    assert after, figures
    assert not any(k.endswith("refused by the lock") for k in after), figures
    assert result.outcomes["complete"] > RUNS // 10, figures
    assert result.invariant_checks > result.api_calls > RUNS


def test_the_soak_catches_a_rotation_that_promotes_an_untested_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sabotage once the world converged: the test phase does nothing (S5 must fire)."""

    async def skipped(rotation: object, ctx: ApplyContext) -> int:
        return 0

    async def sabotaged(driver: Soak, runs: int) -> None:
        monkeypatch.setitem(mpctl.apply.rotation._PHASES, KeyPhase.TEST, skipped)
        await soak_world(driver, runs)

    monkeypatch.setattr(tests.soak.driver, "soak_world", sabotaged)
    config = SoakConfig(runs=60, seed=SEED, bulk_clients=0, runs_per_world=60)
    result = run_soak(tmp_path, config, key_pool(config.pool_size))

    (violation,) = result.violations
    assert re.match(
        rf"run {result.runs} of seed {SEED}: S5 .* without a successful token test", violation
    )
    assert 0 < result.runs < config.runs  # it stopped at the first untested promotion
