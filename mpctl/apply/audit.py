"""The audit trail of applies: one JSON line per run start, per step, and per run end.

Owns the record models (published as schemas/audit-record.schema.json), where a run's identity
comes from (GitHub Actions' variables, else `git rev-parse HEAD` and the local user), and
`AuditLog`, which observes one apply through three seams: the engine's `ApplyObserver`
(steps), the remote layer's `CallEvent` hook (Digdir's correlation ids and Maskinporten's
trace ids, credited to the step whose task made the call: `STEP_IN_FLIGHT`, so steps running
concurrently each keep their own), and `AuditedSink` (the kids and public-key
thumbprints a step read or changed). Each record is one `write(2)` on an `O_APPEND` file and
then `fsync(2)`, so a crash leaves only whole lines behind.

Records hold kids, RFC 7638 thumbprints, correlation ids, and apply's own messages (redacted
again here): never key material, tokens or signed grants. Must not change what apply does,
and must not print (the CLI reports `AuditLog.failure`).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from mpctl import __version__
from mpctl.apply.context import STEP_IN_FLIGHT
from mpctl.apply.report import ApplyReport, Status, StepOutcome
from mpctl.files import PRIVATE_MODE
from mpctl.model import KeySlot, SinkState
from mpctl.plan import Plan, PlanOptions, Step
from mpctl.redaction import redact_text
from mpctl.remote import CallEvent
from mpctl.secrets import PrivateKey, SecretSink

SCHEMA_FILE = "audit-record.schema.json"
KeyRole = Literal["current", "pending", "previous", "staged", "promoted", "discarded", "forgotten"]
RunOutcome = Literal["complete", "incomplete", "interrupted", "no_changes", "error"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunIdentity(_Record):
    """What every record of one run repeats, so each line stands on its own."""

    run_id: str = Field(description="Random, one per apply run: groups its records")
    env: str = Field(description="The environment applied to")
    project: str = Field(description="'<orgno>/<project>' (or '<orgno>'), as in plans")
    commit: str | None = Field(description="GITHUB_SHA, else `git rev-parse HEAD` of the manifests")
    pr: int | None = Field(
        description="The pull request: given by the caller, else from GITHUB_REF "
        "(refs/pull/N/...) or the GitHub event payload"
    )
    actor: str | None = Field(description="GITHUB_ACTOR, else the local user name")
    ci_run_url: str | None = Field(default=None, description="The GitHub Actions run, if any")


class CorrelationSeen(_Record):
    """One answer that carried Digdir's correlation id (or Maskinporten's trace id)."""

    correlation_id: str
    method: str
    path: str = Field(description="Query values only for known non-secret parameters")
    status: int


class KeyInvolved(_Record):
    """A key a step read or changed: its kid and public thumbprint, never its material."""

    kid: str
    thumbprint: str | None = Field(
        description="RFC 7638 SHA-256 thumbprint of the public key (None if the step never read it)"
    )
    roles: tuple[KeyRole, ...] = Field(
        description="Sorted: the sink labels it held when read (current, pending, previous) "
        "and what the step did to it (staged, promoted, discarded, forgotten)"
    )


class _Line(RunIdentity):
    schema_version: Literal[1] = 1
    time: datetime = Field(description="When the record was written (UTC)")


class RunStart(_Line):
    """An apply began (it holds the environment lock)."""

    record: Literal["run_start"] = "run_start"
    mpctl_version: str
    saved_plan: bool = Field(description="Applying a saved plan (--plan) rather than a fresh one")
    options: dict[str, JsonValue] = Field(description="The plan options given (PlanOptions)")


class StepRecord(_Line):
    """One plan step as it ended (done, unchanged, failed, skipped, held back)."""

    record: Literal["step"] = "step"
    address: str
    action: str
    status: Status
    message: str
    writes: int
    safe_to_rerun: bool
    started_at: datetime | None = Field(description="None for a step that never started")
    correlation_ids: tuple[CorrelationSeen, ...] = Field(description="In the order seen")
    keys: tuple[KeyInvolved, ...] = Field(description="Sorted by kid")


class RunEnd(_Line):
    """An apply ended: how, with how many steps in each status."""

    record: Literal["run_end"] = "run_end"
    outcome: RunOutcome
    interrupted: bool
    message: str = Field(description="Why it stopped, for an error or an interrupt")
    planned_steps: int | None = Field(description="None when no plan was made")
    observed_fingerprint: str | None
    counts: dict[str, int] = Field(description="Steps by status")
    writes: int
    not_started: int
    abandoned: tuple[str, ...] = Field(description="Started and never finished (2nd interrupt)")
    correlation_ids: tuple[CorrelationSeen, ...] = Field(
        description="Seen outside any step (reading the state, the freshness check)"
    )


AuditRecord = Annotated[RunStart | StepRecord | RunEnd, Field(discriminator="record")]
_RECORD = TypeAdapter[RunStart | StepRecord | RunEnd](AuditRecord)


def audit_record_schema() -> dict[str, Any]:
    """The JSON Schema of one line of an audit log."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://mpctl.dev/schemas/{SCHEMA_FILE}",
        "title": "mpctl audit record (one JSON line: run_start, step or run_end)",
        **_RECORD.json_schema(mode="serialization"),
    }


def parse_record(line: str) -> RunStart | StepRecord | RunEnd:
    """One line of an audit log as its record (pydantic's ValidationError if it is not one)."""
    return _RECORD.validate_json(line)


def record_line(record: RunStart | StepRecord | RunEnd) -> bytes:
    """Canonical JSON on one line (sorted keys), newline-terminated."""
    document = record.model_dump(mode="json")
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text + "\n").encode("utf-8")


# ------------------------------------------------------------------------------------------
# who and what


_PULL_REF = re.compile(r"^refs/pull/(\d+)/")
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def identify_run(
    *,
    env: str,
    project: str,
    directory: Path,
    environ: Mapping[str, str],
    pr: int | None = None,
) -> RunIdentity:
    """This run's identity: GitHub Actions' variables in CI, else git and the local user."""
    return RunIdentity(
        run_id=uuid.uuid4().hex,
        env=env,
        project=project,
        commit=environ.get("GITHUB_SHA") or git_head(directory),
        pr=pr if pr is not None else pull_request_number(environ),
        actor=environ.get("GITHUB_ACTOR") or _local_user(),
        ci_run_url=_ci_run_url(environ),
    )


def pull_request_number(environ: Mapping[str, str]) -> int | None:
    """From GITHUB_REF (refs/pull/N/merge), else the event payload's `pull_request.number`."""
    found = _PULL_REF.match(environ.get("GITHUB_REF", ""))
    if found:
        return int(found[1])
    event_path = environ.get("GITHUB_EVENT_PATH")
    if not event_path:
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    return number if isinstance(number, int) else None


def git_head(directory: Path) -> str | None:
    """The commit checked out at `directory`, or None outside a git work tree."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command line, no shell, no user input
            [git, "-C", str(directory), "rev-parse", "--verify", "--quiet", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    head = done.stdout.strip()
    return head if done.returncode == 0 and _OBJECT_ID.fullmatch(head) else None


def _local_user() -> str | None:
    try:
        return getpass.getuser() or None
    except (OSError, KeyError):  # no login name, no passwd entry (some containers)
        return None


def _ci_run_url(environ: Mapping[str, str]) -> str | None:
    parts = [environ.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY")]
    run_id = environ.get("GITHUB_RUN_ID")
    if not all(parts) or not run_id:
        return None
    url = f"{parts[0]}/{parts[1]}/actions/runs/{run_id}"
    attempt = environ.get("GITHUB_RUN_ATTEMPT")
    return f"{url}/attempts/{attempt}" if attempt else url


# ------------------------------------------------------------------------------------------
# the kids a step touches


@dataclass(frozen=True)
class KeySeen:
    """A sink read or changed one of `client`'s keys."""

    client: str
    kid: str
    role: KeyRole
    thumbprint: str | None = None


KeyWitness = Callable[[KeySeen], None]


class AuditedSink:
    """A secret sink that reports the kids (and thumbprints) it reads and changes; every call
    is the inner sink's, unchanged. Only `kid` and `thumbprint` of a staged key are read."""

    def __init__(self, inner: SecretSink, witness: KeyWitness) -> None:
        self._inner, self._witness = inner, witness

    def __repr__(self) -> str:
        return f"AuditedSink({self._inner!r})"

    async def read_state(self, client: str) -> SinkState:
        state = await self._inner.read_state(client)
        slots: tuple[tuple[KeyRole, KeySlot | None], ...] = (
            ("current", state.current),
            ("pending", state.pending),
            ("previous", state.previous),
        )
        for role, slot in slots:
            if slot is not None:
                self._witness(KeySeen(client, slot.kid, role, slot.thumbprint))
        return state

    async def stage(self, client: str, key: PrivateKey) -> None:
        await self._inner.stage(client, key)
        self._witness(KeySeen(client, key.kid, "staged", key.thumbprint))

    async def promote(self, client: str, kid: str, now: datetime) -> None:
        await self._inner.promote(client, kid, now)
        self._witness(KeySeen(client, kid, "promoted"))

    async def discard_pending(self, client: str, kid: str) -> None:
        await self._inner.discard_pending(client, kid)
        self._witness(KeySeen(client, kid, "discarded"))

    async def forget_previous(self, client: str, kid: str | None = None) -> None:
        await self._inner.forget_previous(client, kid)
        if kid is not None:
            self._witness(KeySeen(client, kid, "forgotten"))

    async def load_private_key(self, client: str, kid: str) -> PrivateKey:
        return await self._inner.load_private_key(client, kid)

    async def set_client_id(self, client: str, client_id: str) -> None:
        await self._inner.set_client_id(client, client_id)


# ------------------------------------------------------------------------------------------
# the file


class AppendOnlyFile:
    """A file opened for appending (0600 when created): each `append` is one write, fsynced."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        self.path = path
        self._fd = os.open(path, flags, PRIVATE_MODE)
        if _ends_in_a_torn_line(path):  # a power loss cut the last line: start a fresh one
            self.append(b"\n")

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def _ends_in_a_torn_line(path: Path) -> bool:
    with path.open("rb") as existing:
        if existing.seek(0, os.SEEK_END) == 0:
            return False
        existing.seek(-1, os.SEEK_END)
        return existing.read(1) != b"\n"


# ------------------------------------------------------------------------------------------
# the log


@dataclass
class _StepNotes:
    """What was seen while one step ran."""

    address: str
    started_at: datetime
    calls: list[CorrelationSeen] = field(default_factory=list)
    keys: dict[str, tuple[str | None, set[KeyRole]]] = field(default_factory=dict)

    def key(self, seen: KeySeen) -> None:
        thumbprint, roles = self.keys.get(seen.kid, (None, set()))
        self.keys[seen.kid] = (thumbprint or seen.thumbprint, roles | {seen.role})

    def involved(self) -> tuple[KeyInvolved, ...]:
        return tuple(
            KeyInvolved(kid=kid, thumbprint=thumbprint, roles=tuple(sorted(roles)))
            for kid, (thumbprint, roles) in sorted(self.keys.items())
        )


class AuditLog:
    """Observes one apply (an `ApplyObserver`) and appends its records to a JSON Lines file.

    A failed write does not stop the apply: the first failure is kept in `failure` and
    nothing more is written.
    """

    def __init__(
        self, file: AppendOnlyFile, identity: RunIdentity, *, now: Callable[[], datetime]
    ) -> None:
        self._file, self.identity, self._now = file, identity, now
        self._steps: dict[str, _StepNotes] = {}
        self._outside: list[CorrelationSeen] = []
        self.failure: str | None = None

    @property
    def path(self) -> Path:
        return self._file.path

    def close(self) -> None:
        self._file.close()

    # what the CLI reports

    def run_started(self, options: PlanOptions, *, saved: bool) -> None:
        self._write(
            RunStart(
                **self._common(),
                mpctl_version=__version__,
                saved_plan=saved,
                options=options.model_dump(mode="json"),
            )
        )

    def run_finished(
        self,
        plan: Plan | None,
        report: ApplyReport,
        *,
        started: Sequence[str],
        interrupted: bool = False,
        error: str | None = None,
    ) -> None:
        """The run-end record: `started` lists every step address that began."""
        finished = {o.address for o in report.outcomes}
        planned = [str(step.address) for step in plan.steps] if plan is not None else []
        self._write(
            RunEnd(
                **self._common(),
                outcome=_outcome(plan, report, interrupted=interrupted, error=error),
                interrupted=interrupted,
                message=redact_text(error or _plan_errors(plan)),
                planned_steps=len(planned) if plan is not None else None,
                observed_fingerprint=plan.observed_fingerprint if plan is not None else None,
                counts={str(status): report.count(status) for status in Status},
                writes=report.writes,
                not_started=sum(1 for a in planned if a not in finished and a not in started),
                abandoned=tuple(a for a in started if a not in finished),
                correlation_ids=tuple(self._outside),
            )
        )

    # the seams

    def watch_sinks(self, sinks: Mapping[str, SecretSink]) -> dict[str, SecretSink]:
        """`sinks`, each reporting the kids it reads and changes to this log."""
        return {name: AuditedSink(sink, self.key_seen) for name, sink in sinks.items()}

    def call_seen(self, event: CallEvent) -> None:
        """The remote layer's hook: keep a correlation id, for the step in flight if any."""
        if event.correlation_id is None:
            return
        seen = CorrelationSeen(
            correlation_id=event.correlation_id,
            method=event.method,
            path=event.path,
            status=event.status,
        )
        notes = self._in_flight()
        (notes.calls if notes is not None else self._outside).append(seen)

    def key_seen(self, seen: KeySeen) -> None:
        notes = self._in_flight()
        if notes is not None:
            notes.key(seen)

    def _in_flight(self) -> _StepNotes | None:
        """The notes of the step whose task made this call (`STEP_IN_FLIGHT`: steps may run
        concurrently); from outside any step's task, the one step in flight, if only one is."""
        address = STEP_IN_FLIGHT.get()
        if address is not None:
            return self._steps.get(address)
        return next(iter(self._steps.values())) if len(self._steps) == 1 else None

    def step_started(self, step: Step) -> None:
        self._steps[str(step.address)] = _StepNotes(str(step.address), self._now())

    def step_finished(self, step: Step, outcome: StepOutcome) -> None:
        notes = self._steps.pop(str(step.address), None)
        self._write(
            StepRecord(
                **self._common(),
                address=str(step.address),
                action=str(step.action),
                status=outcome.status,
                message=redact_text(outcome.message),
                writes=outcome.writes,
                safe_to_rerun=outcome.safe_to_rerun,
                started_at=notes.started_at if notes else None,
                correlation_ids=tuple(notes.calls) if notes else (),
                keys=notes.involved() if notes else (),
            )
        )

    def _common(self) -> dict[str, Any]:
        return {**self.identity.model_dump(), "time": self._now()}

    def _write(self, record: RunStart | StepRecord | RunEnd) -> None:
        if self.failure is not None:
            return
        try:
            self._file.append(record_line(record))
        except OSError as exc:
            self.failure = f"cannot write the audit log {self.path}: {exc.strerror or exc}"


def open_audit_log(path: Path, identity: RunIdentity, *, now: Callable[[], datetime]) -> AuditLog:
    """An `AuditLog` appending to `path` (created 0600, with its directory); `close` it.

    Raises `OSError` when the file cannot be opened for appending.
    """
    return AuditLog(AppendOnlyFile(path), identity, now=now)


def _outcome(
    plan: Plan | None, report: ApplyReport, *, interrupted: bool, error: str | None
) -> RunOutcome:
    if interrupted:
        return "interrupted"
    if error is not None or plan is None:
        return "error"
    if not plan.has_changes:
        return "incomplete" if plan.summary.errors else "no_changes"
    return "complete" if report.ok and len(report.outcomes) == len(plan.steps) else "incomplete"


def _plan_errors(plan: Plan | None) -> str:
    if plan is None or plan.has_changes or not plan.summary.errors:
        return ""
    return f"nothing to apply, but the plan has {plan.summary.errors} error(s) holding changes back"
