"""Where token events go: a JSON-lines writer the CLI can switch on, and a recording list.

Owns `JsonLinesEventLog` and `RecordingObserver`, two `TokenObserver`s. The events themselves
(`TokenEvent`, seed 002's token_request_start / retry / success / exhausted) and when they are
emitted are `mpctl.remote`'s token exchange's. Writes only what an event holds: never a grant,
an access token or a response body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from mpctl.remote import TokenEvent


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
