"""The GitHub Actions environment sink: keys in environment secrets, labels in variables.

Owns the layout of one client in one GitHub environment and the order of its writes, over
GitHub's REST API (httpx.Client; PyNaCl seals values with the environment's public key):

    secret   {P}MASKINPORTEN_PRIVATE_KEY        the current key, for the workload (key_encoding)
    secret   {P}MPCTL_PENDING_PRIVATE_KEY       the pending key (PEM), while a rotation runs
    secret   {P}MPCTL_PREVIOUS_PRIVATE_KEY      the previous key (PEM), during its grace
    variable {P}MPCTL_KEY_LABELS                the labels: kids, thumbprints, times, client_id
    variable {P}MASKINPORTEN_CLIENT_ID, _KID, _TOKEN_ENDPOINT, _ISSUER, _MODE   for the workload

`{P}` is the spec's `name_prefix` (`{client}_` by default: BILLING_API_ for client billing-api),
so many clients share one environment. The labels variable is the record of truth and is
written last; key material is always written before the label that points at it and removed
only after the label moved away, so a reader that finds a label always finds its key in one of
the three secrets (matched by thumbprint) and a crash at any write leaves the previous current
intact; the next run repeats what is missing. Promote writes: previous secret := old current,
current secret := new key, `_KID` (and the other workload variables) := new, labels, then
deletes the pending secret. Between the current secret and `_KID` (two requests) a job that
starts reads a new key under the old kid: it runs again. The labels variable is read back after
every write; secrets cannot be read back.

Secrets are write-only in GitHub's API, so `load_private_key` (apply's token test, verify, and
promote, which must copy keys between slots) finds a key (1) in memory when this process staged
it, or (2) in the process environment, where a job that runs in the GitHub environment maps the
secrets, e.g.

    jobs:
      apply:
        environment: production
        env:
          MPCTL_GITHUB_SECRETS: ${{ toJSON(secrets) }}   # or one line per secret:
          # BILLING_MASKINPORTEN_PRIVATE_KEY: ${{ secrets.BILLING_MASKINPORTEN_PRIVATE_KEY }}
          # BILLING_MPCTL_PENDING_PRIVATE_KEY: ${{ secrets.BILLING_MPCTL_PENDING_PRIVATE_KEY }}
          # BILLING_MPCTL_PREVIOUS_PRIVATE_KEY: ${{ secrets.BILLING_MPCTL_PREVIOUS_PRIVATE_KEY }}

So a rotation staged by one runner and interrupted is finished by the next runner in that
environment: it receives the pending secret in its environment. Anywhere else the call fails
with a `SecretSinkError` that says where to run. A job sees the secrets as they were when it
started.

Least privilege: a fine-grained token on the one repository with "Environments: read and
write" and "Secrets: read and write" (classic tokens: `repo`); a GitHub App installation token
with the same permissions. Must not generate keys or decide when to rotate; it does no locking
(apply holds the environment lock). Values never reach a log line, an error or a repr: only
names, statuses and GitHub's own error message are shown.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from mpctl.errors import SecretSinkError
from mpctl.model import GitHubEnvironmentSink, KeySlot, SinkSpec, SinkState
from mpctl.secrets.dotenv import encoded_private_key
from mpctl.secrets.keys import (
    KeyMaterialError,
    PrivateKey,
    from_pem,
    from_private_jwk_base64,
    to_pem,
)
from mpctl.secrets.labels import Labels
from mpctl.secrets.protocol import (
    RotationInFlightError,
    SinkContext,
    SinkPlugin,
    label_holding,
)
from mpctl.secrets.references import read_reference

STORE = "GitHub environment"
_GITHUB_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SECRETS_JSON_VARIABLE = "MPCTL_GITHUB_SECRETS"
"""An environment variable holding `${{ toJSON(secrets) }}`: every secret of the job by name."""
LABELS = "MPCTL_KEY_LABELS"
PENDING_SECRET = "MPCTL_PENDING_PRIVATE_KEY"
PREVIOUS_SECRET = "MPCTL_PREVIOUS_PRIVATE_KEY"
API_VERSION = "2022-11-28"
Sealer = Callable[[str, str], str]
"""(the environment's public key, base64; a value) → the sealed box, base64."""
_PERMISSIONS = (
    "a fine-grained token on this repository with 'Environments: read and write' and "
    "'Secrets: read and write' (classic token: 'repo')"
)


class _Labels(Labels[KeySlot]):
    """The labels variable: what `read_state` returns, and whose it is. No key material."""


class GitHubApi:
    """The REST calls on one repository environment; errors become `SecretSinkError`."""

    def __init__(
        self, spec: GitHubEnvironmentSink, token: str, *, where: str, sealer: Sealer
    ) -> None:
        self.spec = spec
        self._sealer = sealer
        self._where = where
        owner, repo = spec.repository.split("/", 1)
        self._root = f"/repos/{owner}/{repo}/environments/{quote(spec.environment, safe='')}"
        self._http = httpx.Client(
            base_url=spec.api_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "mpctl",
            },
            timeout=30.0,
        )
        self._public_key: tuple[str, str] | None = None

    def close(self) -> None:
        self._http.close()

    def get_variable(self, name: str) -> str | None:
        response = self._request("GET", f"/variables/{name}", what=f"variable {name}", ok=(404,))
        if response.status_code == 404:
            return None
        value = response.json().get("value")
        if not isinstance(value, str):
            raise self._error(f"variable {name} came back without a string value", None)
        return value

    def set_variable(self, name: str, value: str, *, exists: bool) -> None:
        """PATCH an existing variable, POST a new one (either falls back to the other)."""
        what = f"variable {name}"
        if exists:
            patched = self._request(
                "PATCH", f"/variables/{name}", json={"name": name, "value": value}, what=what,
                ok=(404,),
            )  # fmt: skip
            if patched.status_code != 404:
                return
        created = self._request(
            "POST", "/variables", json={"name": name, "value": value}, what=what, ok=(409,)
        )
        if created.status_code == 409:  # another runner made it meanwhile
            self._request("PATCH", f"/variables/{name}", json={"name": name, "value": value},
                          what=what)  # fmt: skip

    def put_secret(self, name: str, value: str) -> None:
        key_id, encrypted = self._seal(value)
        self._request(
            "PUT",
            f"/secrets/{name}",
            json={"encrypted_value": encrypted, "key_id": key_id},
            what=f"secret {name}",
        )

    def secret_exists(self, name: str) -> bool:
        """GitHub returns a secret's name and times, never its value."""
        what = f"secret {name}"
        return self._request("GET", f"/secrets/{name}", what=what, ok=(404,)).status_code != 404

    def delete_secret(self, name: str) -> None:
        self._request("DELETE", f"/secrets/{name}", what=f"secret {name}", ok=(404,))

    def _seal(self, value: str) -> tuple[str, str]:
        if self._public_key is None:
            body = self._request("GET", "/secrets/public-key", what="the public key").json()
            self._public_key = (str(body["key_id"]), str(body["key"]))
        key_id, key = self._public_key
        return key_id, self._sealer(key, value)

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        failure: str | None = None
        try:
            response = self._http.request(method, self._root + path, json=json)
        except httpx.HTTPError as exc:
            failure = type(exc).__name__
        if failure is not None:
            raise SecretSinkError(
                f"{STORE} {self._where}: cannot reach {self.spec.api_url} to {method} {what} "
                f"({failure})",
                hint="check the network and api_url; the next run repeats what is missing",
            )
        if response.is_success or response.status_code in ok:
            return response
        raise self._error(f"{method} {what} was refused", response)

    def _error(self, what: str, response: httpx.Response | None) -> SecretSinkError:
        status = response.status_code if response is not None else None
        message = _github_message(response)
        text = f"{STORE} {self._where}: {what}"
        if status is not None:
            text += f" (HTTP {status}{': ' + message if message else ''})"
        return SecretSinkError(text, hint=_hint(status, self.spec))


def _github_message(response: httpx.Response | None) -> str:
    """GitHub's error `message` (it never echoes a secret value), shortened."""
    if response is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:200] if message else ""


def _hint(status: int | None, spec: GitHubEnvironmentSink) -> str:
    if status == 401:
        return (
            f"the token ({_describe(spec)}) is missing, expired or revoked: give mpctl "
            f"{_PERMISSIONS}"
        )
    if status in (403, 404):
        return (
            f"check that repository {spec.repository} has the environment "
            f"{spec.environment!r} (Settings → Environments) and that the token "
            f"({_describe(spec)}) is {_PERMISSIONS}; GitHub answers 404 when it lacks access"
        )
    if status == 422:
        return "GitHub refused the request's shape or a name; check name_prefix and variables"
    return "a GitHub outage or rate limit: run again later; the next run repeats what is missing"


def _describe(spec: GitHubEnvironmentSink) -> str:
    source = spec.token
    return f"environment variable {source.env}" if source.env else f"file {source.file}"


class GitHubSecretSink:
    """`BlockingSecretSink` over one GitHub repository environment (see the module docstring)."""

    def __init__(
        self, spec: GitHubEnvironmentSink, context: SinkContext, token: str, sealer: Sealer
    ) -> None:
        self._spec = spec
        self._context = context
        self._api = GitHubApi(spec, token, where=self._where(), sealer=sealer)
        self._keys: dict[str, PrivateKey] = {}
        """Keys this process staged or loaded, by thumbprint."""
        self._known: dict[str, KeySlot] = {}
        """Every slot seen in the labels, by kid (a kid never names other material)."""

    def __repr__(self) -> str:
        return f"GitHubSecretSink({self._where()})"

    __str__ = __repr__

    def _where(self) -> str:
        return f"{self._spec.repository} environment {self._spec.environment!r}"

    # --- names ------------------------------------------------------------------------------

    def name(self, client: str, base: str) -> str:
        """The GitHub name of `base` (a secret or variable) for `client`, prefix included."""
        prefix = self._spec.name_prefix.replace("{client}", client.upper().replace("-", "_"))
        full = (prefix + base).upper()
        if not _GITHUB_NAME.match(full) or full.startswith("GITHUB_"):
            raise SecretSinkError(
                f"{STORE} {self._where()}: the name {full!r} for client {client!r} is one GitHub "
                "refuses (letters, digits and '_', not starting with a digit or GITHUB_)",
                hint="change the sink's name_prefix (e.g. 'C_{client}_') or its variables names",
            )
        return full

    def current_secret(self, client: str) -> str:
        variables = self._spec.variables
        base = variables.private_key if self._spec.key_encoding == "pem" else (
            variables.private_key_base64
        )  # fmt: skip
        return self.name(client, base)

    def slot_secrets(self, client: str) -> tuple[str, str, str]:
        """current, pending, previous."""
        return (
            self.current_secret(client),
            self.name(client, PENDING_SECRET),
            self.name(client, PREVIOUS_SECRET),
        )

    # --- the protocol -----------------------------------------------------------------------

    def read_state(self, client: str) -> SinkState:
        labels = self._read_labels(client)
        return labels.state() if labels else SinkState()

    def stage(self, client: str, key: PrivateKey) -> None:
        labels = self._read_labels(client) or _Labels(client=client)
        if label_holding(labels.state(), key.kid, key.thumbprint):
            self._keys[key.thumbprint] = key
            return
        if labels.pending is not None:
            raise RotationInFlightError(
                f"client {client!r} already has pending key {labels.pending.kid!r} in "
                f"{STORE} {self._where()}; refusing to stage {key.kid!r} (one rotation at a time)",
                hint="let the running rotation finish (mpctl apply), or discard it explicitly",
            )
        self._keys[key.thumbprint] = key
        self._api.put_secret(self.name(client, PENDING_SECRET), to_pem(key))
        self._write_labels(client, labels, pending=key.slot())

    def promote(self, client: str, kid: str, now: datetime) -> None:
        labels = self._read_labels(client) or _Labels(client=client)
        if labels.current is not None and labels.current.kid == kid:
            self._publish(client, labels)
            self._sweep(client, labels)
            return
        pending = labels.promotable(kid)
        new = self._material(client, pending)
        if labels.current is not None:
            old = self._material(client, labels.current)
            self._api.put_secret(self.name(client, PREVIOUS_SECRET), to_pem(old))
        self._api.put_secret(self.current_secret(client), self._encoded(new))
        after = labels.model_copy(
            update={
                "current": pending.model_copy(update={"promoted_at": now}),
                "previous": labels.current,
                "pending": None,
            }
        )
        self._publish(client, after)
        self._write_labels(client, after)
        self._api.delete_secret(self.name(client, PENDING_SECRET))

    def discard_pending(self, client: str, kid: str) -> None:
        labels = self._read_labels(client)
        if labels is None or labels.pending is None or labels.pending.kid != kid:
            self._sweep(client, labels)
            return
        self._write_labels(client, labels, pending=None)
        self._api.delete_secret(self.name(client, PENDING_SECRET))

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        labels = self._read_labels(client)
        if labels is None or labels.previous is None:
            self._sweep(client, labels)
            return
        if kid is not None and labels.previous.kid != kid:
            raise SecretSinkError(
                f"client {client!r} holds previous key {labels.previous.kid!r}, not {kid!r}; "
                "nothing was forgotten"
            )
        self._write_labels(client, labels, previous=None)
        self._api.delete_secret(self.name(client, PREVIOUS_SECRET))
        self._sweep(client, labels.model_copy(update={"previous": None}))

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        slot = self._known.get(kid)
        if slot is None:
            labels = self._read_labels(client)
            slot = next((s for s in labels.slots() if s.kid == kid), None) if labels else None
        if slot is None:
            raise SecretSinkError(
                f"no key with kid {kid!r} is stored for client {client!r} in {STORE} "
                f"{self._where()}"
            )
        return self._material(client, slot)

    def set_client_id(self, client: str, client_id: str) -> None:
        labels = self._read_labels(client) or _Labels(client=client)
        if labels.client_id == client_id:
            self._publish(client, labels)
            self._sweep(client, labels)
            return
        after = labels.model_copy(update={"client_id": client_id})
        self._publish(client, after)
        self._write_labels(client, after)

    # --- labels -----------------------------------------------------------------------------

    def _read_labels(self, client: str) -> _Labels | None:
        name = self.name(client, LABELS)
        raw = self._api.get_variable(name)
        if raw is None:
            return None
        labels = self._parse_labels(name, raw)
        if labels.client != client:
            raise SecretSinkError(
                f"{STORE} {self._where()}: variable {name} belongs to client "
                f"{labels.client!r}, not {client!r}",
                hint="give each client its own name_prefix (the default '{client}_' does)",
            )
        self._known.update((slot.kid, slot) for slot in labels.slots())
        return labels

    def _parse_labels(self, name: str, raw: str) -> _Labels:
        problem: str
        try:
            return _Labels.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            problem = f"{'.'.join(str(p) for p in first['loc']) or 'value'}: {first['msg']}"
        raise SecretSinkError(
            f"{STORE} {self._where()}: variable {name} is unreadable ({problem}); it was not "
            "treated as empty",
            hint="restore its value from the environment's history or an earlier run's log; "
            "mpctl writes it and never needs it edited",
        )

    def _write_labels(self, client: str, labels: _Labels, **changes: KeySlot | None) -> None:
        """Write the labels (the record of truth) and read them back."""
        after = labels.model_copy(update=changes) if changes else labels
        name = self.name(client, LABELS)
        value = after.model_dump_json(exclude_none=True)
        self._api.set_variable(
            name, value, exists=labels.client_id is not None or any(True for _ in labels.slots())
        )
        if self._api.get_variable(name) != value:
            raise SecretSinkError(
                f"{STORE} {self._where()}: variable {name} does not read back as written "
                "(another mpctl wrote it at the same time?)",
                hint="run apply once at a time per environment (the shipped workflow's "
                "concurrency group does), then run it again",
            )
        self._known.update((slot.kid, slot) for slot in after.slots())

    def _sweep(self, client: str, labels: _Labels | None) -> None:
        """Delete a pending or previous secret whose label is gone (a run that stopped between
        moving the label and deleting the key): no retired key stays behind in a secret."""
        for label, base in (("pending", PENDING_SECRET), ("previous", PREVIOUS_SECRET)):
            if labels is not None and getattr(labels, label) is not None:
                continue
            name = self.name(client, base)
            if self._api.secret_exists(name):
                self._api.delete_secret(name)

    def _publish(self, client: str, labels: _Labels) -> None:
        """The workload's variables for the current key, written where they differ."""
        if labels.current is None or not labels.client_id:
            return
        names = self._spec.variables
        wanted = {
            names.mode: "live",
            names.client_id: labels.client_id,
            names.kid: labels.current.kid,
            names.token_endpoint: self._context.token_endpoint,
            names.issuer: self._context.issuer,
        }
        for base, value in wanted.items():
            name = self.name(client, base)
            seen = self._api.get_variable(name)
            if seen != value:
                self._api.set_variable(name, value, exists=seen is not None)

    # --- key material -----------------------------------------------------------------------

    def _encoded(self, key: PrivateKey) -> str:
        return encoded_private_key(self._spec.key_encoding, to_pem(key), kid=key.kid)

    def _material(self, client: str, slot: KeySlot) -> PrivateKey:
        """The private key of `slot`: staged by this process, or mapped into its environment."""
        known = self._keys.get(slot.thumbprint)
        if known is None:
            known = self._from_environment(client, slot.thumbprint)
        if known is None:
            current, pending, previous = self.slot_secrets(client)
            raise SecretSinkError(
                f"the private key {slot.kid!r} of client {client!r} is in {STORE} "
                f"{self._where()}, whose secrets GitHub never returns through its API, and this "
                "job's environment does not hold it",
                hint=f"run mpctl in a job with `environment: {self._spec.environment}` and "
                f"`env: {{{SECRETS_JSON_VARIABLE}: ${{{{ toJSON(secrets) }}}}}}` (or map "
                f"{current}, {pending} and {previous} one by one); a job sees the secrets as they "
                "were when it started",
            )
        self._keys[slot.thumbprint] = known
        return PrivateKey(
            known.crypto_key, kid=slot.kid, algorithm=slot.algorithm, created_at=slot.created_at
        )

    def _from_environment(self, client: str, thumbprint: str) -> PrivateKey | None:
        environ = self._context.environ
        mapped = _secrets_json(environ)
        for name in self.slot_secrets(client):
            value = environ.get(name) or mapped.get(name)
            key = _parse_key(value) if value else None
            if key is not None and key.thumbprint == thumbprint:
                return key
        return None


def _secrets_json(environ: Mapping[str, str]) -> dict[str, str]:
    """`${{ toJSON(secrets) }}` mapped into MPCTL_GITHUB_SECRETS, if it is."""
    raw = environ.get(SECRETS_JSON_VARIABLE)
    if not raw:
        return {}
    document: Any = None
    with contextlib.suppress(ValueError):
        document = json.loads(raw)
    if not isinstance(document, dict):
        raise SecretSinkError(
            f"environment variable {SECRETS_JSON_VARIABLE} is not a JSON object",
            hint="set it to ${{ toJSON(secrets) }} in the job's env",
        )
    return {str(k).upper(): v for k, v in document.items() if isinstance(v, str)}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_key(value: str) -> PrivateKey | None:
    """A key from a secret in any of the encodings this sink writes; None if it is none."""
    text = value.strip()
    try:
        if text.startswith("-----BEGIN"):
            return from_pem(text, kid="?", created_at=_EPOCH)
        decoded = base64.b64decode(text, validate=True).decode("ascii", errors="strict")
        if decoded.startswith("-----BEGIN"):
            return from_pem(decoded, kid="?", created_at=_EPOCH)
        return from_private_jwk_base64(text, created_at=_EPOCH)
    except (KeyMaterialError, ValueError):
        return None


def _read_token(spec: GitHubEnvironmentSink, context: SinkContext) -> str:
    return read_reference(
        spec.token,
        context,
        what=f"the GitHub token for {STORE} {spec.repository}",
        fix=f"set it to {_PERMISSIONS}; in Actions e.g. `env: {{MPCTL_GITHUB_TOKEN: "
        "${{ secrets.MPCTL_GITHUB_TOKEN }}}`",
    )


def load_sealer() -> Sealer:
    """libsodium's sealed box from PyNaCl, imported when a sink opens: it is an optional extra."""
    try:
        from nacl.encoding import Base64Encoder  # noqa: PLC0415 (optional extra, see docstring)
        from nacl.public import PublicKey, SealedBox  # noqa: PLC0415
    except ImportError:
        raise SecretSinkError(
            "the github-environment sink needs PyNaCl to seal secrets: pip install 'mpctl[github]'"
        ) from None

    def seal(public_key: str, value: str) -> str:
        box = SealedBox(PublicKey(public_key.encode("ascii"), Base64Encoder))
        return base64.b64encode(box.encrypt(value.encode("utf-8"))).decode("ascii")

    return seal


def open_github_sink(spec: SinkSpec, context: SinkContext) -> GitHubSecretSink:
    """Registry factory for sinks of type `github-environment`."""
    if not isinstance(spec, GitHubEnvironmentSink):
        raise SecretSinkError(f"a GitHub sink cannot be built from a {spec.type!r} sink spec")
    return GitHubSecretSink(spec, context, _read_token(spec, context), load_sealer())


PLUGIN = SinkPlugin(
    type="github-environment", spec=GitHubEnvironmentSink, open=open_github_sink, durable=True
)
"""The entry point `github-environment = "mpctl.secrets.github:PLUGIN"` (pyproject.toml)."""
