"""The Azure Key Vault sink: a client's keys as Key Vault secrets, labels in a companion secret.

Owns the layout in the vault and the label moves of the `BlockingSecretSink` protocol on it,
through azure-keyvault-secrets' `SecretClient` (REST API 7.5) with an azure-identity credential
(`DefaultAzureCredential` unless the caller gives one). Must not generate keys, decide when to
rotate, or delete anything.

Layout, for `secret_prefix` P (default `{client}-{env}`; Key Vault names are 1-127 of
`[0-9a-zA-Z-]`):

- `P-private-key`: the current key, base64 of the private JWK exactly as `altinn-jwks export key
  --base64` prints it (seed 001). This is what the workload reads; the JWK carries its own kid.
- `P-kid`, `P-client-id`: the workload's `MASKINPORTEN_KID` and `MASKINPORTEN_CLIENT_ID`.
  Key Vault has no multi-secret write: `P-kid` is written right after `P-private-key`, so for
  one write (or, after a crash there, until the next apply) it may still name the old kid. A
  workload should take the kid from the JWK itself, as altinn-jwks' readers do.
- `P-pending-key`: a staged key, same encoding, never read by the workload.
- `P-labels`: JSON with the labels (client id, and per label kid, thumbprint, algorithm, times,
  and the secret name *and version* holding the key). No key material. It is the record of
  truth: `read_state` is one GET of it.

Every write creates a new version; versions are immutable and mpctl never deletes one, so the
key material is always written *before* the labels that point at it, and a label always names
the exact version it means: a failed or interrupted write leaves the old labels, which still
point at intact versions. `previous` is simply the older version of `P-private-key`, so a
promote copies nothing. `forget_previous` and `discard_pending` only rewrite the labels (no
delete on the hot path: soft-delete and purge protection make deletes slow and sticky); the
material stays in the versions history, as in every Key Vault rotation, until an operator
purges it. Every key version carries `kid`/`thumbprint` tags (public), so `load_private_key`
finds a kid a reader saw a moment ago even after a concurrent rotation moved the labels on.
Each write is read back (the latest version must be the one just written; another writer in
between is an error, never silently overwritten).

Least privileges: the Azure RBAC role "Key Vault Secrets Officer" on the vault (or on the
secrets `P-*`) for mpctl; a workload that only reads needs "Key Vault Secrets User". With
access policies instead of RBAC: secret permissions get, list, set for mpctl; get for the
workload. Logging: the SDK's body logging is off (`logging_enable=False`); its HTTP log policy
logs URLs and allow-listed headers only; errors name the secret, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import ConfigDict, ValidationError

from mpctl.errors import SecretSinkError
from mpctl.model import AzureKeyVaultSink, KeySlot, SinkSpec, SinkState
from mpctl.secrets.keys import (
    KeyMaterialError,
    PrivateKey,
    from_private_jwk_base64,
    to_private_jwk_base64,
)
from mpctl.secrets.labels import Labels
from mpctl.secrets.protocol import (
    RotationInFlightError,
    SinkContext,
    SinkPlugin,
    label_holding,
)

try:
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
    )
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import KeyVaultSecret, SecretClient, SecretProperties
except ImportError:  # an optional extra: refused when a sink is opened, not when mpctl starts
    SDK_INSTALLED = False
else:
    SDK_INSTALLED = True

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

T = TypeVar("T")

API_VERSION = "7.5"  # the newest that azure-keyvault-secrets 4.8 (the extra's floor) knows
KEY_CONTENT_TYPE = "application/jwk+json; encoding=base64"
LABELS_CONTENT_TYPE = "application/vnd.mpctl.labels+json"
FORMAT_VERSION: Literal[1] = 1
_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_WRITER_HINT = (
    "give mpctl's identity the 'Key Vault Secrets Officer' role on the vault (Azure RBAC), or "
    "the access-policy secret permissions get, list and set"
)
_READER_HINT = (
    "give mpctl's identity at least the 'Key Vault Secrets User' role on the vault (Azure "
    "RBAC), or the access-policy secret permissions get and list"
)
_SDK_HINT = "the azure-key-vault sink needs azure-keyvault-secrets and azure-identity"


@dataclass(frozen=True)
class SecretNames:
    """The secrets of one client in the vault (see the module docstring)."""

    private_key: str
    kid: str
    client_id: str
    pending_key: str
    labels: str

    @classmethod
    def of(cls, prefix: str) -> SecretNames:
        names = cls(
            private_key=f"{prefix}-private-key",
            kid=f"{prefix}-kid",
            client_id=f"{prefix}-client-id",
            pending_key=f"{prefix}-pending-key",
            labels=f"{prefix}-labels",
        )
        for name in (names.private_key, names.pending_key, names.labels):
            if not _SECRET_NAME.match(name):
                raise SecretSinkError(
                    f"Key Vault secret name {name!r} (made from the sink's secret_prefix) is not "
                    "allowed: 1-127 letters, digits and '-'",
                    hint="set the sink's secret_prefix to a shorter template of letters, digits "
                    "and '-' (with {client} and {env})",
                )
        return names


class _Pointer(KeySlot):
    """One label: the public view of a key and the exact secret version that holds it."""

    model_config = ConfigDict(extra="forbid")

    secret: str
    version: str


class _Labels(Labels[_Pointer]):
    """The companion `P-labels` secret: which key is pending, current, previous. No key."""

    environment: str


class AzureKeyVaultSecretSink:
    """`BlockingSecretSink` over one Key Vault (see the module docstring for the layout)."""

    def __init__(
        self,
        spec: AzureKeyVaultSink,
        context: SinkContext,
        *,
        credential: TokenCredential | None = None,
        connection_verify: str | None = None,
        verify_challenge_resource: bool = True,
        retry_total: int = 3,
    ) -> None:
        self._spec = spec
        self._context = context
        self.vault_url = spec.vault_url.rstrip("/")
        self._client = _secret_client(
            self.vault_url,
            credential,
            connection_verify=connection_verify,
            verify_challenge_resource=verify_challenge_resource,
            retry_total=retry_total,
        )

    def __repr__(self) -> str:
        return f"AzureKeyVaultSecretSink(vault_url={self.vault_url!r})"

    def names(self, client: str) -> SecretNames:
        prefix = self._spec.secret_prefix.replace("{client}", client).replace(
            "{env}", self._context.environment
        )
        return SecretNames.of(prefix)

    # --- the protocol -------------------------------------------------------------------------

    def read_state(self, client: str) -> SinkState:
        labels = self._load(client)
        return labels.state() if labels else SinkState()

    def stage(self, client: str, key: PrivateKey) -> None:
        labels = self._load_or_new(client)
        if label_holding(labels.state(), key.kid, key.thumbprint):
            return
        if labels.pending is not None:
            raise RotationInFlightError(
                f"client {client!r} already has pending key {labels.pending.kid!r} in Key Vault "
                f"{self.vault_url}; refusing to stage {key.kid!r} (one rotation at a time)",
                hint="let the running rotation finish (mpctl apply), or discard it explicitly",
            )
        names = self.names(client)
        version = self._write_key(names.pending_key, key)
        labels.pending = _pointer(key, names.pending_key, version)
        self._save(client, labels)

    def promote(self, client: str, kid: str, now: datetime) -> None:
        labels = self._load_or_new(client)
        if labels.current is not None and labels.current.kid == kid:
            return
        key = self._read_key(labels.promotable(kid))
        names = self.names(client)
        version = self._write_key(names.private_key, key)
        self._write(names.kid, kid, tags=_variable_tag(self._spec.variables.kid))
        labels.previous = labels.current
        labels.current = _pointer(key, names.private_key, version, promoted_at=now)
        labels.pending = None
        self._save(client, labels)

    def discard_pending(self, client: str, kid: str) -> None:
        labels = self._load(client)
        if labels is not None and labels.discard_pending(kid):
            self._save(client, labels)

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        labels = self._load(client)
        if labels is not None and labels.forget_previous(kid):
            self._save(client, labels)

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        labels = self._load(client)
        for pointer in labels.slots() if labels else ():
            if pointer.kid == kid:
                return self._read_key(pointer)
        found = self._find_in_history(client, kid)
        if found is None:
            raise SecretSinkError(
                f"no key with kid {kid!r} is stored for client {client!r} in Key Vault "
                f"{self.vault_url}"
            )
        return found

    def set_client_id(self, client: str, client_id: str) -> None:
        labels = self._load_or_new(client)
        if labels.client_id == client_id:
            return
        names = self.names(client)
        self._write(names.client_id, client_id, tags=_variable_tag(self._spec.variables.client_id))
        labels.client_id = client_id
        self._save(client, labels)

    # --- labels -------------------------------------------------------------------------------

    def _load_or_new(self, client: str) -> _Labels:
        return self._load(client) or _Labels(client=client, environment=self._context.environment)

    def _load(self, client: str) -> _Labels | None:
        name = self.names(client).labels
        secret = self._get(name)
        if secret is None:
            return None
        labels = _parse_labels(self.vault_url, name, secret.value or "")
        if (labels.client, labels.environment) != (client, self._context.environment):
            raise SecretSinkError(
                f"secret {name!r} in Key Vault {self.vault_url} holds the labels of client "
                f"{labels.client!r} in environment {labels.environment!r}, not {client!r} in "
                f"{self._context.environment!r}",
                hint="give each environment's sink a secret_prefix with {client} and {env}",
            )
        return labels

    def _save(self, client: str, labels: _Labels) -> None:
        text = labels.model_dump_json()
        self._write(self.names(client).labels, text, content_type=LABELS_CONTENT_TYPE)

    # --- keys ---------------------------------------------------------------------------------

    def _write_key(self, name: str, key: PrivateKey) -> str:
        tags = {
            "kid": key.kid,
            "thumbprint": key.thumbprint,
            "alg": key.algorithm,
            "created": key.created_at.isoformat(),
            **_variable_tag(self._spec.variables.private_key_base64),
        }
        return self._write(
            name, to_private_jwk_base64(key), tags=tags, content_type=KEY_CONTENT_TYPE
        )

    def _read_key(self, pointer: _Pointer) -> PrivateKey:
        secret = self._get(pointer.secret, pointer.version)
        if secret is None:
            raise SecretSinkError(
                f"secret {pointer.secret!r} version {pointer.version} in Key Vault "
                f"{self.vault_url} is gone, but the labels point at it (key {pointer.kid!r})",
                hint="recover the deleted secret (az keyvault secret recover); if it was purged, "
                "the key is lost: run `mpctl plan` to stage a new one",
            )
        labelled = {"kid": pointer.kid, "thumbprint": pointer.thumbprint}
        return self._parse_key(pointer.secret, secret.value or "", labelled, pointer.created_at)

    def _parse_key(
        self, name: str, value: str, labelled: dict[str, str], created_at: datetime
    ) -> PrivateKey:
        """The key in `value`, checked against the kid and thumbprint it is labelled with."""
        problem = None
        try:
            key = from_private_jwk_base64(value, created_at=created_at)
        except KeyMaterialError as exc:
            problem = exc.message
        if problem is not None:
            raise _unreadable(self.vault_url, name, problem)
        kid = labelled.get("kid")
        if key.kid != kid or key.thumbprint != labelled.get("thumbprint"):
            raise _unreadable(self.vault_url, name, f"it does not hold key {kid!r} as labelled")
        return key

    def _find_in_history(self, client: str, kid: str) -> PrivateKey | None:
        """A key whose label moved on since the caller read it: versions are immutable, and
        each key version is tagged with its kid and thumbprint."""
        names = self.names(client)
        for name in (names.private_key, names.pending_key):
            for properties in self._versions(name):
                tags = properties.tags or {}
                if tags.get("kid") != kid or not properties.enabled or not properties.version:
                    continue
                secret = self._get(name, properties.version)
                if secret is not None:
                    created = _created(tags) or properties.created_on or datetime.now(UTC)
                    return self._parse_key(name, secret.value or "", tags, created)
        return None

    # --- the SDK ------------------------------------------------------------------------------

    def _write(
        self,
        name: str,
        value: str,
        *,
        tags: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> str:
        """Set a new version of `name` and read it back; the new version's id."""
        written = self._call(
            f"set secret {name!r}",
            lambda: self._client.set_secret(name, value, tags=tags, content_type=content_type),
            writing=True,
        )
        version = written.properties.version
        latest = self._get(name)
        if version is None or latest is None or latest.properties.version != version:
            raise SecretSinkError(
                f"secret {name!r} in Key Vault {self.vault_url} did not read back as written "
                "(another writer at the same time?); nothing was assumed",
                hint="make sure one apply at a time writes to this vault, then run it again",
            )
        if latest.value != value:
            raise SecretSinkError(
                f"secret {name!r} in Key Vault {self.vault_url} read back a different value"
            )
        return version

    def _get(self, name: str, version: str | None = None) -> KeyVaultSecret | None:
        """The latest (or the given) version of `name`; None if the vault has no such secret."""
        return self._call(
            f"get secret {name!r}", lambda: _get_or_none(self._client, name, version), writing=False
        )

    def _versions(self, name: str) -> list[SecretProperties]:
        return self._call(
            f"list the versions of secret {name!r}",
            lambda: list(self._client.list_properties_of_secret_versions(name)),
            writing=False,
        )

    def _call(self, action: str, call: Callable[[], T], *, writing: bool) -> T:
        """Run an SDK call; its failure becomes a SecretSinkError without the SDK's exception
        attached (it holds the request, and so maybe a value)."""
        failure = None
        try:
            return call()
        except (AzureError, ValueError) as exc:  # ValueError: the SDK's challenge checks
            failure = _describe(exc)
        message, hint = failure
        raise SecretSinkError(
            f"Key Vault {self.vault_url}: could not {action}: {message}",
            hint=hint or (_WRITER_HINT if writing else _READER_HINT),
        )


def _get_or_none(client: SecretClient, name: str, version: str | None) -> KeyVaultSecret | None:
    try:
        return client.get_secret(name, version)
    except ResourceNotFoundError:
        return None


def _pointer(
    key: PrivateKey, secret: str, version: str, *, promoted_at: datetime | None = None
) -> _Pointer:
    return _Pointer(
        **key.slot(promoted_at=promoted_at).model_dump(), secret=secret, version=version
    )


def _created(tags: dict[str, str]) -> datetime | None:
    try:
        return datetime.fromisoformat(tags.get("created", ""))
    except ValueError:
        return None


def _variable_tag(variable: str) -> dict[str, str]:
    """The environment variable a secret is meant for (for CSI drivers and humans)."""
    return {"variable": variable}


def _parse_labels(vault_url: str, name: str, text: str) -> _Labels:
    problem = None
    try:
        return _Labels.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        problem = f"{where}: {first['msg']}"
    raise _unreadable(vault_url, name, problem)


def _unreadable(vault_url: str, name: str, detail: str) -> SecretSinkError:
    return SecretSinkError(
        f"secret {name!r} in Key Vault {vault_url} is unreadable: {detail}; it was not treated "
        "as empty",
        hint="restore an earlier version of the secret (az keyvault secret set-attributes / "
        "the portal's versions list), or move the client's secrets aside and run `mpctl plan`",
    )


def _describe(exc: AzureError | ValueError) -> tuple[str, str | None]:
    """What went wrong, from an SDK exception, without any request or response body."""
    if isinstance(exc, ClientAuthenticationError) and exc.status_code is None:
        return (
            f"no Azure credential ({_first_line(exc.message)})",
            "sign in with `az login`, or set up workload identity (AZURE_CLIENT_ID, "
            "AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE) or a managed identity",
        )
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        code = exc.error.code if exc.error is not None and exc.error.code else exc.reason
        text = exc.error.message if exc.error is not None and exc.error.message else ""
        detail = f"HTTP {exc.status_code} {code}" + (f": {_first_line(text)}" if text else "")
        if exc.status_code == 401:
            return detail, "the vault refused the token: check the tenant of the credential"
        return detail, None
    if isinstance(exc, ServiceRequestError):
        return (
            f"cannot reach the vault ({type(exc).__name__})",
            "check vault_url, DNS and the vault's network rules (firewall, private endpoint)",
        )
    if isinstance(exc, ValueError):
        return _first_line(str(exc)), "check the sink's vault_url (https://<name>.vault.azure.net/)"
    return type(exc).__name__, None


def _first_line(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    relevant = [line for line in lines if line.startswith(("Action:", "Caller:"))]
    shown = "; ".join(lines[:1] + relevant)
    return shown[:limit]


def _secret_client(
    vault_url: str,
    credential: TokenCredential | None,
    *,
    connection_verify: str | None,
    verify_challenge_resource: bool,
    retry_total: int,
) -> SecretClient:
    """The SDK client, or a clear error when the SDK is not installed."""
    if not SDK_INSTALLED:
        raise SecretSinkError(_SDK_HINT, hint="pip install 'mpctl[azure]'")
    options: dict[str, Any] = {
        "api_version": API_VERSION,
        "logging_enable": False,
        "verify_challenge_resource": verify_challenge_resource,
        "retry_total": retry_total,
    }
    if connection_verify is not None:
        options["connection_verify"] = connection_verify
    return SecretClient(vault_url, credential or DefaultAzureCredential(), **options)


def open_azure_key_vault_sink(spec: SinkSpec, context: SinkContext) -> AzureKeyVaultSecretSink:
    """Registry factory for sinks of type `azure-key-vault` (DefaultAzureCredential)."""
    if not isinstance(spec, AzureKeyVaultSink):
        raise SecretSinkError(f"an Azure Key Vault sink cannot be built from a {spec.type!r} spec")
    return AzureKeyVaultSecretSink(spec, context)


PLUGIN = SinkPlugin(
    type="azure-key-vault", spec=AzureKeyVaultSink, open=open_azure_key_vault_sink, durable=True
)
"""The entry point `azure-key-vault = "mpctl.secrets.azure:PLUGIN"` (pyproject.toml)."""
