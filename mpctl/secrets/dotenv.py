"""The `.env` text a workload reads: seed 002's `MASKINPORTEN_*` variables for the current key.

Owns quoting: every value is double-quoted with `\\`, `"` and newlines escaped, the dialect that
python-dotenv, Node's dotenv and Docker Compose's `env_file` all read back to the original
value (a multi-line PEM becomes one line with `\\n`). Must not write files or decide which key
is current.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mpctl.errors import SecretSinkError
from mpctl.model import SinkVariables

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n"}
_UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]|\$\{")


def quote_value(name: str, value: str) -> str:
    """`value` as a double-quoted .env value; refuses characters no dialect reads back safely."""
    if _UNSAFE.search(value.replace("\r\n", "\n")):
        raise SecretSinkError(
            f"the value for {name} has control characters or '${{', which .env cannot hold safely"
        )
    escaped = "".join(_ESCAPES.get(ch, ch) for ch in value.replace("\r\n", "\n"))
    return f'"{escaped}"'


def render_env_file(values: Mapping[str, str], *, header: str) -> str:
    """`NAME="value"` lines in the given order, after a `#` comment header."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for name, value in values.items():
        if not _NAME.match(name):
            raise SecretSinkError(f"{name!r} is not a valid environment variable name")
        lines.append(f"{name}={quote_value(name, value)}")
    return "\n".join(lines) + "\n"


def workload_variables(
    variables: SinkVariables,
    *,
    client_id: str,
    kid: str,
    private_key_pem: str,
    token_endpoint: str,
    issuer: str,
) -> dict[str, str]:
    """Seed 002's live-mode variables, under the names the sink spec configures."""
    return {
        variables.mode: "live",
        variables.client_id: client_id,
        variables.kid: kid,
        variables.private_key: private_key_pem,
        variables.token_endpoint: token_endpoint,
        variables.issuer: issuer,
    }
