"""The CLI's notion of now. `MPCTL_NOW` (ISO 8601) pins it, for demos and tests of grace periods.

The pure core never reads a clock; commands pass `now()` in. Must not be used below `mpctl.cli`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from mpctl.errors import ConfigError


def now() -> datetime:
    """The current UTC time, or MPCTL_NOW when set."""
    pinned = os.environ.get("MPCTL_NOW")
    if not pinned:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(pinned)
    except ValueError as exc:
        raise ConfigError(
            f"MPCTL_NOW={pinned!r} is not an ISO 8601 time", hint="e.g. 2026-11-21T12:00:00Z"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
