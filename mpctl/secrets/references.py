"""Reading a credential reference: the value behind `{env: NAME}` or `{file: PATH}`.

Owns `read_reference`, the one reader every sink uses for its tokens and logins (and
`describe_reference`, how messages name a reference): an environment variable from the sink's
context (never `os.environ` directly), or a file (a relative path is under the manifests'
directory, `~` expanded), stripped. A missing, unreadable or empty value is a `SecretSinkError`
that says where it looked and how to fix it, never what it read. `env_references` finds every
`{env: NAME}` reference in a spec and `unset_references` keeps those whose variable is unset,
so one error can name them all before any is read. Must not cache or log values.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel

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


_SOURCE_TYPE: type[BaseModel] = typing.get_args(SecretSource)[0]


def env_references(value: object, where: str) -> Iterator[tuple[str, str]]:
    """Every `{env: NAME}` reference inside `value` (a spec model, or lists, tuples and
    mappings of them) as (dotted field path under `where`, variable name), in field order."""
    if isinstance(value, _SOURCE_TYPE):
        variable = getattr(value, "env", None)
        if variable is not None:
            yield where, variable
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from env_references(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from env_references(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from env_references(item, f"{where}[{index}]")


def unset_references(
    references: Iterator[tuple[str, str]] | list[tuple[str, str]], environ: Mapping[str, str]
) -> dict[str, str]:
    """The references whose variable is unset or blank: field path to variable name, each
    path once, sorted by path."""
    return dict(
        sorted(
            (where, variable)
            for where, variable in references
            if not environ.get(variable, "").strip()
        )
    )


def unset_error(what: str, unset: Mapping[str, str]) -> SecretSinkError:
    """One error naming every unset variable of `what` with the field it is for."""
    listed = "; ".join(f"{variable} is not set ({where})" for where, variable in unset.items())
    return SecretSinkError(
        f"{what}: {listed}",
        hint="set them all (in CI: as the job's secrets), or use {file: PATH} references",
    )
