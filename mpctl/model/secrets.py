"""Where secrets come from and where they go: references only, never secret values.

Owns `SecretSource` (a credential read from a file or an environment variable) and the secret
sink specs (where a client's private key is written for its workload). Must not read files or
environment variables itself: that is the job of the layers that use these references.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from mpctl.model.base import SpecModel

_INLINE_SECRET_HINT = (
    "secrets are never written inline: use {file: PATH} or {env: VARIABLE_NAME} instead"
)


def _refuse_inline(value: object) -> object:
    if isinstance(value, str):
        raise ValueError(_INLINE_SECRET_HINT)
    return value


class _SecretSourceFields(SpecModel):
    """Exactly one of `file` or `env`."""

    file: str | None = Field(default=None, description="Path to a file holding the value")
    env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of an environment variable holding the value",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> _SecretSourceFields:
        if (self.file is None) == (self.env is None):
            raise ValueError("give exactly one of 'file' or 'env'")
        return self


SecretSource = Annotated[_SecretSourceFields, BeforeValidator(_refuse_inline)]


class SinkVariables(SpecModel):
    """The variable names the workload reads (seed 002's names by default)."""

    client_id: str = "MASKINPORTEN_CLIENT_ID"
    kid: str = "MASKINPORTEN_KID"
    private_key: str = "MASKINPORTEN_PRIVATE_KEY"
    private_key_base64: str = "MASKINPORTEN_PRIVATE_KEY_BASE64"
    token_endpoint: str = "MASKINPORTEN_TOKEN_ENDPOINT"
    issuer: str = "MASKINPORTEN_ISSUER"
    mode: str = "MASKINPORTEN_MODE"


DotenvEncoding = Literal["pem", "base64", "jwk-base64"]
"""How the private key goes into `<client>.env`.

`pem` (default): `MASKINPORTEN_PRIVATE_KEY` as a double-quoted multi-line PEM, seed 002's
contract; loads with `set -a; . FILE` (bash, dash), python-dotenv, Node's dotenv and Docker
Compose's `env_file`. `base64`: `MASKINPORTEN_PRIVATE_KEY_BASE64`, the PKCS#8 PEM in standard
base64 on one line (padded, unwrapped, like `altinn-jwks export key --base64`), and every value
unquoted: safe for line-based loaders (`docker --env-file`, `kubectl create secret generic
--from-env-file`). `jwk-base64`: the same variable holding exactly what `altinn-jwks export key
--base64` prints (base64 of the private JWK; Altinn's .NET client, Azure Key Vault).
"""


class FileSink(SpecModel):
    """A local JSON secret file per client and environment (0600, atomic replace), plus `.env`."""

    type: Literal["file"] = "file"
    directory: str = Field(
        default=".mpctl/secrets/{env}",
        description="Directory (relative to mpctl.yaml) for '<client>.json' and '<client>.env'; "
        "{env} is substituted",
    )
    write_env_file: bool = True
    dotenv_encoding: DotenvEncoding = Field(
        default="pem",
        description="pem: MASKINPORTEN_PRIVATE_KEY as a multi-line PEM (set -a; . FILE, dotenv "
        "libraries, Compose env_file); base64: MASKINPORTEN_PRIVATE_KEY_BASE64, one line, for "
        "docker --env-file and kubectl --from-env-file; jwk-base64: the same variable in "
        "altinn-jwks' base64 private JWK form",
    )
    variables: SinkVariables = SinkVariables()

    @model_validator(mode="after")
    def _no_escape(self) -> FileSink:
        if ".." in PurePosixPath(self.directory).parts:
            raise ValueError(f"sink directory {self.directory!r} must not contain '..'")
        return self


SinkSpec = FileSink
"""One sink kind today; more kinds join as a union discriminated on `type`."""
