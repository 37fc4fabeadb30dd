"""Files the CLI writes that hold no secrets (saved plans), atomically: no half files.

Reading a plan back refuses anything that is not one (too large, not UTF-8, not JSON, the wrong
shape) with an error that names the file; it never raises anything but `UserError`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from mpctl.errors import UserError
from mpctl.files import write_atomically
from mpctl.plan import Plan


def write_plan(path: Path, plan: Plan) -> None:
    """Write `plan` as canonical JSON to `path` (`mpctl.files`: temp file, fsync, rename)."""
    try:
        write_atomically(path, plan.to_json().encode("utf-8"))
    except OSError as exc:
        raise UserError(f"cannot write the plan to {path}: {exc.strerror}") from exc


MAX_PLAN_BYTES = 64 * 1024 * 1024
_REMAKE = "make a new one with `mpctl plan --out FILE`"


def read_plan(path: Path) -> Plan:
    """Load a saved plan; a missing, truncated, binary or foreign file is a clear error."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read the plan {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_PLAN_BYTES:
        raise UserError(f"{path} is larger than any mpctl plan", hint=_REMAKE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
        raise UserError(
            f"{path} is not an mpctl plan: not UTF-8 text ({where})", hint=_REMAKE
        ) from exc
    try:
        return Plan.from_json(text)
    except UserError as exc:  # a plan of another format version
        raise UserError(f"{path}: {exc.message}", hint=exc.hint) from exc
    except ValidationError as exc:
        raise UserError(
            f"{path} is not a valid mpctl plan: {_first_error(exc)}", hint=_REMAKE
        ) from exc
    except (ValueError, TypeError, RecursionError) as exc:
        raise UserError(
            f"{path} is not a valid mpctl plan ({type(exc).__name__})", hint=_REMAKE
        ) from exc


def _first_error(exc: ValidationError) -> str:
    """The first problem pydantic found, as `where: what`, short enough for one line."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    text = f"{where}: {first['msg']}"
    text = text if len(text) <= 160 else text[:160] + "…"
    more = len(errors) - 1
    return f"{text} (and {more} more)" if more else text
