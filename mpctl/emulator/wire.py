"""How the emulator writes JSON and timestamps on the wire.

Owns the response content type, deterministic (sorted) JSON encoding and the v1 timestamp
styles. It must not decide status codes or payload contents.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from starlette.responses import Response

JSON_CONTENT_TYPE: Final = "application/json;charset=UTF-8"


def encode_json(payload: Any) -> bytes:
    """Encode `payload` as compact UTF-8 JSON with sorted keys (deterministic output)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    payload: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A response carrying `payload` with Digdir's JSON content type."""
    return Response(
        encode_json(payload),
        status_code=status_code,
        media_type=JSON_CONTENT_TYPE,
        headers=headers,
    )


def json_array_response(encoded_items: list[bytes]) -> Response:
    """A JSON array of already encoded items: the bytes `json_response` gives for their list."""
    return Response(b"[" + b",".join(encoded_items) + b"]", media_type=JSON_CONTENT_TYPE)


def v1_timestamp(epoch_seconds: float) -> str:
    """Digdir v1 style: UTC, milliseconds, `Z` suffix (`2025-06-01T10:00:00.000Z`)."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def error_timestamp(epoch_seconds: float) -> str:
    """The v1 error body style: UTC with nanoseconds (`2025-07-02T08:30:00.000000000Z`)."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 1000:09d}Z"


def parse_timestamp(text: str) -> float:
    """Read an ISO-8601 timestamp (either `Z` or an offset) into epoch seconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
