"""Reading a credential reference: the value behind `{env: NAME}` or `{file: PATH}`.

Owns `read_reference`, the one reader every sink uses for its tokens and logins (and
`describe_reference`, how messages name a reference): an environment variable from the sink's
context (never `os.environ` directly), or a file (a relative path is under the manifests'
directory, `~` expanded), stripped. A missing, unreadable or empty value is a `SecretSinkError`
that says where it looked and how to fix it, never what it read. Must not cache or log values.
"""

from __future__ import annotations

from pathlib import Path

from mpctl.errors import SecretSinkError
from mpctl.model import SecretSource
from mpctl.secrets.protocol import SinkContext


def describe_reference(source: SecretSource) -> str:
    """Where a reference points, for messages: 'environment variable NAME' or 'file PATH'."""
    return f"environment variable {source.env}" if source.env else f"file {source.file}"


def read_reference(source: SecretSource, context: SinkContext, *, what: str, fix: str) -> str:
    """The value `source` points at; `what` names it in errors ("the vercel sink's token")
    and `fix` is the hint when it cannot be had."""
    if source.env is not None:
        value = context.environ.get(source.env, "").strip()
        where = f"environment variable {source.env}"
    else:
        path = Path(source.file or "").expanduser()
        path = path if path.is_absolute() else context.base_dir / path
        where = f"file {path}"
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretSinkError(
                f"{what}: cannot read {where}: {exc.strerror}", hint=fix
            ) from None
    if not value:
        raise SecretSinkError(f"{what}: {where} is empty or not set", hint=fix)
    return value
