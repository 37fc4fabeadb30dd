"""The one event hook of a token exchange: seed 002's structured breadcrumbs.

Owns `TokenEvent` (token_request_start / retry / success / exhausted with attempt, reason_code,
wait, duration_ms, outcome, HTTP status and MP code), its level, the `TokenObserver` hook type
and a null observer. Events hold only bounded, non-secret fields: never a grant, an access
token or a response body. Must not write events anywhere: observers (verify's JSON lines, a
test's list) decide that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

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
    """One breadcrumb. `attempt` is 0 for start, then the number of the attempt it is about."""

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
