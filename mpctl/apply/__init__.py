"""Executes a plan step by step: idempotent executors, the rotation protocol, the env lock.

Public API of the package. `apply` runs against a `RemoteApi`, secret sinks and a `KeyTester`
the caller builds; it never constructs clients itself and never prints.
"""

from mpctl.apply.context import (
    ApplyContext,
    ApplyError,
    ApplySettings,
    KeyTester,
    KeyTestResult,
    Verdict,
)
from mpctl.apply.engine import apply_plan, check_allowed, check_fresh
from mpctl.apply.events import ApplyObserver, NullObserver
from mpctl.apply.lock import EnvironmentLock, LockInfo
from mpctl.apply.report import ApplyReport, Status, StepOutcome

__all__ = [
    "ApplyContext",
    "ApplyError",
    "ApplyObserver",
    "ApplyReport",
    "ApplySettings",
    "EnvironmentLock",
    "KeyTestResult",
    "KeyTester",
    "LockInfo",
    "NullObserver",
    "Status",
    "StepOutcome",
    "Verdict",
    "apply_plan",
    "check_allowed",
    "check_fresh",
]
