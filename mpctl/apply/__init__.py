"""Executes a plan step by step: idempotent executors, the rotation protocol, the env lock, the
audit trail.

Public API of the package. `apply` runs against a `RemoteApi`, secret sinks and a `KeyTester`
the caller builds; it never constructs clients itself and never prints.
"""

from mpctl.apply.audit import (
    AuditLog,
    RunIdentity,
    audit_record_schema,
    identify_run,
    open_audit_log,
    parse_record,
)
from mpctl.apply.context import (
    ApplyContext,
    ApplyError,
    ApplySettings,
    KeyTester,
    KeyTestResult,
    Verdict,
)
from mpctl.apply.engine import apply_plan, check_allowed, check_fresh
from mpctl.apply.events import ApplyObserver, NullObserver, Phase, observing_phases
from mpctl.apply.lock import EnvironmentLock, Lock, LockInfo
from mpctl.apply.lock_s3 import LockBackendError, S3EnvironmentLock, open_s3_lock
from mpctl.apply.report import ApplyReport, Status, StepOutcome
from mpctl.apply.run_report import (
    ApplyRunReport,
    apply_report_schema,
    build_run_report,
    completed_phases,
    is_first_key,
    is_rotation,
)

__all__ = [
    "ApplyContext",
    "ApplyError",
    "ApplyObserver",
    "ApplyReport",
    "ApplyRunReport",
    "ApplySettings",
    "AuditLog",
    "EnvironmentLock",
    "KeyTestResult",
    "KeyTester",
    "Lock",
    "LockBackendError",
    "LockInfo",
    "NullObserver",
    "Phase",
    "RunIdentity",
    "S3EnvironmentLock",
    "Status",
    "StepOutcome",
    "Verdict",
    "apply_plan",
    "apply_report_schema",
    "audit_record_schema",
    "build_run_report",
    "check_allowed",
    "check_fresh",
    "completed_phases",
    "identify_run",
    "is_first_key",
    "is_rotation",
    "observing_phases",
    "open_audit_log",
    "open_s3_lock",
    "parse_record",
]
