"""Secret sinks and key material: where private keys are made, kept and labelled.

Public API of the package; the modules inside own the details. `SINKS` finds every sink, the
built-in ones too, through the entry point group `mpctl.sinks` (`mpctl.secrets.plugins`). May
import only `mpctl.model` and `mpctl.errors`.

Each name loads its module on first use (PEP 562 `__getattr__`), so a command that only
asks `SINKS` about a block does not import every sink, `cryptography` or `asyncio`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mpctl.secrets.atomic import write_private_file
    from mpctl.secrets.directories import (
        check_private_directory,
        check_private_file,
        ensure_private_directory,
    )
    from mpctl.secrets.dotenv import render_env_file, workload_variables
    from mpctl.secrets.file import FileSecretSink
    from mpctl.secrets.keygen import generate_unnamed
    from mpctl.secrets.keys import (
        ALGORITHMS,
        DEFAULT_KEY_SIZE,
        MAX_KEY_SIZE,
        MIN_KEY_SIZE,
        KeyMaterialError,
        PrivateKey,
        choose_kid,
        dated_kid,
        from_pem,
        from_private_jwk_base64,
        generate_key,
        jwks_document,
        name_for_policy,
        private_jwk,
        public_jwk,
        to_pem,
        to_private_jwk_base64,
    )
    from mpctl.secrets.protocol import (
        SINKS,
        BlockingSecretSink,
        KidReuseError,
        RotationInFlightError,
        SecretSink,
        SinkContext,
        SinkFactory,
        SinkPlugin,
        ThreadedSink,
        label_holding,
        open_sink,
        read_states,
    )
    from mpctl.secrets.references import env_references, unset_error, unset_references
    from mpctl.secrets.sdk_logs import quiet_loggers

_MODULE_OF = {
    "ALGORITHMS": "keys",
    "BlockingSecretSink": "protocol",
    "DEFAULT_KEY_SIZE": "keys",
    "FileSecretSink": "file",
    "KeyMaterialError": "keys",
    "KidReuseError": "protocol",
    "MAX_KEY_SIZE": "keys",
    "MIN_KEY_SIZE": "keys",
    "PrivateKey": "keys",
    "RotationInFlightError": "protocol",
    "SINKS": "protocol",
    "SecretSink": "protocol",
    "SinkContext": "protocol",
    "SinkFactory": "protocol",
    "SinkPlugin": "protocol",
    "ThreadedSink": "protocol",
    "check_private_directory": "directories",
    "check_private_file": "directories",
    "choose_kid": "keys",
    "dated_kid": "keys",
    "ensure_private_directory": "directories",
    "env_references": "references",
    "from_pem": "keys",
    "from_private_jwk_base64": "keys",
    "generate_key": "keys",
    "generate_unnamed": "keygen",
    "jwks_document": "keys",
    "label_holding": "protocol",
    "name_for_policy": "keys",
    "open_sink": "protocol",
    "private_jwk": "keys",
    "public_jwk": "keys",
    "quiet_loggers": "sdk_logs",
    "read_states": "protocol",
    "render_env_file": "dotenv",
    "to_pem": "keys",
    "to_private_jwk_base64": "keys",
    "unset_error": "references",
    "unset_references": "references",
    "workload_variables": "dotenv",
    "write_private_file": "atomic",
}
"""The module of `mpctl.secrets` that defines each public name."""


def __getattr__(name: str) -> object:
    """Import the module that defines `name` on first use and keep the value here."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "ALGORITHMS",
    "DEFAULT_KEY_SIZE",
    "MAX_KEY_SIZE",
    "MIN_KEY_SIZE",
    "SINKS",
    "BlockingSecretSink",
    "FileSecretSink",
    "KeyMaterialError",
    "KidReuseError",
    "PrivateKey",
    "RotationInFlightError",
    "SecretSink",
    "SinkContext",
    "SinkFactory",
    "SinkPlugin",
    "ThreadedSink",
    "check_private_directory",
    "check_private_file",
    "choose_kid",
    "dated_kid",
    "ensure_private_directory",
    "env_references",
    "from_pem",
    "from_private_jwk_base64",
    "generate_key",
    "generate_unnamed",
    "jwks_document",
    "label_holding",
    "name_for_policy",
    "open_sink",
    "private_jwk",
    "public_jwk",
    "quiet_loggers",
    "read_states",
    "render_env_file",
    "to_pem",
    "to_private_jwk_base64",
    "unset_error",
    "unset_references",
    "workload_variables",
    "write_private_file",
]
