"""Which lock an environment's apply takes: the local file, or the shared S3 object.

Owns the choice from `environments.<env>.lock` in mpctl.yaml, where the local lock file lives
(`.mpctl/<env>/apply.lock` beside mpctl.yaml), and what the choice lets apply trust: whether
every run that can write the environment takes the same lock. Must not take the lock or print:
the command holds it, and is told about a takeover through `on_takeover`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from mpctl.apply import EnvironmentLock, Lock, LockInfo, open_s3_lock
from mpctl.cli.environment import Workspace


def open_lock(workspace: Workspace, on_takeover: Callable[[LockInfo], None] | None) -> Lock:
    """The lock of the workspace's environment, by its `lock:` block (local by default)."""
    spec = workspace.environment.lock
    if spec.backend == "s3":
        return open_s3_lock(spec, project=workspace.desired.project, env_name=workspace.env_name)
    path = workspace.directory / ".mpctl" / workspace.env_name / "apply.lock"
    return EnvironmentLock(path, on_takeover=on_takeover)


def every_run_takes_this_lock(workspace: Workspace) -> bool:
    """True for the shared S3 lock, and for an embedded emulator (its state lives in the same
    `.mpctl/` as the local lock); a local lock elsewhere binds only the runs on this machine."""
    return workspace.environment.lock.backend == "s3" or workspace.environment.emulator is not None


def client_listing_max_age(workspace: Workspace) -> float:
    """How old a listing a create may look for its marker in (`ApplySettings`): any age when no
    other run can create clients meanwhile, else one begun after the create asked."""
    return math.inf if every_run_takes_this_lock(workspace) else 0.0


MANY_CREATES = 100
"""From this many new clients on, apply says what a shared lock would save them."""


def listing_advice(creates: int, max_age: float) -> str | None:
    """A note for a run of many creates that each wait for a fresh listing (a local lock), or
    None: with N clients in Digdir, each such listing reads all N."""
    if creates < MANY_CREATES or max_age > 0:
        return None
    return (
        f"Note: {creates} new clients each look for themselves in a listing of every client "
        "begun after they ask, as this environment's lock is local (another machine's run "
        "could create them meanwhile). With `lock: {backend: s3, ...}` the listing the "
        "stale-plan check took serves them all."
    )
