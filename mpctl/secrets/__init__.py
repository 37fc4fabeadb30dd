"""Secret sinks and key material: where private keys are made, kept and labelled.

Public API of the package; the modules inside own the details. `SINKS` finds every sink, the
built-in ones too, through the entry point group `mpctl.sinks` (`mpctl.secrets.plugins`). May
import only `mpctl.model` and `mpctl.errors`.
"""

from mpctl.secrets.atomic import write_private_file
from mpctl.secrets.directories import (
    check_private_directory,
    check_private_file,
    ensure_private_directory,
)
from mpctl.secrets.dotenv import render_env_file, workload_variables
from mpctl.secrets.file import FileSecretSink
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
    new_key_for,
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
)
from mpctl.secrets.references import env_references, unset_error, unset_references
from mpctl.secrets.sdk_logs import quiet_loggers

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
    "jwks_document",
    "label_holding",
    "new_key_for",
    "open_sink",
    "private_jwk",
    "public_jwk",
    "quiet_loggers",
    "render_env_file",
    "to_pem",
    "to_private_jwk_base64",
    "unset_error",
    "unset_references",
    "workload_variables",
    "write_private_file",
]
