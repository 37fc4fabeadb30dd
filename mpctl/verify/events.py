"""Structured events of a token exchange (seed 002's breadcrumbs) and where they go.

Owns `TokenEvent` (token_request_start / retry / success / exhausted with attempt, reason_code,
duration_ms, outcome), the `TokenObserver` callback type, a null observer and a JSON-lines
writer the CLI can switch on. Events hold only bounded, non-secret fields: never a grant, an
access token or a response body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal, TextIO

EventName = Literal[
    "token_request_start", "token_request_retry", "token_request_success", "token_request_exhausted"
]
Level = Literal["info", "warning", "error"]
ReasonCode = Literal["server_error", "rate_limited", "network_error", "timeout", "bad_response"]
Outcome = Literal["success", "client_error", "exhausted", "timeout"]
LEVELS: dict[EventName, Level] = {
    "token_request_start": "info",
    "token_request_retry": "warning",
    "token_request_success": "info",
    "token_request_exhausted": "error",
}


@dataclass(frozen=True)
class TokenEvent:
    """One breadcrumb. `attempt` is 0 for start, 1..3 for retries (the retry's number)."""

    event: EventName
    attempt: int
    client: str | None = None
    reason_code: ReasonCode | None = None
    wait_s: float | None = None
    duration_ms: int | None = None
    outcome: Outcome | None = None
    http_status: int | None = None
    mp_code: str | None = None

    @property
    def level(self) -> Level:
        return LEVELS[self.event]

    def as_dict(self) -> dict[str, object]:
        fields = {k: v for k, v in asdict(self).items() if v is not None}
        return {"event": self.event, "level": self.level, **fields}


TokenObserver = Callable[[TokenEvent], None]


def null_observer(event: TokenEvent) -> None:
    """Ignore every event."""


class JsonLinesEventLog:
    """A `TokenObserver` writing one JSON object per line, with a UTC timestamp."""

    def __init__(self, stream: TextIO, clock: Callable[[], datetime] | None = None) -> None:
        self._stream = stream
        self._clock = clock or (lambda: datetime.now(UTC))

    def __call__(self, event: TokenEvent) -> None:
        record = {"ts": self._clock().isoformat(), **event.as_dict()}
        self._stream.write(json.dumps(record, sort_keys=True) + "\n")
        self._stream.flush()


class RecordingObserver:
    """A `TokenObserver` keeping every event in a list (tests, summaries)."""

    def __init__(self) -> None:
        self.events: list[TokenEvent] = []

    def __call__(self, event: TokenEvent) -> None:
        self.events.append(event)
