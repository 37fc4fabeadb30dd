"""Which lock an environment's apply takes: the local file, or the shared S3 object.

Owns the choice from `environments.<env>.lock` in mpctl.yaml, and where the local lock file
lives (`.mpctl/<env>/apply.lock` beside mpctl.yaml). Must not take the lock or print: the
command holds it, and is told about a takeover through `on_takeover`.
"""

from __future__ import annotations

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
