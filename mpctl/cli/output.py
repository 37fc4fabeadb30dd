"""Files the CLI writes that hold no secrets (saved plans), atomically: no half files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mpctl.errors import UserError
from mpctl.plan import Plan


def write_plan(path: Path, plan: Plan) -> None:
    """Write `plan` as canonical JSON to `path` (temp file + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(plan.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp).replace(path)
    except OSError as exc:
        raise UserError(f"cannot write the plan to {path}: {exc.strerror}") from exc


def read_plan(path: Path) -> Plan:
    """Load a saved plan; a missing, truncated or foreign file is a clear error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read the plan {path}: {exc.strerror}") from exc
    try:
        return Plan.from_json(text)
    except ValueError as exc:
        raise UserError(
            f"{path} is not a valid mpctl plan ({type(exc).__name__})",
            hint="make a new one with `mpctl plan --out FILE`",
        ) from exc
