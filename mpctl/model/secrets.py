"""Where secrets come from and where they go: references only, never secret values.

Owns `SecretSource` (a credential read from a file or an environment variable) and the secret
sink specs (where a client's private key is written for its workload): the built-in ones, and
`PluginSink`, a plug-in's block kept as written for the secrets layer to check. Must not read
files or environment variables itself (that is the job of the layers that use these
references), nor look up installed plug-ins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    field_validator,
    model_validator,
)

from mpctl.model.base import SpecModel
from mpctl.model.loopback import is_loopback_url

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
    """A local JSON secret file per client and environment (0600, atomic replace), plus `.env`.

    Not durable where the machine is thrown away (a CI runner): it refuses to run when `CI` or
    `GITHUB_ACTIONS` is set, unless `ephemeral_ok: true` says that is intended.
    """

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
    ephemeral_ok: bool = Field(
        default=False,
        description="Allow this sink on a CI runner (CI or GITHUB_ACTIONS set), where its files "
        "are lost after the job: only for throwaway environments",
    )

    @model_validator(mode="after")
    def _no_escape(self) -> FileSink:
        if ".." in PurePosixPath(self.directory).parts:
            raise ValueError(f"sink directory {self.directory!r} must not contain '..'")
        return self


def loopback_endpoint(url: str | None, *, vpc_variable: str) -> str | None:
    """`url` when it is None or a loopback address (a local test server); otherwise refused:
    a manifest must not send signed AWS requests (or keys) to a host it chooses."""
    if url is not None and not is_loopback_url(url):
        raise ValueError(
            f"endpoint_url {url!r} is not a loopback address: use http://127.0.0.1:PORT for a "
            f"local test server, and {vpc_variable} (not the manifests) for a VPC endpoint"
        )
    return url


_NAME_TEMPLATE = "Template with {env} and {client} (the client's name in the manifests)"


class AwsSecretsManagerSink(SpecModel):
    """AWS Secrets Manager: one secret per client, rotation labels as its own staging labels
    (AWSPENDING / AWSCURRENT / AWSPREVIOUS). Credentials come from boto3's usual chain
    (environment, web identity in CI, profile, instance role): never from the manifests."""

    type: Literal["aws-secrets-manager"]
    secret_name: str = Field(default="mpctl/{env}/{client}", description=_NAME_TEMPLATE)
    region: str | None = Field(
        default=None, description="AWS region; default: boto3's (AWS_REGION, profile)"
    )
    profile: str | None = Field(default=None, description="A named profile of ~/.aws/config")
    kms_key_id: str | None = Field(
        default=None, description="KMS key for new secrets; default: aws/secretsmanager"
    )
    endpoint_url: str | None = Field(
        default=None,
        description="A loopback endpoint (http://127.0.0.1:PORT) for testing; real AWS "
        "otherwise (set AWS_ENDPOINT_URL_SECRETS_MANAGER for a VPC endpoint)",
    )
    variables: SinkVariables = SinkVariables()

    @field_validator("secret_name")
    @classmethod
    def _one_secret_per_client(cls, name: str) -> str:
        if "{client}" not in name:
            raise ValueError(
                f"secret_name {name!r} has no {{client}}: every client needs its own secret "
                "(the default is mpctl/{env}/{client})"
            )
        if not re.fullmatch(r"[A-Za-z0-9/_+=.@{}-]{1,400}", name):
            raise ValueError(
                f"secret_name {name!r} may hold only letters, digits and / _ + = . @ - "
                "(Secrets Manager's name characters) besides {env} and {client}"
            )
        return name

    @field_validator("endpoint_url")
    @classmethod
    def _loopback_only(cls, url: str | None) -> str | None:
        """A manifest must not send private keys and signed AWS requests to another host."""
        return loopback_endpoint(url, vpc_variable="AWS_ENDPOINT_URL_SECRETS_MANAGER")


class AzureKeyVaultSink(SpecModel):
    """Azure Key Vault secrets (seed 001): the private key base64-encoded as `altinn-jwks
    export key --base64` writes it, labels in companion secrets without key material.
    Credentials come from azure-identity's DefaultAzureCredential (environment, workload
    identity, managed identity, Azure CLI)."""

    type: Literal["azure-key-vault"]
    vault_url: str = Field(
        description="https://<vault-name>.vault.azure.net/ (the vault's DNS name; https only)",
    )
    secret_prefix: str = Field(
        default="{client}-{env}",
        description=_NAME_TEMPLATE + "; secrets '<prefix>-private-key' (base64 JWK, as "
        "altinn-jwks export key --base64), '-kid', '-client-id', '-pending-key' and '-labels' "
        "are written; Key Vault names allow letters, digits and '-' (at most 127)",
    )
    variables: SinkVariables = SinkVariables()

    @model_validator(mode="after")
    def _https_vault(self) -> AzureKeyVaultSink:
        """The vault is an https origin: the SDK refuses anything else."""
        host = self.vault_url.removeprefix("https://").rstrip("/")
        if (
            not self.vault_url.startswith("https://")
            or not host
            or not all(ch.isascii() and (ch.isalnum() or ch in ".-:") for ch in host)
        ):
            raise ValueError(
                f"vault_url {self.vault_url!r} is not a vault's https address: use the vault's "
                "'Vault URI' from the portal, e.g. https://acme-test.vault.azure.net/"
            )
        return self

    @model_validator(mode="after")
    def _key_vault_names(self) -> AzureKeyVaultSink:
        """Key Vault secret names are 1-127 of letters, digits and '-' (checked again, with the
        client's name, when the sink is opened)."""
        sample = self.secret_prefix.replace("{client}", "c").replace("{env}", "e")
        if (
            not sample
            or len(sample) > 100
            or not all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in sample)
        ):
            raise ValueError(
                f"secret_prefix {self.secret_prefix!r} cannot name Key Vault secrets: use "
                "letters, digits, '-' and the placeholders {client} and {env} (at most 100 "
                "characters), e.g. '{client}-{env}'"
            )
        return self


class GitHubEnvironmentSink(SpecModel):
    """GitHub Actions environment secrets of one repository environment: values are sealed
    with the environment's public key (libsodium sealed box); the kid and labels go in
    environment variables, since secrets cannot be read back.

    Per client: the secret `{prefix}MASKINPORTEN_PRIVATE_KEY` (the current key, for the
    workload), `{prefix}MPCTL_PENDING_PRIVATE_KEY` and `{prefix}MPCTL_PREVIOUS_PRIVATE_KEY`
    (the other labels' keys, PEM), and the variables `{prefix}MASKINPORTEN_CLIENT_ID`,
    `{prefix}MASKINPORTEN_KID`, ... and `{prefix}MPCTL_KEY_LABELS` (kids, thumbprints and times;
    no key material)."""

    type: Literal["github-environment"]
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="owner/name")
    environment: str = Field(
        min_length=1, max_length=255, description="The GitHub environment, e.g. 'production'"
    )
    token: SecretSource = Field(
        description="A token that may write the environment's secrets and variables "
        "(fine-grained: Environments and Secrets read/write), e.g. {env: MPCTL_GITHUB_TOKEN}"
    )
    api_url: str = Field(
        default="https://api.github.com",
        description="GitHub's REST API; a loopback URL (http://127.0.0.1:PORT) for testing only",
    )
    name_prefix: str = Field(
        default="{client}_",
        description="Put before every secret and variable name this sink writes for a client; "
        "{client} is the client's manifest name upper-cased with '-' as '_' (BILLING_API_). "
        "Set '' only when the environment holds a single client: the workload then maps "
        "MASKINPORTEN_* under their own names",
    )
    key_encoding: DotenvEncoding = Field(
        default="pem",
        description="pem: the current key in variables.private_key as PKCS#8 PEM; base64: in "
        "variables.private_key_base64 as base64 of the PEM; jwk-base64: the same secret in "
        "altinn-jwks' base64 private JWK form",
    )
    variables: SinkVariables = SinkVariables()

    @model_validator(mode="after")
    def _checked_names_and_url(self) -> GitHubEnvironmentSink:
        if self.api_url.rstrip("/") != "https://api.github.com" and not is_loopback_url(
            self.api_url
        ):
            raise ValueError(
                f"api_url {self.api_url!r} is neither https://api.github.com nor a loopback URL "
                "(http://127.0.0.1:PORT, for tests): the token is only ever sent to GitHub"
            )
        sample = self.name_prefix.replace("{client}", "C") + "MASKINPORTEN_KID"
        if not _GITHUB_NAME.match(sample) or sample.upper().startswith("GITHUB_"):
            raise ValueError(
                f"name_prefix {self.name_prefix!r} gives names such as {sample!r}, which GitHub "
                "refuses: secret and variable names are letters, digits and '_', start with a "
                "letter or '_' and never with GITHUB_"
            )
        return self


_VAULT_PATH_SEGMENT = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"
_GITHUB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class VercelSink(SpecModel):
    """Vercel project environment variables (seed 002's runbook: update MASKINPORTEN_KID and
    MASKINPORTEN_PRIVATE_KEY, then redeploy), stored as encrypted variables per target."""

    type: Literal["vercel"]
    project: str = Field(description="The project's id or name")
    team_id: str | None = Field(default=None, description="The team that owns the project")
    token: SecretSource = Field(
        description="A Vercel access token scoped to the team, e.g. {env: MPCTL_VERCEL_TOKEN}"
    )
    targets: tuple[Literal["production", "preview", "development"], ...] = Field(
        default=("production",), min_length=1, description="Deployment targets to write"
    )
    redeploy: bool = Field(
        default=False,
        description="Redeploy the latest production deployment after a new key is promoted",
    )
    api_url: str = Field(
        default="https://api.vercel.com",
        description="Vercel's REST API: https://api.vercel.com, or a loopback URL "
        "(http://127.0.0.1:PORT) for testing only",
    )
    private_key_encoding: DotenvEncoding = Field(
        default="pem",
        description="pem: MASKINPORTEN_PRIVATE_KEY as a PEM (seed 002); base64: "
        "MASKINPORTEN_PRIVATE_KEY_BASE64, the PEM in base64 on one line; jwk-base64: the same "
        "variable in altinn-jwks' base64 private JWK form",
    )
    variables: SinkVariables = SinkVariables()

    @field_validator("api_url")
    @classmethod
    def _pinned_api(cls, url: str) -> str:
        if not _is_vercel_api(url):
            raise ValueError(
                f"api_url {url!r} is not Vercel's API: the token would be sent there; "
                f"use {_VERCEL_API} (the default), or a loopback URL such as "
                "http://127.0.0.1:8080 for a local test server"
            )
        return url


_VERCEL_API = "https://api.vercel.com"


def _is_vercel_api(url: str) -> bool:
    """Vercel's own API host, or a loopback host (with any port) for a local test server."""
    return url.rstrip("/") == _VERCEL_API or is_loopback_url(url)


class VaultTokenAuth(SpecModel):
    """A Vault token read from a reference (for a laptop or a CI secret)."""

    method: Literal["token"]
    token: SecretSource = Field(description="e.g. {env: VAULT_TOKEN}")


class VaultAppRoleAuth(SpecModel):
    """AppRole login: a role_id and a secret_id, both read from references."""

    method: Literal["approle"]
    role_id: SecretSource = Field(description="e.g. {env: MPCTL_VAULT_ROLE_ID}")
    secret_id: SecretSource = Field(description="e.g. {env: MPCTL_VAULT_SECRET_ID}")
    mount: str = Field(default="approle", pattern=_VAULT_PATH_SEGMENT)


class VaultKubernetesAuth(SpecModel):
    """Kubernetes login: the pod's service-account token, exchanged for a Vault token."""

    method: Literal["kubernetes"]
    role: str = Field(min_length=1, description="The Vault role bound to the service account")
    jwt_path: str = Field(
        default="/var/run/secrets/kubernetes.io/serviceaccount/token",
        description="Where the service-account token is mounted",
    )
    mount: str = Field(default="kubernetes", pattern=_VAULT_PATH_SEGMENT)


VaultAuth = Annotated[
    VaultTokenAuth | VaultAppRoleAuth | VaultKubernetesAuth, Field(discriminator="method")
]


class VaultKvSink(SpecModel):
    """HashiCorp Vault's KV version 2 engine: one secret per client, every key a version written
    with check-and-set (`cas`), the rotation labels in the secret's `custom_metadata`."""

    type: Literal["vault-kv"]
    address: str = Field(
        description="Vault's address, https://vault.example.org:8200 (http only on loopback)"
    )
    mount: str = Field(
        default="secret", pattern=_VAULT_PATH_SEGMENT, description="The KV v2 mount point"
    )
    path: str = Field(
        default="mpctl/{env}/{client}",
        description=_NAME_TEMPLATE + "; the secret's path inside the mount",
    )
    namespace: str | None = Field(default=None, description="Vault Enterprise namespace")
    auth: VaultAuth
    ca_cert: str | None = Field(
        default=None, description="A CA bundle (PEM file) to trust for Vault's certificate"
    )
    variables: SinkVariables = SinkVariables()

    @model_validator(mode="after")
    def _checked_address_and_path(self) -> VaultKvSink:
        if not (self.address.startswith("https://") or is_loopback_url(self.address)):
            raise ValueError(
                f"address {self.address!r} is not https: tokens and private keys would travel "
                "in clear; use https://, or http://127.0.0.1:PORT for a local dev server"
            )
        if "{client}" not in self.path:
            raise ValueError(
                f"path {self.path!r} has no {{client}}: every client needs its own secret "
                "(the default is mpctl/{env}/{client})"
            )
        if ".." in self.path.split("/") or self.path.startswith("/"):
            raise ValueError(f"path {self.path!r} must be relative and must not contain '..'")
        return self


class KubernetesSecretSink(SpecModel):
    """A Kubernetes Secret per client (type Opaque), written with `resourceVersion` so a racing
    writer is detected; the rotation labels as annotations. Environment variables read from a
    Secret change only when the pod restarts: `restart` names Deployments to roll after a new
    key is promoted."""

    type: Literal["kubernetes-secret"]
    namespace: str = Field(pattern=_DNS_LABEL, description="The namespace the workload runs in")
    name: str = Field(
        default="maskinporten-{client}",
        description=_NAME_TEMPLATE + "; must give a DNS subdomain name (lower case, digits, '-')",
    )
    context: str | None = Field(
        default=None,
        description="A kubeconfig context; default: in-cluster credentials when running in a "
        "pod, otherwise the kubeconfig's current context",
    )
    restart: tuple[str, ...] = Field(
        default=(),
        description="Deployments (in `namespace`) to restart after a new key is promoted, as "
        "`kubectl rollout restart` does; {client} is filled in",
    )
    variables: SinkVariables = SinkVariables()

    @field_validator("name")
    @classmethod
    def _dns_subdomain(cls, name: str) -> str:
        sample = name.replace("{client}", "c").replace("{env}", "e")
        if "{client}" not in name or not re.fullmatch(_DNS_SUBDOMAIN, sample):
            raise ValueError(
                f"name {name!r} must contain {{client}} and give a DNS subdomain name "
                "(lower-case letters, digits, '-' and '.'), e.g. maskinporten-{client}"
            )
        return name


def _file_by_default(value: object) -> object:
    """A sink block without `type` is the file sink (as before there were other kinds)."""
    if isinstance(value, dict) and "type" not in value:
        return {**value, "type": "file"}
    return value


BUILTIN_SINK_SPECS: Mapping[str, type[SpecModel]] = {
    "file": FileSink,
    "aws-secrets-manager": AwsSecretsManagerSink,
    "azure-key-vault": AzureKeyVaultSink,
    "github-environment": GitHubEnvironmentSink,
    "vercel": VercelSink,
    "vault-kv": VaultKvSink,
    "kubernetes-secret": KubernetesSecretSink,
}
"""The sink blocks mpctl itself knows, by `type`: validated strictly here (unknown fields are
refused)."""

PLUGIN_SINK_TYPE = re.compile(r"^[a-z][a-z0-9-]*$")
"""What a plug-in's `type` looks like: lower-case letters, digits and '-', a letter first."""


def _plugin_type_schema(schema: dict[str, JsonValue]) -> None:
    """In the JSON Schema too, a plug-in's type is a name that no built-in sink has."""
    builtin: list[JsonValue] = [*sorted(BUILTIN_SINK_SPECS)]
    schema["pattern"] = PLUGIN_SINK_TYPE.pattern
    schema["not"] = {"enum": builtin}


class PluginSink(SpecModel):
    """A sink block of a type no built-in sink has: a plug-in's (entry point group `mpctl.sinks`).

    Kept as written, every field (`extra="allow"`): the model cannot know the plug-in, so the
    secrets layer checks the block with the plug-in's own model, in `mpctl validate` and before
    a sink is opened.
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="A plug-in's sink type (a package that declares it in the entry point group "
        "mpctl.sinks); the block's other fields are the plug-in's",
        json_schema_extra=_plugin_type_schema,
    )

    @field_validator("type")
    @classmethod
    def _plugin_type_name(cls, name: str) -> str:
        if name in BUILTIN_SINK_SPECS or not PLUGIN_SINK_TYPE.match(name):
            raise ValueError(
                f"sink type {name!r} is neither a built-in sink ({', '.join(BUILTIN_SINK_SPECS)}) "
                "nor a plug-in's type (lower-case letters, digits and '-', a letter first)"
            )
        return name


def _sink_kind(value: object) -> str:
    """The union member for a sink block: its built-in `type`, else the plug-in fallback."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in BUILTIN_SINK_SPECS else "plugin"


SinkSpec = Annotated[
    Annotated[FileSink, Tag("file")]
    | Annotated[AwsSecretsManagerSink, Tag("aws-secrets-manager")]
    | Annotated[AzureKeyVaultSink, Tag("azure-key-vault")]
    | Annotated[GitHubEnvironmentSink, Tag("github-environment")]
    | Annotated[VercelSink, Tag("vercel")]
    | Annotated[VaultKvSink, Tag("vault-kv")]
    | Annotated[KubernetesSecretSink, Tag("kubernetes-secret")]
    | Annotated[PluginSink, Tag("plugin")],
    Discriminator(_sink_kind),
    BeforeValidator(_file_by_default),
]
"""Where a client's private key is written for its workload; which store is told by `type`.
A `type` that is not built in is a plug-in's (`PluginSink`), checked by the secrets layer."""

DURABLE_SINK_TYPES = (
    "aws-secrets-manager",
    "azure-key-vault",
    "github-environment",
    "kubernetes-secret",
    "vault-kv",
    "vercel",
)
"""The built-in sinks whose store outlives the machine mpctl runs on; a plug-in says so itself
(`SinkPlugin.durable`)."""
