"""The reviewed plan where the pull request's plan job saved it: a workflow run's artifact.

Owns where a saved plan is (the artifact name, `{env}` filled in, and the plan comment's marker
fields `run` and `artifact`, written by `gitops plan` and read by `gitops apply`), choosing that
run's artifact (by name; the newest unexpired one), and reading the one plan out of its zip with
care: exactly one member, a regular file with a plain relative name (no `..`, no absolute or
Windows path, no symlink, not encrypted), at most `MAX_PLAN_BYTES` uncompressed, UTF-8 JSON of
an mpctl plan. Whatever stands in the way is `ReviewedPlanUnavailable`, whose reason says what
happened and what to do; nothing is applied then. Must not plan, apply, write files or decide
what a comment says; GitHub is reached through `GitHubRepo` only.
"""

from __future__ import annotations

import io
import lzma
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass

from pydantic import ValidationError

from mpctl.errors import UserError
from mpctl.gitops.github import Artifact, GitHubError, GitHubRepo
from mpctl.gitops.markers import Marker
from mpctl.plan import Plan

DEFAULT_ARTIFACT_NAME = "mpctl-plan-{env}"
"""The name the plan action uploads the saved plan under (`{env}`: the environment)."""
MAX_PLAN_BYTES = 64 * 1024 * 1024
"""The largest plan read out of an artifact (uncompressed), as `mpctl apply` reads a file."""
RUN_FIELD = "run"
ARTIFACT_FIELD = "artifact"

_NOT_IN_NAMES = frozenset('":<>|*?\r\n\\/')
"""What actions/upload-artifact refuses in an artifact's name."""
_UNREADABLE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    EOFError,
    OSError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
)
"""What reading a damaged or unusual zip raises (a bad CRC, an unknown method, cut data)."""
_RUN_ID = re.compile(r"[1-9][0-9]{0,18}", re.ASCII)
_RERUN = (
    "re-run the pull request's plan job (its workflow run → Re-run jobs) so it saves the plan "
    "again, then re-run this job"
)


class ReviewedPlanUnavailable(Exception):  # noqa: N818 - an outcome, reported as a comment
    """The reviewed plan cannot be fetched or read; `reason` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SavedPlan:
    """Where the plan job saved the plan: artifact `artifact` of workflow run `run_id`."""

    run_id: int
    artifact: str

    def describe(self) -> str:
        return f"artifact {self.artifact} of workflow run {self.run_id}"


@dataclass(frozen=True)
class FetchedPlan:
    """The reviewed plan and where it came from (the artifact and its zip member)."""

    plan: Plan
    artifact: Artifact
    member: str


def artifact_name(template: str, env: str) -> str:
    """`template` with `{env}` filled in; a name upload-artifact would refuse is an error."""
    name = template.replace("{env}", env)
    bad = sorted(_NOT_IN_NAMES & set(name))
    if not name.strip() or bad:
        spelled = ", ".join(repr(c) for c in bad)
        raise UserError(
            f"{name!r} cannot be an artifact name"
            + (f" (it has {spelled})" if bad else " (it is empty)"),
            hint="--artifact-name must be the `name` the workflow gives actions/upload-artifact; "
            'it may not hold " : < > | * ? \\ / or line breaks',
        )
    return name


def saved_plan_fields(run_id: str | None, artifact: str) -> dict[str, str]:
    """The plan marker's fields for a plan saved as `artifact` in run `run_id` (GITHUB_RUN_ID;
    left out when unset or not a run id)."""
    run = (run_id or "").strip()
    fields = {ARTIFACT_FIELD: artifact}
    if _RUN_ID.fullmatch(run):
        fields[RUN_FIELD] = run
    return fields


def saved_plan(marker: Marker) -> SavedPlan:
    """Where the plan comment's plan was saved; a marker without it (an older mpctl, a plan
    made without `--out` or outside GitHub Actions) is `ReviewedPlanUnavailable`."""
    run, artifact = marker.data.get(RUN_FIELD, ""), marker.data.get(ARTIFACT_FIELD, "")
    if not (_RUN_ID.fullmatch(run) and artifact):
        raise ReviewedPlanUnavailable(
            f"the plan comment for {marker.env} does not say which workflow run saved its plan "
            "(it was made by an older mpctl, without `--out`, or outside GitHub Actions), so "
            f"the reviewed plan cannot be fetched. Pass it with `--reviewed FILE`, or {_RERUN}"
        )
    return SavedPlan(int(run), artifact)


def fetch_reviewed_plan(
    repo: GitHubRepo, saved: SavedPlan, *, limit: int = MAX_PLAN_BYTES
) -> FetchedPlan:
    """Download `saved`'s artifact and read the plan in it."""
    artifact = choose_artifact(_run_artifacts(repo, saved), saved)
    archive = _download(repo, artifact, saved)
    member, data = plan_file_from_zip(archive, limit=limit, what=saved.describe())
    return FetchedPlan(parse_plan(data, f"{member} in {saved.describe()}"), artifact, member)


def choose_artifact(artifacts: list[Artifact], saved: SavedPlan) -> Artifact:
    """The newest unexpired artifact of the run named as saved."""
    named = [a for a in artifacts if a.name == saved.artifact and a.run_id == saved.run_id]
    live = [a for a in named if not a.expired]
    if live:
        return max(live, key=lambda a: a.id)
    if named:
        raise ReviewedPlanUnavailable(_expired(saved))
    raise ReviewedPlanUnavailable(
        f"workflow run {saved.run_id} has no artifact named {saved.artifact} (the plan job did "
        "not upload the saved plan, or under another name than `--artifact-name`), so the "
        f"reviewed plan cannot be fetched: {_RERUN}"
    )


def plan_file_from_zip(
    archive: bytes, *, limit: int = MAX_PLAN_BYTES, what: str = "the artifact"
) -> tuple[str, bytes]:
    """The name and content of the one file in zip `archive`; anything else is refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            members = bundle.infolist()
            if len(members) != 1:
                raise _refused(what, _count(members))
            member = members[0]
            _check_member(member, limit, what)
            with bundle.open(member) as handle:
                data = handle.read(limit + 1)
    except _UNREADABLE as exc:
        raise _refused(what, f"it is not a readable zip archive ({_zip_error(exc)})") from None
    if len(data) > limit:
        raise _refused(what, f"its file is larger than {limit:,} bytes")
    return member.filename, data


def parse_plan(data: bytes, where: str) -> Plan:
    """The mpctl plan in `data`, or `ReviewedPlanUnavailable` naming `where`."""
    try:
        return Plan.from_json(data.decode("utf-8"))
    except UnicodeDecodeError:
        problem = "it is not UTF-8 text"
    except UserError as exc:  # a plan of another format version
        problem = exc.message
    except ValidationError as exc:
        problem = f"it is not a valid mpctl plan ({exc.error_count()} problem(s))"
    except (ValueError, TypeError, RecursionError) as exc:
        problem = f"it is not a valid mpctl plan ({type(exc).__name__})"
    raise ReviewedPlanUnavailable(f"the reviewed plan ({where}) cannot be read: {problem}")


def _run_artifacts(repo: GitHubRepo, saved: SavedPlan) -> list[Artifact]:
    try:
        return repo.run_artifacts(saved.run_id)
    except GitHubError as exc:
        if exc.status != 404:
            raise
        raise ReviewedPlanUnavailable(
            f"workflow run {saved.run_id}, which saved the reviewed plan, is not found (deleted, "
            f"or the token may not read this repository's Actions): {_RERUN}"
        ) from None


def _download(repo: GitHubRepo, artifact: Artifact, saved: SavedPlan) -> bytes:
    try:
        return repo.download_artifact(artifact.id)
    except GitHubError as exc:
        if exc.status == 410:
            raise ReviewedPlanUnavailable(_expired(saved)) from None
        if exc.status == 404:
            raise ReviewedPlanUnavailable(
                f"{saved.describe()} is gone (deleted since it was listed): {_RERUN}"
            ) from None
        raise


def _expired(saved: SavedPlan) -> str:
    return (
        f"{saved.describe()} has expired (GitHub deletes artifacts after the repository's "
        f"retention period), so the reviewed plan cannot be fetched: {_RERUN}"
    )


def _check_member(member: zipfile.ZipInfo, limit: int, what: str) -> None:
    problem = _name_problem(member.filename)
    if problem is None and member.is_dir():
        problem = f"its only member {_shown(member.filename)} is a directory"
    if problem is None and stat.S_ISLNK(member.external_attr >> 16):
        problem = f"its only member {_shown(member.filename)} is a symbolic link"
    if problem is None and member.flag_bits & 0x1:
        problem = f"its only member {_shown(member.filename)} is encrypted"
    if problem is None and member.file_size > limit:
        problem = f"its file is larger than {limit:,} bytes ({member.file_size:,})"
    if problem is not None:
        raise _refused(what, problem)


def _name_problem(name: str) -> str | None:
    """Why `name` is not a plain relative path inside the archive, or None."""
    parts = name.split("/")
    unsafe = (
        not name
        or name.startswith("/")
        or "\\" in name
        or re.match(r"[A-Za-z]:", name) is not None
        or any(part in ("", ".", "..") for part in parts)
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    )
    return f"its member name {_shown(name)} is not a plain relative path" if unsafe else None


def _count(members: list[zipfile.ZipInfo]) -> str:
    if not members:
        return "it is empty"
    names = ", ".join(_shown(m.filename) for m in members[:5])
    more = f" and {len(members) - 5} more" if len(members) > 5 else ""
    return f"it holds {len(members)} members ({names}{more}), not the one plan file"


def _shown(name: str) -> str:
    """A member's name as quoted in a reason (at most 100 characters of it)."""
    return repr(name[:100] + ("…" if len(name) > 100 else ""))


def _zip_error(exc: BaseException) -> str:
    return str(exc)[:200] or type(exc).__name__


def _refused(what: str, problem: str) -> ReviewedPlanUnavailable:
    return ReviewedPlanUnavailable(
        f"{what} is refused: {problem}. The plan job uploads the one file `gitops plan --out` "
        "wrote; an archive holding anything else is not read"
    )
