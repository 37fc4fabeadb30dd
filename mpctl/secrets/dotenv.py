"""The `.env` text a workload reads: seed 002's `MASKINPORTEN_*` variables for the current key.

Owns the two dialects a sink can write, chosen by the sink's `dotenv_encoding`:

- `pem`: `NAME="value"` with the PEM's real line breaks inside the double quotes. Loads with
  `set -a; . FILE` in bash and dash, python-dotenv, Node's dotenv and Docker Compose's
  `env_file`. Values may not hold `"`, `\\`, `$` or a backtick: those mean different things to a
  shell and to dotenv libraries, so no quoting reads back the same everywhere.
- `base64` / `jwk-base64`: `NAME=value`, one line each, no quotes, with the key in one base64
  variable. Line-based loaders (`docker --env-file`, `kubectl create secret generic
  --from-env-file`) take a value verbatim up to the end of the line, so every value must be
  made of characters that mean the same to them and to a shell: `A-Z a-z 0-9 _ . / : @ % + = , -`.

Must not write files or decide which key is current.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from mpctl.errors import SecretSinkError
from mpctl.model import DotenvEncoding, SinkVariables
from mpctl.secrets.keys import from_pem, to_private_jwk_base64

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUOTED_UNSAFE = re.compile(r'[\x00-\x09\x0b-\x1f\x7f"\\$`]')
_LINE_SAFE = re.compile(r"^[A-Za-z0-9_./:@%+=,-]*$")
_LOADERS = {
    "pem": (
        "The private key is a multi-line PEM: load this file with `set -a; . ./FILE; set +a`,\n"
        "python-dotenv, Node's dotenv or Compose env_file. It is not line-safe: for\n"
        "docker --env-file or kubectl --from-env-file set the sink's dotenv_encoding: base64."
    ),
    "line": (
        "One line per variable, no quotes: loads with `set -a; . ./FILE; set +a`,\n"
        "docker --env-file and kubectl create secret generic --from-env-file."
    ),
}


def quote_value(name: str, value: str) -> str:
    """`value` double-quoted with its line breaks kept; refuses what no dialect reads back."""
    text = value.replace("\r\n", "\n")
    if _QUOTED_UNSAFE.search(text):
        raise SecretSinkError(
            f"the value for {name} has a control character, '\"', '\\', '$' or '`', which a "
            ".env file cannot hold so that shells and dotenv libraries read the same value"
        )
    return f'"{text}"'


def bare_value(name: str, value: str) -> str:
    """`value` as it is, for line-based loaders; refuses characters a shell would change."""
    if not _LINE_SAFE.match(value):
        raise SecretSinkError(
            f"the value for {name} has characters that a line-based .env cannot hold unquoted "
            "(only A-Z a-z 0-9 _ . / : @ % + = , - are safe)",
            hint="use the sink's dotenv_encoding: pem, which quotes every value",
        )
    return value


def is_line_safe(encoding: DotenvEncoding) -> bool:
    """True when the dialect of `encoding` loads with line-based loaders (docker, kubectl)."""
    return encoding != "pem"


def render_env_file(
    values: Mapping[str, str], *, header: str, encoding: DotenvEncoding = "pem"
) -> str:
    """`NAME=value` lines in the given order, after a `#` comment header naming the loaders."""
    line_safe = is_line_safe(encoding)
    guide = _LOADERS["line" if line_safe else "pem"]
    lines = [f"# {line}" if line else "#" for line in f"{header}\n{guide}".splitlines()]
    for name, value in values.items():
        if not _NAME.match(name):
            raise SecretSinkError(f"{name!r} is not a valid environment variable name")
        rendered = bare_value(name, value) if line_safe else quote_value(name, value)
        lines.append(f"{name}={rendered}")
    return "\n".join(lines) + "\n"


def encoded_private_key(encoding: DotenvEncoding, private_key_pem: str, *, kid: str) -> str:
    """The key as the variable for `encoding` holds it: PEM, base64 of the PEM, or base64 JWK.

    `base64` is standard base64 with padding and no line breaks, the form `altinn-jwks export
    key --base64` prints; `jwk-base64` is exactly what that command prints (the private JWK).
    """
    if encoding == "pem":
        return private_key_pem
    if encoding == "base64":
        return base64.b64encode(private_key_pem.encode("ascii")).decode("ascii")
    key = from_pem(private_key_pem, kid=kid, created_at=datetime(1970, 1, 1, tzinfo=UTC))
    return to_private_jwk_base64(key)


def workload_variables(
    variables: SinkVariables,
    *,
    client_id: str,
    kid: str,
    private_key_pem: str,
    token_endpoint: str,
    issuer: str,
    encoding: DotenvEncoding = "pem",
) -> dict[str, str]:
    """Seed 002's live-mode variables, under the names the sink spec configures."""
    key_variable = variables.private_key if encoding == "pem" else variables.private_key_base64
    return {
        variables.mode: "live",
        variables.client_id: client_id,
        variables.kid: kid,
        key_variable: encoded_private_key(encoding, private_key_pem, kid=kid),
        variables.token_endpoint: token_endpoint,
        variables.issuer: issuer,
    }
