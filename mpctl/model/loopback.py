"""What counts as loopback: the one rule for "a local test server, not a host a manifest chose".

Owns `is_loopback_host` and `is_loopback_url`. The model's validators use them to let an http
URL or a custom endpoint through only when it stays on this machine; the GitHub client and the
readiness check use the same rule. Pure: parses strings, never resolves a name.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, `*.localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """An http(s) URL on a loopback host with a valid port, no user info and no query."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and is_loopback_host(parts.hostname or "")
        and parts.username is None
        and not parts.query
    )
