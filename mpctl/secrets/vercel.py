"""The Vercel sink: a client's keys as environment variables of one Vercel project.

Owns the layout of mpctl's keys in a project's environment variables and the label moves of the
`SecretSink` protocol over Vercel's REST API (httpx; no SDK). Every variable is of type
`encrypted` (readable back through the API, unlike `sensitive`) with `target` = the spec's
targets:

- the workload's variables (seed 002: `MASKINPORTEN_MODE`, `_CLIENT_ID`, `_KID`,
  `_PRIVATE_KEY` or `_PRIVATE_KEY_BASE64`, `_TOKEN_ENDPOINT`, `_ISSUER`; names from the spec),
  for the *current* key only, written in one request so a build never pairs a kid with another
  key's material;
- `MPCTL_KEY_LABELS`: the labels (client, client_id, current/previous/pending kids with
  thumbprints and times), JSON without key material;
- `MPCTL_PRIVATE_KEY_<hash of kid>`: one variable per key, written once under a name derived from
  its kid. Labels move without moving key material, and a key's variable is written (and read
  back) before any label names it, so a reader never finds a label whose key is missing or
  different. A key whose label is gone is deleted one labels write later, so a reader that read
  the labels just before still finds it.

One project holds one client's keys (the workload reads one `MASKINPORTEN_KID`): a second
client on the same project is refused. After each write the variables are listed again
(decrypted) and compared. With `redeploy: true`, a promote redeploys the latest production
deployment (POST /v13/deployments with its id), recorded in the labels so a re-run redeploys
only if the first run did not.

Least privilege: a Vercel access token scoped to the project's team (`team_id`), created by a
member whose role may edit the project's environment variables for the spec's targets (Member
or Owner; a Developer cannot change Production variables); with `redeploy`, one that may create
deployments. Note that Vercel gives a deployment every variable of its target, so the `MPCTL_*`
companion variables (pending and previous keys) reach the runtime too; the workload ignores
them. Must not generate keys or decide when to rotate; it does no locking (apply holds the
environment lock); it never logs or raises a value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from mpctl.errors import SecretSinkError
from mpctl.model import KeySlot, SecretSource, SinkSpec, SinkState, VercelSink
from mpctl.secrets.dotenv import workload_variables
from mpctl.secrets.keys import KeyMaterialError, PrivateKey, from_pem, to_pem
from mpctl.secrets.labels import Labels
from mpctl.secrets.protocol import (
    RotationInFlightError,
    SinkContext,
    SinkPlugin,
    label_holding,
)
from mpctl.secrets.references import describe_reference, read_reference

LABELS_VARIABLE = "MPCTL_KEY_LABELS"
KEY_VARIABLE_PREFIX = "MPCTL_PRIVATE_KEY_"
_TIMEOUT = httpx.Timeout(30.0)
_RESTORE_HINT = (
    "fix or delete the variable in the project's Settings → Environment Variables; if the keys "
    "are lost, delete MPCTL_KEY_LABELS and run `mpctl plan`: mpctl reports the kids left in the "
    "JWKS and stages a new key only when you choose"
)


class _Labels(Labels[KeySlot]):
    """`MPCTL_KEY_LABELS`: which client the project serves and its three labels."""

    deployed_kid: str | None = None
    """The current kid a redeploy was made for (spec.redeploy)."""

    def kids(self) -> set[str]:
        return {s.kid for s in self.slots()}


class _StoredKey(BaseModel):
    """`MPCTL_PRIVATE_KEY_*`: one key with what `from_pem` needs to rebuild it."""

    model_config = ConfigDict(extra="forbid")

    kid: str
    algorithm: str
    created_at: datetime
    private_key_pem: str

    def __repr__(self) -> str:
        return f"_StoredKey(kid={self.kid!r})"


def key_variable(kid: str) -> str:
    """The variable holding the key `kid` (Vercel names allow only letters, digits and '_')."""
    return KEY_VARIABLE_PREFIX + hashlib.sha256(kid.encode()).hexdigest()[:24].upper()


class _Snapshot:
    """mpctl's variables (`managed` names) from one list call of the project's, decrypted.

    Other variables of the project are none of mpctl's business and are ignored.
    """

    def __init__(
        self,
        envs: Sequence[Mapping[str, Any]],
        targets: frozenset[str],
        managed: frozenset[str],
    ) -> None:
        self._ours: dict[str, Mapping[str, Any]] = {}
        for env in envs:
            key = str(env.get("key"))
            target = frozenset(env.get("target") or ())
            if key not in managed and not key.startswith(KEY_VARIABLE_PREFIX):
                continue
            if env.get("gitBranch") or not target & targets:
                continue
            if target != targets or key in self._ours:
                raise SecretSinkError(
                    f"Vercel variable {key} targets {', '.join(sorted(target))}, which overlaps "
                    f"the sink's targets {', '.join(sorted(targets))} without matching them",
                    hint="give the sink the same `targets`, or delete that variable in the "
                    "project's Settings → Environment Variables",
                )
            self._ours[key] = env

    def value(self, key: str) -> str | None:
        env = self._ours.get(key)
        if env is None:
            return None
        if env.get("type") == "sensitive":
            raise SecretSinkError(
                f"Vercel variable {key} is of type sensitive, which cannot be read back",
                hint="delete it in the project's Settings → Environment Variables; mpctl "
                "writes it again as type encrypted",
            )
        if env.get("decrypted") is False and env.get("type") != "plain":
            raise SecretSinkError(f"Vercel returned variable {key} without decrypting it")
        return str(env.get("value", ""))

    def key_variables(self) -> dict[str, str]:
        """Name → id of every `MPCTL_PRIVATE_KEY_*` variable."""
        return {k: str(e["id"]) for k, e in self._ours.items() if k.startswith(KEY_VARIABLE_PREFIX)}


class _VercelApi:
    """The few calls of Vercel's REST API the sink makes; errors become `SecretSinkError`."""

    def __init__(self, spec: VercelSink, token: str) -> None:
        self._spec = spec
        self._project = quote(spec.project, safe="")
        params = {"teamId": spec.team_id} if spec.team_id else {}
        self._http = httpx.Client(
            base_url=spec.api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            params=params,
            timeout=_TIMEOUT,
        )

    def __repr__(self) -> str:
        return f"_VercelApi(project={self._project!r}, team_id={self._spec.team_id!r})"

    def list_envs(self) -> list[Mapping[str, Any]]:
        body = self._send("GET", self._env_path(), "list the variables", params={"decrypt": "true"})
        envs = body.get("envs") if isinstance(body, dict) else None
        if not isinstance(envs, list):
            raise SecretSinkError(
                f"Vercel's variable list for project {self._project!r} has no envs"
            )
        return envs

    def upsert(self, values: Mapping[str, str], targets: Sequence[str]) -> None:
        items = [
            {"key": k, "value": v, "type": "encrypted", "target": list(targets)}
            for k, v in values.items()
        ]
        what = f"write {', '.join(values)}"
        body = self._send(
            "POST", self._env_path(), what, params={"upsert": "true"}, json=items, secret=values
        )
        failed = body.get("failed") if isinstance(body, dict) else None
        if failed:
            error = failed[0].get("error", {}) if isinstance(failed[0], dict) else {}
            raise self._refusal(what, 201, error, values)

    def delete(self, env_id: str, name: str) -> None:
        path = f"/v9/projects/{self._project}/env/{quote(env_id, safe='')}"
        self._send("DELETE", path, f"delete {name}", missing_ok=True)

    def latest_production_deployment(self) -> Mapping[str, Any] | None:
        params = {
            "projectId": self._project,
            "target": "production",
            "state": "READY",
            "limit": "1",
        }
        body = self._send("GET", "/v6/deployments", "list deployments", params=params)
        found = body.get("deployments") if isinstance(body, dict) else None
        latest = found[0] if isinstance(found, list) and found else None
        if isinstance(latest, dict) and isinstance(latest.get("uid"), str) and latest.get("name"):
            return latest
        return None

    def redeploy(self, deployment: Mapping[str, Any], kid: str) -> None:
        payload = {
            "name": deployment["name"],
            "deploymentId": deployment["uid"],
            "target": "production",
            "meta": {"action": "redeploy", "mpctlKid": kid},
        }
        self._send("POST", "/v13/deployments", "redeploy", params={"forceNew": "1"}, json=payload)

    def _env_path(self) -> str:
        return f"/v10/projects/{self._project}/env"

    def _send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
        secret: Mapping[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            raise SecretSinkError(
                f"cannot {what} of Vercel project {self._project!r}: {type(exc).__name__} "
                f"reaching {self._spec.api_url}",
                hint="check the network and Vercel's status page, then run mpctl again "
                "(every step is safe to repeat)",
            ) from None
        if response.status_code == 404 and missing_ok:
            return None
        body = _json_or_none(response)
        if response.is_success:
            return body
        error = body.get("error") if isinstance(body, dict) else None
        raise self._refusal(
            what, response.status_code, error if isinstance(error, dict) else {}, secret or {}
        )

    def _refusal(
        self, what: str, status: int, error: Mapping[str, Any], sent: Mapping[str, str]
    ) -> SecretSinkError:
        code = str(error.get("code", "unknown"))
        message = str(error.get("message", ""))[:300]
        if any(
            len(line) >= 16 and line in message for v in sent.values() for line in v.splitlines()
        ):
            message = "(message withheld: it quoted a value mpctl sent)"
        return SecretSinkError(
            f"Vercel refused to {what} for project {self._project!r}: HTTP {status} {code}: "
            f"{message}",
            hint=_hint(status, code, self._spec),
        )


def _json_or_none(response: httpx.Response) -> Any:
    """The response's JSON body; None when it has none (callers check the shape they need)."""
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


def _hint(status: int, code: str, spec: VercelSink) -> str:
    if status in (401, 403):
        team = f"team {spec.team_id}" if spec.team_id else "the project's owner"
        return (
            f"the token ({describe_reference(spec.token)}) must be a Vercel access token scoped "
            f"to {team}, "
            "of a member who may edit this project's environment variables for targets "
            f"{', '.join(spec.targets)} (Member or Owner: a Developer cannot change Production)"
            + (" and create deployments (redeploy: true)" if spec.redeploy else "")
        )
    if status == 404:
        return (
            f"check `project: {spec.project}` (its id or name) and `team_id` (a team's project "
            "is only found with its team id)"
        )
    if code == "ENV_ALREADY_EXISTS":
        return (
            "a variable of that name exists for another branch or target; delete it in the "
            "project's Settings → Environment Variables"
        )
    if status == 429 or status >= 500:
        return "Vercel is busy or failing; nothing after this write was done: run mpctl again"
    return "this is a request Vercel does not accept; please report it with this message"


class VercelSecretSink:
    """`BlockingSecretSink` over one Vercel project's environment variables."""

    def __init__(self, spec: VercelSink, context: SinkContext, token: str) -> None:
        self._spec = spec
        self._context = context
        self._targets = frozenset(spec.targets)
        self._managed = frozenset({LABELS_VARIABLE, *spec.variables.model_dump().values()})
        self._api = _VercelApi(spec, token)

    def __repr__(self) -> str:
        return f"VercelSecretSink(project={self._spec.project!r}, team_id={self._spec.team_id!r})"

    # --- the protocol -------------------------------------------------------------------------

    def read_state(self, client: str) -> SinkState:
        labels = self._labels(self._snapshot(), client)
        return labels.state() if labels else SinkState()

    def stage(self, client: str, key: PrivateKey) -> None:
        snapshot = self._snapshot()
        labels = self._labels(snapshot, client) or _Labels(client=client)
        if label_holding(labels.state(), key.kid, key.thumbprint):
            self._sync_workload(snapshot, labels)
            return
        if labels.pending is not None:
            raise RotationInFlightError(
                f"client {client!r} already has pending key {labels.pending.kid!r}; "
                f"refusing to stage {key.kid!r} (one rotation at a time)",
                hint="let the running rotation finish (mpctl apply), or discard it explicitly",
            )
        stored = _StoredKey(
            kid=key.kid,
            algorithm=key.algorithm,
            created_at=key.created_at,
            private_key_pem=to_pem(key),
        )
        self._write({key_variable(key.kid): stored.model_dump_json()})
        self._write_labels(snapshot, labels, labels.model_copy(update={"pending": key.slot()}))

    def promote(self, client: str, kid: str, now: datetime) -> None:
        snapshot = self._snapshot()
        labels = self._labels(snapshot, client) or _Labels(client=client)
        if labels.current is not None and labels.current.kid == kid:
            self._sync_workload(snapshot, labels)
            self._redeploy_if_due(snapshot, labels)
            return
        pending = labels.promotable(kid)
        promoted = labels.model_copy(
            update={
                "current": pending.model_copy(update={"promoted_at": now}),
                "previous": labels.current,
                "pending": None,
            }
        )
        self._sync_workload(snapshot, promoted)
        after = self._write_labels(snapshot, labels, promoted)
        self._redeploy_if_due(after, promoted)

    def discard_pending(self, client: str, kid: str) -> None:
        snapshot = self._snapshot()
        labels = self._labels(snapshot, client)
        if labels is None or labels.pending is None or labels.pending.kid != kid:
            return
        self._write_labels(snapshot, labels, labels.model_copy(update={"pending": None}))

    def forget_previous(self, client: str, kid: str | None = None) -> None:
        snapshot = self._snapshot()
        labels = self._labels(snapshot, client)
        if labels is None or labels.previous is None:
            return
        if kid is not None and labels.previous.kid != kid:
            raise SecretSinkError(
                f"client {client!r} holds previous key {labels.previous.kid!r}, not {kid!r}; "
                "nothing was forgotten"
            )
        self._write_labels(snapshot, labels, labels.model_copy(update={"previous": None}))

    def load_private_key(self, client: str, kid: str) -> PrivateKey:
        snapshot = self._snapshot()
        labels = self._labels(snapshot, client)
        raw = snapshot.value(key_variable(kid))
        if raw is None:
            raise SecretSinkError(f"no key with kid {kid!r} is stored for client {client!r}")
        key = _parse_key(key_variable(kid), raw, kid)
        slot = _slot(labels, kid) if labels else None
        if slot is not None and slot.thumbprint != key.thumbprint:
            raise _corrupt(key_variable(kid), f"key {kid!r} does not match its recorded thumbprint")
        return key

    def set_client_id(self, client: str, client_id: str) -> None:
        snapshot = self._snapshot()
        labels = self._labels(snapshot, client) or _Labels(client=client)
        if labels.client_id == client_id:
            self._sync_workload(snapshot, labels)
            return
        updated = labels.model_copy(update={"client_id": client_id})
        self._sync_workload(snapshot, updated)
        self._write_labels(snapshot, labels, updated)

    # --- reading and writing ------------------------------------------------------------------

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self._api.list_envs(), self._targets, self._managed)

    def _labels(self, snapshot: _Snapshot, client: str) -> _Labels | None:
        raw = snapshot.value(LABELS_VARIABLE)
        if raw is None:
            return None
        try:
            labels = _Labels.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise _corrupt(LABELS_VARIABLE, f"{where}: {first['msg']}") from None
        if labels.client != client:
            raise SecretSinkError(
                f"Vercel project {self._spec.project!r} holds the keys of client "
                f"{labels.client!r}, not {client!r}: one project serves one client's workload",
                hint="give each client its own Vercel project with `keys.sink` on the client",
            )
        return labels

    def _write(self, values: Mapping[str, str]) -> _Snapshot:
        """Upsert `values` in one request, then list again and check each reads back the same."""
        self._api.upsert(values, self._spec.targets)
        snapshot = self._snapshot()
        for name, value in values.items():
            if snapshot.value(name) != value:
                raise SecretSinkError(
                    f"Vercel variable {name} of project {self._spec.project!r} does not read back "
                    "as written",
                    hint="another process may be writing the same project; run mpctl again",
                )
        return snapshot

    def _write_labels(self, snapshot: _Snapshot, old: _Labels, new: _Labels) -> _Snapshot:
        """Write the labels, then delete key variables named by neither the old nor new labels."""
        after = self._write({LABELS_VARIABLE: new.model_dump_json()})
        keep = {key_variable(kid) for kid in old.kids() | new.kids()}
        for name, env_id in snapshot.key_variables().items():
            if name not in keep:
                self._api.delete(env_id, name)
        return after

    def _sync_workload(self, snapshot: _Snapshot, labels: _Labels) -> None:
        """Write the workload's variables for the current key, if any differ (one request)."""
        if labels.current is None or not labels.client_id:
            return
        raw = snapshot.value(key_variable(labels.current.kid))
        if raw is None:
            raise _corrupt(
                key_variable(labels.current.kid), "the current key's variable is missing"
            )
        key = _parse_key(key_variable(labels.current.kid), raw, labels.current.kid)
        wanted = workload_variables(
            self._spec.variables,
            client_id=labels.client_id,
            kid=labels.current.kid,
            private_key_pem=to_pem(key),
            token_endpoint=self._context.token_endpoint,
            issuer=self._context.issuer,
            encoding=self._spec.private_key_encoding,
        )
        if any(snapshot.value(name) != value for name, value in wanted.items()):
            self._write(wanted)

    def _redeploy_if_due(self, snapshot: _Snapshot, labels: _Labels) -> None:
        if not self._spec.redeploy or labels.current is None or not labels.client_id:
            return
        if labels.deployed_kid == labels.current.kid:
            return
        deployment = self._api.latest_production_deployment()
        if deployment is None:
            raise SecretSinkError(
                f"Vercel project {self._spec.project!r} has no ready production deployment to "
                f"redeploy with key {labels.current.kid!r}",
                hint="deploy the project to production once (its variables are in place), or "
                "set `redeploy: false` and redeploy yourself",
            )
        self._api.redeploy(deployment, labels.current.kid)
        self._write_labels(
            snapshot, labels, labels.model_copy(update={"deployed_kid": labels.current.kid})
        )


def _slot(labels: _Labels, kid: str) -> KeySlot | None:
    for slot in (labels.current, labels.previous, labels.pending):
        if slot is not None and slot.kid == kid:
            return slot
    return None


def _parse_key(name: str, raw: str, kid: str) -> PrivateKey:
    try:
        stored = _StoredKey.model_validate_json(raw)
    except ValidationError:
        raise _corrupt(name, "it is not mpctl's key record") from None
    if stored.kid != kid:
        raise _corrupt(name, f"it holds kid {stored.kid!r}, not {kid!r}")
    try:
        return from_pem(
            stored.private_key_pem,
            kid=stored.kid,
            algorithm=stored.algorithm,
            created_at=stored.created_at,
        )
    except KeyMaterialError as exc:
        raise _corrupt(name, f"key {kid!r}: {exc.message}") from None


def _corrupt(name: str, detail: str) -> SecretSinkError:
    return SecretSinkError(
        f"Vercel variable {name} is unreadable: {detail}; it was not treated as empty",
        hint=_RESTORE_HINT,
    )


def read_token(source: SecretSource, context: SinkContext) -> str:
    """The access token a `{env: NAME}` / `{file: PATH}` reference points at."""
    return read_reference(
        source,
        context,
        what="the vercel sink's token",
        fix="set it to a Vercel access token (Account Settings → Tokens) scoped to the "
        "project's team: `token: {env: NAME}` or `{file: PATH}`",
    )


def open_vercel_sink(spec: SinkSpec, context: SinkContext) -> VercelSecretSink:
    """Registry factory for sinks of type `vercel`."""
    if not isinstance(spec, VercelSink):
        raise SecretSinkError(f"a vercel sink cannot be built from a {spec.type!r} sink spec")
    return VercelSecretSink(spec, context, read_token(spec.token, context))


PLUGIN = SinkPlugin(type="vercel", spec=VercelSink, open=open_vercel_sink, durable=True)
"""The entry point `vercel = "mpctl.secrets.vercel:PLUGIN"` (pyproject.toml)."""
