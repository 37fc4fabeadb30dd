"""The Kubernetes Secret sink: the workload's variables in a Secret, the labels as its annotations.

Owns the layout of one client in one namespace and the order of its writes, over lightkube (the
`[kubernetes]` extra, imported when the sink is opened: a missing lightkube is a
`SecretSinkError` with the pip hint, not a crash at start). Must not generate keys, decide when
to rotate, delete anything, or let a key reach a log line, an error or a repr.

Layout, for the spec's `name` N (default `maskinporten-{client}`) in `namespace`:

- Secret N (type Opaque), the workload's: its data is exactly seed 002's variables for the
  *current* key (`MASKINPORTEN_MODE`, `_CLIENT_ID`, `_KID`, `_PRIVATE_KEY` as PKCS#8 PEM,
  `_TOKEN_ENDPOINT`, `_ISSUER`; names from `variables`), so `envFrom: [{secretRef: {name: N}}]`
  or a volume gives the workload those and nothing else. Its annotations are the labels, the
  record of truth: `mpctl.digdir.no/client`, `/environment`, `/client-id` and
  `/current`, `/previous`, `/pending` (JSON: kid, thumbprint, algorithm, created_at,
  promoted_at; never key material), plus `/data-keys` (the data keys mpctl wrote: other keys
  someone added are kept) and `/workload` (a digest of the variables with the key replaced by
  its thumbprint). It carries the label `app.kubernetes.io/managed-by: mpctl`.
- Secret N-mpctl-keys, mpctl's only: the private key of every labelled slot (pending, current,
  previous) as `key-<thumbprint>` (PEM). Pending and previous keys live here, not in N, because
  `envFrom` imports every key of a Secret (names like `mpctl-pending-private-key` are valid
  environment variable names since KEP-4369, on by default from Kubernetes 1.32) and a volume
  shows every key as a file: the workload must see exactly one key.

Writes, each a whole-object PUT carrying the `resourceVersion` it read (a racing writer gets
409 Conflict: `SecretSinkError`, nothing overwritten, its newer value kept) or a POST (409
AlreadyExists when another writer created it first: the call starts again from a fresh read,
never overwriting). Material before labels: stage writes the key into N-mpctl-keys, then the
pending label into N; promote is *one* write of N (labels and the workload's variables move
together, so a reader never sees a kid with another key); forget_previous and discard_pending
rewrite N's labels, then drop unlabelled keys from N-mpctl-keys. A cut anywhere leaves N
consistent, and the next run repeats what is missing. The server answers each write with the
object it stored, which must show what was written (a webhook that rewrites mpctl's Secrets is
an error). A Secret without mpctl's label, of another client or environment, or not Opaque is
never written (someone else's).

Restarts: environment variables read from a Secret change only when the pod restarts (a volume
follows within the kubelet's sync period plus cache, reliability.md §4.5). So after promote,
each Deployment in `restart` gets, in `spec.template.metadata.annotations`,
`kubectl.kubernetes.io/restartedAt: <RFC 3339 now>` (what `kubectl rollout restart` sets) and
`restart.mpctl.digdir.no/<N>: <kid>/<workload digest>`, by strategic merge patch. The second
records which variables the pods were restarted for: promote and set_client_id (which apply calls
before every key step of the client, so before a retire) restart every listed Deployment still
owed one, so a run cut between the promote and the patch finishes it. A listed Deployment that
does not exist is an error raised after the promote was recorded. mpctl does not wait for the
rollout; the previous key stays registered for its grace.

Least privilege: a namespaced Role bound to mpctl's user or service account, on `secrets`:
`get` (plan and verify; plan reads only the annotations, but RBAC's `get` on a Secret includes
its data), `create` and `update` (apply); on `deployments` (apps): `get` and `patch`, only
when `restart` is used. The workload reads its Secret through the kubelet (`envFrom`/volume)
and needs no RBAC. Credentials: in a pod with no
`context`, the pod's service account (token re-read when it rotates); otherwise the kubeconfig
(`KUBECONFIG`, else ~/.kube/config; the spec's `context`, else the current one), including exec
plugins (EKS, GKE, AKS). Logging: lightkube logs nothing; httpx2 logs request lines (INFO) and
httpcore2 connection events (DEBUG), never headers' values or bodies. Errors quote only the API
server's Forbidden and Unauthorized messages (names, verbs), never a body.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mpctl.errors import SecretSinkError
from mpctl.model import KeySlot, KubernetesSecretSink, SinkSpec, SinkState
from mpctl.secrets.dotenv import workload_variables
from mpctl.secrets.keys import KeyMaterialError, PrivateKey, key_for_record, to_pem
from mpctl.secrets.labels import Labels
from mpctl.secrets.protocol import RotationInFlightError, SinkContext, SinkPlugin, label_holding

if TYPE_CHECKING:
    from lightkube import Client
    from lightkube.config.kubeconfig import SingleConfig

MANAGED_BY = "app.kubernetes.io/managed-by"
MPCTL = "mpctl"
PREFIX = "mpctl.digdir.no/"
CLIENT = PREFIX + "client"
ENVIRONMENT = PREFIX + "environment"
ROLE = PREFIX + "role"
FORMAT_VERSION = PREFIX + "format-version"
CLIENT_ID = PREFIX + "client-id"
DATA_KEYS = PREFIX + "data-keys"
WORKLOAD = PREFIX + "workload"
SLOTS = ("current", "previous", "pending")
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESTART_MARKER = "restart.mpctl.digdir.no/"
KEYS_SUFFIX = "-mpctl-keys"
KEY_ENTRY = "key-"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_INSTALL_HINT = "pip install 'mpctl[kubernetes]'"
_RERUN = "run mpctl apply again: every write replaces one object whole, nothing is half-written"


def _rbac_hint(namespace: str) -> str:
    return (
        f"bind mpctl a Role in namespace {namespace!r} with secrets: get, create, update "
        "(plan and verify need get only) and, with `restart:`, deployments: get, patch"
    )


class KubernetesSinkError(SecretSinkError):
    """The API server refused a call; `status` is its HTTP code (None: it was not reached)."""

    def __init__(self, message: str, *, status: int | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ConflictError(KubernetesSinkError):
    """409 Conflict: the object changed after mpctl read it; nothing was overwritten."""


class _CreatedMeanwhileError(KubernetesSinkError):
    """409 AlreadyExists on a create: another writer made the object first."""


@dataclass(frozen=True, repr=False)
class _Secret:
    """A Secret as read: what mpctl looks at, and the whole object for a replace."""

    body: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"_Secret({self.name!r}, resourceVersion={self.resource_version!r})"

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self.body.get("metadata") or {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def resource_version(self) -> str:
        return str(self.metadata.get("resourceVersion", ""))

    @property
    def labels(self) -> Mapping[str, str]:
        return self.metadata.get("labels") or {}

    @property
    def annotations(self) -> Mapping[str, str]:
        return self.metadata.get("annotations") or {}

    @property
    def data(self) -> Mapping[str, str]:
        """Key → value as on the wire (base64)."""
        return self.body.get("data") or {}

    def value(self, key: str) -> str | None:
        raw = self.data.get(key)
        if raw is None:
            return None
        try:
            return base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None


class _Labels(Labels[KeySlot]):
    """The workload Secret's annotations, as one document (no key material)."""


@dataclass(frozen=True)
class _View:
    """One client's workload Secret as read (None when absent) and the labels on it."""

    secret: _Secret | None
    labels: _Labels


class KubeApi:
    """lightkube calls on one namespace's Secrets and Deployments; errors become
    `KubernetesSinkError`, raised with no lightkube or httpx2 exception attached (they carry
    the request, and so maybe a key)."""

    def __init__(self, client: Client, namespace: str, server: str) -> None:
        import httpx2  # noqa: PLC0415 (the optional extra, imported with the sink)
        from lightkube import ApiError, ConfigError  # noqa: PLC0415
        from lightkube.resources.apps_v1 import Deployment  # noqa: PLC0415
        from lightkube.resources.core_v1 import Secret  # noqa: PLC0415
        from lightkube.types import PatchType  # noqa: PLC0415

        self._client = client
        self.namespace = namespace
        self.server = server
        self._secret: Any = Secret
        self._deployment: Any = Deployment
        self._strategic = PatchType.STRATEGIC
        self._api_error: type[Exception] = ApiError
        self._status_error: type[Exception] = httpx2.HTTPStatusError
        self._http_error: type[Exception] = httpx2.HTTPError
        self._config_error: type[Exception] = ConfigError

    def close(self) -> None:
        self._client.close()

    def get_secret(self, name: str) -> _Secret | None:
        found = self._call(
            "get",
            f"secret {name!r}",
            lambda: self._client.get(self._secret, name, namespace=self.namespace),
        )
        return None if found is None else _Secret(found.to_dict())

    def create_secret(self, body: dict[str, Any]) -> _Secret:
        obj = self._secret.from_dict(body)
        what = f"secret {body['metadata']['name']!r}"
        return _Secret(self._call("create", what, lambda: self._client.create(obj)).to_dict())

    def replace_secret(self, body: dict[str, Any]) -> _Secret:
        obj = self._secret.from_dict(body)
        what = f"secret {body['metadata']['name']!r}"
        return _Secret(self._call("update", what, lambda: self._client.replace(obj)).to_dict())

    def get_deployment(self, name: str) -> Mapping[str, Any] | None:
        found = self._call(
            "get",
            f"deployment {name!r}",
            lambda: self._client.get(self._deployment, name, namespace=self.namespace),
        )
        return None if found is None else dict(found.to_dict())

    def patch_deployment(self, name: str, patch: dict[str, Any]) -> None:
        self._call(
            "patch",
            f"deployment {name!r}",
            lambda: self._client.patch(
                self._deployment, name, patch, namespace=self.namespace, patch_type=self._strategic
            ),
        )

    def _call(self, verb: str, what: str, call: Callable[[], Any]) -> Any:
        """One request; a `get` of a missing object is None, every failure an error."""
        failure: KubernetesSinkError
        try:
            return call()
        except self._api_error as exc:
            answer: Any = exc
            failure = self._refused(verb, what, answer.status, answer.response.status_code)
        except self._status_error as exc:
            answer = exc
            failure = self._refused(verb, what, None, answer.response.status_code)
        except self._http_error as exc:
            failure = KubernetesSinkError(
                f"cannot reach the Kubernetes API server {self.server} to {verb} {what} in "
                f"namespace {self.namespace!r} ({type(exc).__name__})",
                status=None,
                hint="check the network and the kubeconfig's server and context; " + _RERUN,
            )
        except self._config_error as exc:  # an exec credential plugin failed (EKS, GKE, AKS)
            failure = KubernetesSinkError(
                f"the kubeconfig's credentials for {self.server} failed to {verb} {what}: "
                f"{str(exc)[:300]}",
                status=None,
                hint="run the kubeconfig's credential plugin by hand (e.g. `kubectl auth whoami`) "
                "and fix what it reports",
            )
        if verb == "get" and failure.status == 404:
            return None
        raise failure

    def _refused(self, verb: str, what: str, status: Any, code: int) -> KubernetesSinkError:
        """The error for the API server's answer `code` with its Status object (if any)."""
        reason = str(getattr(status, "reason", "") or "")
        where = f"{verb} {what} in namespace {self.namespace!r}"
        if code == 409 and reason == "AlreadyExists":
            return _CreatedMeanwhileError(
                f"another writer created {what} in namespace {self.namespace!r} first; nothing "
                "was overwritten",
                status=code,
                hint="run mpctl apply again: it starts from what the other writer stored",
            )
        if code == 404 and verb == "create":
            return KubernetesSinkError(
                f"Kubernetes refused to {where}: the namespace does not exist (HTTP 404)",
                status=code,
                hint="create the namespace, or set the sink's `namespace:` to the workload's",
            )
        if code in (404, 409):
            changed = "changed" if code == 409 else "deleted"
            return ConflictError(
                f"another writer {changed} {what} in namespace {self.namespace!r} after mpctl "
                f"read it (HTTP {code} {reason}); nothing was overwritten",
                status=code,
                hint="run mpctl apply again: it starts from the newer value (one apply at a "
                "time per environment: the shipped workflow's concurrency group does that)",
            )
        return self._denied(where, status, code, reason)

    def _denied(self, where: str, status: Any, code: int, reason: str) -> KubernetesSinkError:
        text = f"Kubernetes refused to {where}: HTTP {code} {reason}".rstrip()
        if code in (401, 403):
            said = str(getattr(status, "message", "") or "")[:300]
            hint = _credentials_hint(self.server) if code == 401 else _rbac_hint(self.namespace)
            return KubernetesSinkError(text + (f": {said}" if said else ""), status=code, hint=hint)
        if code == 422:
            return KubernetesSinkError(
                f"{text} ({_fields(status)})",
                status=code,
                hint="check the sink's name and variables: Secret keys are letters, digits, "
                "'-', '_' and '.'",
            )
        return KubernetesSinkError(text, status=code, hint=_RERUN)


def _fields(status: Any) -> str:
    causes = getattr(getattr(status, "details", None), "causes", None) or []
    named = sorted({str(c.field) for c in causes if getattr(c, "field", None)})
    return "fields " + ", ".join(named) if named else "no field named"


def _credentials_hint(server: str) -> str:
    return (
        f"the credentials for {server} are missing, expired or wrong: check `kubectl auth "
        "whoami` with the same kubeconfig and context; in a pod, the service account's token"
    )


class KubernetesSink:
    """`BlockingSecretSink` over one namespace (see the module docstring for the layout)."""

    def __init__(
        self,
        spec: KubernetesSecretSink,
        context: SinkContext,
        api: KubeApi,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spec = spec
        self.context = context
        self.api = api
        """The lightkube calls (tests reach the cluster through it; never logged)."""
        self.clock = clock

    def __repr__(self) -> str:
        return (
            f"KubernetesSink(server={self.api.server!r}, namespace={self.spec.namespace!r}, "
            f"name={self.spec.name!r})"
        )

    __str__ = __repr__

    # --- names --------------------------------------------------------------------------------

    def secret_name(self, client: str) -> str:
        """The workload's Secret for `client`."""
        name = self.spec.name.replace("{client}", client).replace("{env}", self.context.environment)
        if len(name) + len(KEYS_SUFFIX) > 253 or not _DNS_SUBDOMAIN.match(name):
            raise SecretSinkError(
                f"the Secret name {name!r} for client {client!r} (the sink's name "
                f"{self.spec.name!r}) is not a DNS subdomain name of at most "
                f"{253 - len(KEYS_SUFFIX)} characters",
                hint="Kubernetes takes lower-case letters, digits, '-' and '.'; rename the "
                "client or set the sink's name",
            )
        return name

    def keys_name(self, client: str) -> str:
        """mpctl's companion Secret holding the labelled private keys."""
        return self.secret_name(client) + KEYS_SUFFIX

    # --- the protocol -------------------------------------------------------------------------

    def read_state(self, client: str) -> SinkState:
        return self._read(client).labels.state()

    def stage(self, client: str, key: PrivateKey) -> None:
        self._again_if_created_meanwhile(lambda: self._stage(client, key))

    def promote(self, client: str, kid: str, now: datetime) -> None:
        self._again_if_created_meanwhile(lambda: self._promote(client, kid, now))

    def discard_pending(self, client: str, kid: str) -> None:
        self._again_if_created_meanwhile(lambda: self._discard_pending(client, kid))

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        self._again_if_created_meanwhile(lambda: self._forget_previous(client, kid))

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        view = self._read(client)
        slot = next((s for s in view.labels.slots() if s.kid == kid), None)
        if slot is None:
            raise SecretSinkError(
                f"no key with kid {kid!r} is stored for client {client!r} in secret "
                f"{self.secret_name(client)!r} (namespace {self.spec.namespace!r})"
            )
        return self._material(client, view, slot)

    def set_client_id(self, client: str, client_id: str) -> None:
        self._again_if_created_meanwhile(lambda: self._set_client_id(client, client_id))

    # --- the steps ----------------------------------------------------------------------------

    def _stage(self, client: str, key: PrivateKey) -> None:
        view = self._read(client)
        holding = label_holding(view.labels.state(), key.kid, key.thumbprint)
        if holding == "current":
            return
        if holding is None and view.labels.pending is not None:
            raise RotationInFlightError(
                f"client {client!r} already has pending key {view.labels.pending.kid!r} in "
                f"secret {self.secret_name(client)!r}; refusing to stage {key.kid!r} (one "
                "rotation at a time)",
                hint="let the running rotation finish (mpctl apply), or discard it explicitly",
            )
        self._keep_keys(client, view.labels, also=key)
        if holding is None:
            self._save(client, view, view.labels.model_copy(update={"pending": key.slot()}))

    def _promote(self, client: str, kid: str, now: datetime) -> None:
        view = self._read(client)
        labels = view.labels
        if labels.current is not None and labels.current.kid == kid:
            self._restart(client, view)  # a promote cut before its restarts
            return
        pending = labels.promotable(kid)
        key = self._material(client, view, pending)
        after = labels.model_copy(
            update={
                "current": pending.model_copy(update={"promoted_at": now}),
                "previous": labels.current,
                "pending": None,
            }
        )
        self._restart(client, self._save(client, view, after, publish=key))

    def _discard_pending(self, client: str, kid: str) -> None:
        view = self._read(client)
        labels = view.labels
        if labels.pending is not None and labels.pending.kid == kid:
            labels = labels.model_copy(update={"pending": None})
            self._save(client, view, labels)
        self._keep_keys(client, labels)

    def _forget_previous(self, client: str, kid: str | None) -> None:
        view = self._read(client)
        labels = view.labels
        if labels.previous is not None:
            if kid is not None and labels.previous.kid != kid:
                raise SecretSinkError(
                    f"client {client!r} holds previous key {labels.previous.kid!r}, not "
                    f"{kid!r}; nothing was forgotten"
                )
            labels = labels.model_copy(update={"previous": None})
            self._save(client, view, labels)
        self._keep_keys(client, labels)

    def _set_client_id(self, client: str, client_id: str) -> None:
        view = self._read(client)
        after = view.labels.model_copy(update={"client_id": client_id})
        if after == view.labels and not self._stale(view):
            self._restart(client, view)
            return
        current = after.current
        key = self._material(client, view, current) if current is not None else None
        self._restart(client, self._save(client, view, after, publish=key))

    def _again_if_created_meanwhile(self, step: Callable[[], None]) -> None:
        """Run `step`; when another writer created a Secret between mpctl's read and its
        create, run it once more from a fresh read (what the other stored is respected)."""
        try:
            step()
        except _CreatedMeanwhileError:
            pass
        else:
            return
        step()

    # --- the workload Secret ------------------------------------------------------------------

    def _read(self, client: str) -> _View:
        name = self.secret_name(client)
        secret = self.api.get_secret(name)
        if secret is None:
            return _View(None, _Labels(client=client))
        self._check_ours(client, secret, "workload")
        return _View(secret, self._parse_labels(client, secret))

    def _parse_labels(self, client: str, secret: _Secret) -> _Labels:
        annotations = secret.annotations
        if annotations.get(FORMAT_VERSION, "1") != "1":
            raise self._unreadable(secret, f"{FORMAT_VERSION} is not 1 (a newer mpctl?)")
        slots: dict[str, KeySlot | None] = {}
        problem: str | None = None
        for slot in SLOTS:
            raw = annotations.get(PREFIX + slot)
            try:
                slots[slot] = KeySlot.model_validate_json(raw) if raw else None
            except ValidationError as exc:
                first = exc.errors(include_input=False, include_url=False)[0]
                problem = f"{PREFIX}{slot}: {first['msg']}"
                break
        if problem is not None:
            raise self._unreadable(secret, problem)
        return _Labels(
            client=client,
            client_id=annotations.get(CLIENT_ID),
            current=slots["current"],
            previous=slots["previous"],
            pending=slots["pending"],
        )

    def _save(
        self, client: str, view: _View, labels: _Labels, *, publish: PrivateKey | None = None
    ) -> _View:
        """Write the labels (and, with `publish`, the workload's variables for that key) in one
        request; returns what the server stored."""
        body = _editable(view.secret) if view.secret else self._new_body(client)
        metadata = body.setdefault("metadata", {})
        before: dict[str, str] = metadata.get("annotations") or {}
        annotations = {k: v for k, v in before.items() if not k.startswith(PREFIX)}
        kept = {k: v for k, v in before.items() if k in (DATA_KEYS, WORKLOAD)}
        annotations |= self._owner(client, "workload") | kept | _label_annotations(labels)
        if publish is not None:
            owned = self._owned_keys(view.secret)
            variables = self._variables(labels, publish)
            data = {k: v for k, v in (body.get("data") or {}).items() if k not in owned}
            data.update({k: _b64(v) for k, v in variables.items()})
            body["data"] = data
            annotations[DATA_KEYS] = json.dumps(sorted(variables))
            annotations[WORKLOAD] = self._digest(labels) or ""
        metadata["annotations"] = dict(sorted(annotations.items()))
        metadata["labels"] = {**(metadata.get("labels") or {}), MANAGED_BY: MPCTL}
        saved = self._write(view.secret, body)
        if self._parse_labels(client, saved) != labels or (
            publish is not None and saved.annotations.get(WORKLOAD) != annotations[WORKLOAD]
        ):
            raise self._not_as_written(saved)
        return _View(saved, labels)

    def _owned_keys(self, secret: _Secret | None) -> set[str]:
        """The data keys mpctl wrote into the workload's Secret (its `data-keys` annotation)."""
        if secret is None:
            return set()
        try:
            keys = json.loads(secret.annotations.get(DATA_KEYS, "[]"))
        except ValueError:
            keys = None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise self._unreadable(secret, f"{DATA_KEYS} is not a JSON list of names")
        return set(keys)

    def _stale(self, view: _View) -> bool:
        """True when the workload's variables do not match the labels (a client_id or an
        endpoint changed, variables renamed, or a write cut short)."""
        if view.secret is None or view.labels.current is None:
            return False
        return view.secret.annotations.get(WORKLOAD) != self._digest(view.labels)

    def _variables(self, labels: _Labels, key: PrivateKey) -> dict[str, str]:
        variables = workload_variables(
            self.spec.variables,
            client_id=labels.client_id or "",
            kid=key.kid,
            private_key_pem=to_pem(key),
            token_endpoint=self.context.token_endpoint,
            issuer=self.context.issuer,
        )
        if labels.client_id is None:
            del variables[self.spec.variables.client_id]
        return variables

    def _digest(self, labels: _Labels) -> str | None:
        """What the workload's variables say, with the key replaced by its thumbprint."""
        current = labels.current
        if current is None:
            return None
        public = {
            "variables": self.spec.variables.model_dump(),
            "client_id": labels.client_id,
            "kid": current.kid,
            "thumbprint": current.thumbprint,
            "token_endpoint": self.context.token_endpoint,
            "issuer": self.context.issuer,
        }
        text = json.dumps(public, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # --- the keys Secret ----------------------------------------------------------------------

    def _read_keys(self, client: str) -> _Secret | None:
        secret = self.api.get_secret(self.keys_name(client))
        if secret is not None:
            self._check_ours(client, secret, "keys")
        return secret

    def _keep_keys(self, client: str, labels: _Labels, *, also: PrivateKey | None = None) -> None:
        """The keys Secret holds exactly the labelled keys (and `also`): written only when that
        changes something. Called before a new label (material first) and after a label went
        (a key nobody points at is dropped)."""
        keys = self._read_keys(client)
        wanted = {slot.thumbprint for slot in labels.slots()}
        data = {
            k: v
            for k, v in (keys.data if keys else {}).items()
            if not k.startswith(KEY_ENTRY) or k.removeprefix(KEY_ENTRY) in wanted
        }
        if also is not None:
            data[KEY_ENTRY + also.thumbprint] = _b64(to_pem(also))
        if keys is not None and data == dict(keys.data):
            return
        body = _editable(keys) if keys else self._new_body(client, keys=True)
        body["data"] = data
        saved = self._write(keys, body)
        if dict(saved.data) != data:
            raise self._not_as_written(saved)

    def _material(self, client: str, view: _View, slot: KeySlot) -> PrivateKey:
        """The private key of `slot`, from the keys Secret (or, for the current key, the
        workload's own variables), checked against the slot's thumbprint."""
        keys = self._read_keys(client)
        candidates = [keys.value(KEY_ENTRY + slot.thumbprint)] if keys else []
        if view.secret is not None and view.labels.current == slot:
            candidates += [view.secret.value(k) for k in sorted(view.secret.data)]
        for pem in candidates:
            key = _parse_key(pem, slot) if pem and pem.startswith("-----BEGIN") else None
            if key is not None:
                return key
        raise SecretSinkError(
            f"the private key {slot.kid!r} of client {client!r} is labelled in secret "
            f"{self.secret_name(client)!r}, but secret {self.keys_name(client)!r} in namespace "
            f"{self.spec.namespace!r} holds no key with its thumbprint",
            hint="the keys Secret was changed or deleted by hand: restore it from a backup; a "
            "lost pending key is dropped with an explicit discard, and the next rotation makes "
            "a new one",
        )

    # --- both Secrets -------------------------------------------------------------------------

    def _new_body(self, client: str, *, keys: bool = False) -> dict[str, Any]:
        name = self.keys_name(client) if keys else self.secret_name(client)
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": self.spec.namespace,
                "labels": {MANAGED_BY: MPCTL},
                "annotations": self._owner(client, "keys" if keys else "workload"),
            },
        }

    def _owner(self, client: str, role: str) -> dict[str, str]:
        return {
            CLIENT: client,
            ENVIRONMENT: self.context.environment,
            ROLE: role,
            FORMAT_VERSION: "1",
        }

    def _write(self, existing: _Secret | None, body: dict[str, Any]) -> _Secret:
        """POST a new Secret, or PUT one carrying the resourceVersion it was read at."""
        metadata = body["metadata"]
        if existing is None:
            metadata.pop("resourceVersion", None)
            return self.api.create_secret(body)
        metadata["resourceVersion"] = existing.resource_version
        return self.api.replace_secret(body)

    def _check_ours(self, client: str, secret: _Secret, role: str) -> None:
        """Refuse a Secret that mpctl did not make for this client, environment and role."""
        where = f"secret {secret.name!r} in namespace {self.spec.namespace!r}"
        if secret.labels.get(MANAGED_BY) != MPCTL:
            raise SecretSinkError(
                f"{where} exists but is not mpctl's (no label {MANAGED_BY}={MPCTL}); mpctl "
                "never writes a Secret it did not make, and this one was not changed",
                hint="set the sink's `name:` to a Secret mpctl may own, or move that one aside",
            )
        owner = self._owner(client, role)
        found = {k: secret.annotations.get(k) for k in (CLIENT, ENVIRONMENT, ROLE)}
        if any(found[k] != owner[k] for k in found) or secret.body.get("type") != "Opaque":
            raise SecretSinkError(
                f"{where} belongs to client {found[CLIENT]!r} in environment "
                f"{found[ENVIRONMENT]!r} as its {found[ROLE]!r} secret (type "
                f"{secret.body.get('type')!r}), not to client {client!r} in "
                f"{self.context.environment!r} as its {role!r} secret; it was not changed",
                hint="give each client (and each environment sharing the namespace) its own "
                "Secret: put {client} (and {env}) in the sink's name",
            )

    def _not_as_written(self, secret: _Secret) -> SecretSinkError:
        return SecretSinkError(
            f"secret {secret.name!r} in namespace {self.spec.namespace!r} did not come back as "
            "written (an admission webhook or policy changed it?); nothing was assumed",
            hint="exempt mpctl's Secrets from mutating webhooks, then run mpctl apply again",
        )

    def _unreadable(self, secret: _Secret, detail: str) -> SecretSinkError:
        return SecretSinkError(
            f"the labels on secret {secret.name!r} in namespace {self.spec.namespace!r} are "
            f"unreadable ({detail}); it was not treated as empty",
            hint="restore the annotations mpctl wrote (kubectl get secret -o yaml from a backup, "
            "or an earlier apply's log); mpctl never needs them edited",
        )

    # --- restarts -----------------------------------------------------------------------------

    def _restart(self, client: str, view: _View) -> None:
        """Restart every listed Deployment whose pods were not yet restarted for the workload's
        current variables; a missing one is an error after the others were restarted."""
        current, secret = view.labels.current, view.secret
        digest = secret.annotations.get(WORKLOAD) if secret else None
        if not self.spec.restart or secret is None or current is None or not digest:
            return
        marker, wanted = _restart_marker(secret.name), f"{current.kid}/{digest}"
        missing: list[str] = []
        for name in sorted({n.replace("{client}", client) for n in self.spec.restart}):
            found = self.api.get_deployment(name)
            if found is None:
                missing.append(name)
            elif _template_annotations(found).get(marker) != wanted:
                stamp = self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                annotations = {RESTARTED_AT: stamp, marker: wanted}
                patch = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
                self.api.patch_deployment(name, patch)
        if missing:
            raise SecretSinkError(
                f"client {client!r}: key {current.kid!r} is current in secret {secret.name!r}, "
                f"but deployment(s) {', '.join(missing)} do not exist in namespace "
                f"{self.spec.namespace!r} and were not restarted: pods that read the key from "
                "environment variables keep the old one until they restart",
                hint="fix the sink's `restart:` list or create the deployment; the next mpctl "
                "apply that acts on this client restarts what is still owed",
            )


def _label_annotations(labels: _Labels) -> dict[str, str]:
    """The labels as annotations; absent slots (and an unknown client_id) are left out."""
    annotations = {CLIENT_ID: labels.client_id} if labels.client_id else {}
    for slot in SLOTS:
        value: KeySlot | None = getattr(labels, slot)
        if value is not None:
            annotations[PREFIX + slot] = value.model_dump_json(exclude_none=True)
    return annotations


def _restart_marker(secret_name: str) -> str:
    """The pod-template annotation naming what the pods were restarted for (a name part is at
    most 63 characters: longer Secret names are hashed)."""
    if len(secret_name) <= 63:
        return RESTART_MARKER + secret_name
    return RESTART_MARKER + "sha256-" + hashlib.sha256(secret_name.encode()).hexdigest()[:32]


def _template_annotations(deployment: Mapping[str, Any]) -> Mapping[str, str]:
    template = (deployment.get("spec") or {}).get("template") or {}
    return (template.get("metadata") or {}).get("annotations") or {}


def _parse_key(pem: str, slot: KeySlot) -> PrivateKey | None:
    try:
        return key_for_record(pem, slot)
    except KeyMaterialError:
        return None


def _editable(secret: _Secret) -> dict[str, Any]:
    """A copy of what was read, to send back whole (the server keeps managedFields itself)."""
    body = copy.deepcopy(dict(secret.body))
    body.get("metadata", {}).pop("managedFields", None)
    return body


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# --- opening ----------------------------------------------------------------------------------


def kube_config(
    spec: KubernetesSecretSink,
    environ: Mapping[str, str],
    service_account: Path = SERVICE_ACCOUNT,
) -> SingleConfig:
    """In a pod with no `context`: the service account; otherwise the kubeconfig's `context`
    (or its current one). `KUBECONFIG` may list several files: the first that has the context
    is used (lightkube does not merge them as kubectl does)."""
    from lightkube.config.kubeconfig import KubeConfig  # noqa: PLC0415 (optional extra)
    from lightkube.config.models import Cluster, User  # noqa: PLC0415

    host = environ.get("KUBERNETES_SERVICE_HOST")
    if spec.context is None and host and (service_account / "token").is_file():
        host = f"[{host}]" if ":" in host else host
        cluster = Cluster(
            server=f"https://{host}:{environ.get('KUBERNETES_SERVICE_PORT', '443')}",
            certificate_auth=str(service_account / "ca.crt"),
        )
        user = User(token_file=str(service_account / "token"))
        single = KubeConfig.from_one(cluster=cluster, user=user).get()
        if single is not None:
            return single
    return _from_kubeconfig(spec, environ)


def _from_kubeconfig(spec: KubernetesSecretSink, environ: Mapping[str, str]) -> SingleConfig:
    import yaml  # noqa: PLC0415
    from lightkube import ConfigError  # noqa: PLC0415 (optional extra)
    from lightkube.config.kubeconfig import KubeConfig  # noqa: PLC0415

    listed = environ.get("KUBECONFIG", "")
    home = environ.get("HOME") or str(Path.home())
    files = [Path(p) for p in listed.split(os.pathsep) if p] or [Path(home) / ".kube" / "config"]
    problem = f"no kubeconfig file at {', '.join(str(f) for f in files)}"
    for path in files:
        if not path.is_file():
            continue
        try:
            config = KubeConfig.from_file(path)
            single = config.get(spec.context) if spec.context in (None, *config.contexts) else None
        except (ConfigError, KeyError, ValueError, TypeError, OSError, yaml.YAMLError) as exc:
            problem = f"{path} is unusable ({type(exc).__name__}: {str(exc)[:200]})"
            continue
        if single is None:
            problem = f"context {spec.context!r} is not in {path}"
            continue
        if single.user is None:
            problem = f"context {single.context_name!r} in {path} names no user"
            continue
        return single
    raise SecretSinkError(
        f"the kubernetes-secret sink has no cluster credentials: {problem}",
        hint="set KUBECONFIG (or ~/.kube/config) and the sink's `context:`, or run mpctl in a "
        "pod with a service account (`kubectl config get-contexts` lists the contexts)",
    )


def open_kubernetes_sink(
    spec: SinkSpec,
    context: SinkContext,
    *,
    service_account: Path = SERVICE_ACCOUNT,
    clock: Callable[[], datetime] | None = None,
) -> KubernetesSink:
    """Registry factory for sinks of type `kubernetes-secret` (lightkube)."""
    if not isinstance(spec, KubernetesSecretSink):
        raise SecretSinkError(f"a Kubernetes sink cannot be built from a {spec.type!r} spec")
    try:
        import httpx2  # noqa: PLC0415 (the optional extra: refused here, not at start)
        from lightkube import Client  # noqa: PLC0415
    except ImportError:
        raise SecretSinkError(
            "the kubernetes-secret sink needs lightkube: " + _INSTALL_HINT, hint=_INSTALL_HINT
        ) from None
    config = kube_config(spec, context.environ, service_account)
    client = Client(
        config,
        namespace=spec.namespace,
        field_manager=MPCTL,
        timeout=httpx2.Timeout(30.0),
    )
    api = KubeApi(client, spec.namespace, config.cluster.server)
    if clock is None:
        return KubernetesSink(spec, context, api)
    return KubernetesSink(spec, context, api, clock)


PLUGIN = SinkPlugin(
    type="kubernetes-secret", spec=KubernetesSecretSink, open=open_kubernetes_sink, durable=True
)
"""The entry point `kubernetes-secret = "mpctl.secrets.kubernetes:PLUGIN"` (pyproject.toml)."""
