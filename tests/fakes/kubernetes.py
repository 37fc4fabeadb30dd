"""A local Kubernetes API server: core/v1 Secrets and apps/v1 Deployments, over TLS on 127.0.0.1.

Implements, from the API reference, exactly what the kubernetes-secret sink (lightkube) and a
second client (`kubectl get`, `kubectl patch`, `kubectl rollout restart`) use, and nothing else:

- Secrets: `POST /api/v1/namespaces/{ns}/secrets` → 201; `GET|PUT|PATCH
  /api/v1/namespaces/{ns}/secrets/{name}` → 200. `data` is base64 on the wire (standard
  alphabet, padded; undecodable → 400 BadRequest), keys `[-._a-zA-Z0-9]+`, at most 1 MiB in
  all; `stringData` is merged into `data` on write and never returned; `type` defaults to
  Opaque and cannot change; an `immutable: true` Secret's data cannot change (422 Invalid).
  https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/secret-v1/
- Deployments: `GET|PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}`; a change of
  `spec` bumps `metadata.generation` (what `kubectl rollout restart` relies on).
  https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/
- Resource versions: one counter for the whole store (etcd's revision), a string on the wire,
  bumped by every write that changes an object (a no-op update keeps it). A PUT carrying
  `metadata.resourceVersion` other than the stored one, or a PATCH whose body sets one, is
  refused with 409 Conflict; a PUT without it is unconditional (Secrets allow that); POST of an
  existing name → 409 AlreadyExists; PUT or PATCH of a missing object → 404 NotFound.
  https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions
  https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#concurrency-control-and-consistency
- PATCH content types: `application/merge-patch+json` (RFC 7386) and
  `application/strategic-merge-patch+json` (the same on maps; this fake replaces lists instead
  of merging them by their patchMergeKey, which neither mpctl nor the tests rely on). Server-side
  apply (`application/apply-patch+yaml`) and JSON patch are answered 415 UnsupportedMediaType:
  field ownership is not modelled here.
  https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply
- Errors are `Status` objects (`kind: Status`, `status: Failure`, `message`, `reason`,
  `details` {name, group, kind}, `code`) as apimachinery's `errors.New*` build them: 401
  Unauthorized (no or unknown bearer token), 403 Forbidden (the token's role lacks the verb),
  404 NotFound, 409 Conflict / AlreadyExists, 415 UnsupportedMediaType, 422 Invalid (with
  `details.causes`), 500 InternalError for injected failures.
  https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/
- Authentication: `Authorization: Bearer <token>`; authorization by a namespaced Role per token
  (resource → verbs: get, create, update, patch), messages as the RBAC authorizer words them.
  https://kubernetes.io/docs/reference/access-authn-authz/authentication/#putting-a-bearer-token-in-a-request
  https://kubernetes.io/docs/reference/access-authn-authz/rbac/
- Legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/apps/v1`) so kubectl can map `secret`
  and `deployment` to their paths. https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api

Not modelled: lists, watches, deletes, managedFields, finalizers, admission.

Test hooks (not part of the API): `fail_writes(n)` makes every write after the next `n` answer
500 before anything is stored, until `heal()`; `before_next_write(plural, name, fn)` runs `fn`
(in a worker thread, so it may call this server) when the next write to that object arrives,
before it is handled: a writer racing the request; `requests` lists "METHOD path" of every call.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.tls import make_tls_files

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
_MAX_SECRET_BYTES = 1024 * 1024
_MAX_ANNOTATION_BYTES = 256 * 1024
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFLICT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class Kind:
    """One resource type the fake serves."""

    group: str
    version: str
    kind: str
    plural: str

    @property
    def qualified(self) -> str:
        """`secrets` or `deployments.apps`, as errors name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


SECRETS = Kind("", "v1", "Secret", "secrets")
DEPLOYMENTS = Kind("apps", "v1", "Deployment", "deployments")
NAMESPACES = Kind("", "v1", "Namespace", "namespaces")
KINDS = {k.plural: k for k in (SECRETS, DEPLOYMENTS)}


@dataclass(frozen=True)
class Role:
    """A namespaced RBAC Role bound to one user: resource plural → verbs."""

    user: str
    namespace: str
    rules: Mapping[str, frozenset[str]]

    def allows(self, plural: str, verb: str, namespace: str | None) -> bool:
        """`namespace` None: a cluster-scoped object (a Namespace), granted by any Role here
        that names it (a ClusterRole in a real cluster)."""
        in_scope = namespace is None or namespace == self.namespace
        return in_scope and verb in self.rules.get(plural, frozenset())


def role(user: str, namespace: str, **rules: str) -> Role:
    """`role("mpctl", "acme", secrets="get create update")`."""
    return Role(user, namespace, {k: frozenset(v.split()) for k, v in rules.items()})


@dataclass
class ClusterState:
    """The objects ((plural, namespace, name) → object as on the wire), tokens and failures."""

    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=lambda: {"default"})
    revision: int = 1000
    tokens: dict[str, Role] = field(default_factory=dict)
    writes_left: int | None = None
    requests: list[str] = field(default_factory=list)
    patches: list[tuple[str, str, Any]] = field(default_factory=list)
    """(path, content type, body) of every PATCH, for comparing clients' patches."""
    hooks: dict[tuple[str, str], Callable[[], object]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_version(self) -> str:
        self.revision += 1
        return str(self.revision)


class _RefusedError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    """A `Status` object, fields in the order the API server writes them."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return JSONResponse(body, status_code=code)


def _details(kind: Kind, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name} if name else {}
    if kind.group:
        details["group"] = kind.group
    details["kind"] = kind.plural
    return details


def not_found(kind: Kind, name: str) -> _RefusedError:
    message = f'{kind.qualified} "{name}" not found'
    return _RefusedError(status(404, "NotFound", message, _details(kind, name)))


def conflict(kind: Kind, name: str) -> _RefusedError:
    message = f'Operation cannot be fulfilled on {kind.qualified} "{name}": {_CONFLICT}'
    return _RefusedError(status(409, "Conflict", message, _details(kind, name)))


def already_exists(kind: Kind, name: str) -> _RefusedError:
    message = f'{kind.qualified} "{name}" already exists'
    return _RefusedError(status(409, "AlreadyExists", message, _details(kind, name)))


def invalid(kind: Kind, name: str, field_path: str, detail: str) -> _RefusedError:
    cause = {"reason": "FieldValueInvalid", "message": detail, "field": field_path}
    details: dict[str, Any] = {"name": name}
    if kind.group:
        details["group"] = kind.group
    details.update(kind=kind.kind, causes=[cause])
    message = f'{kind.kind} "{name}" is invalid: {field_path}: {detail}'
    return _RefusedError(status(422, "Invalid", message, details))


def internal_error(cause: str) -> _RefusedError:
    details = {"causes": [{"message": cause}]}
    message = f"Internal error occurred: {cause}"
    return _RefusedError(status(500, "InternalError", message, details))


def bad_request(message: str) -> _RefusedError:
    return _RefusedError(status(400, "BadRequest", message))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeKubernetes:
    """The ASGI app over one `ClusterState`."""

    def __init__(self, state: ClusterState, server_address: str = "127.0.0.1") -> None:
        self.state = state
        self.server_address = server_address
        item = ["GET", "PUT", "PATCH"]
        self.app = Starlette(
            routes=[
                Route("/api", self.core_versions, methods=["GET"]),
                Route("/apis", self.groups, methods=["GET"]),
                Route("/api/v1", self.core_resources, methods=["GET"]),
                Route("/apis/apps/v1", self.apps_resources, methods=["GET"]),
                Route("/api/v1/namespaces/{name}", self.namespace, methods=["GET"]),
                Route("/api/v1/namespaces/{namespace}/{plural}", self.collection, methods=["POST"]),
                Route("/api/v1/namespaces/{namespace}/{plural}/{name}", self.item, methods=item),
                Route(
                    "/apis/apps/v1/namespaces/{namespace}/{plural}",
                    self.collection,
                    methods=["POST"],
                ),
                Route(
                    "/apis/apps/v1/namespaces/{namespace}/{plural}/{name}", self.item, methods=item
                ),
            ]
        )

    # --- discovery ----------------------------------------------------------------------------

    async def core_versions(self, request: Request) -> Response:
        return self._discovery(
            request,
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}
                ],
            },
        )

    async def groups(self, request: Request) -> Response:
        apps = {"groupVersion": "apps/v1", "version": "v1"}
        group = {"name": "apps", "versions": [apps], "preferredVersion": apps}
        return self._discovery(
            request, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}
        )

    async def core_resources(self, request: Request) -> Response:
        return self._discovery(request, _resource_list(SECRETS, NAMESPACES))

    async def apps_resources(self, request: Request) -> Response:
        return self._discovery(request, _resource_list(DEPLOYMENTS))

    async def namespace(self, request: Request) -> Response:
        """A Namespace object (kubectl reads it to explain a NotFound)."""
        name = request.path_params["name"]
        try:
            self._authorize(request, NAMESPACES, None, name)
            with self.state.lock:
                if name not in self.state.namespaces:
                    raise not_found(NAMESPACES, name)
        except _RefusedError as refused:
            return refused.response
        metadata = {"name": name, "labels": {"kubernetes.io/metadata.name": name}}
        body = {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": metadata,
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        return JSONResponse(body)

    def _discovery(self, request: Request, body: dict[str, Any]) -> Response:
        try:
            self._authenticate(request)
        except _RefusedError as refused:
            return refused.response
        return JSONResponse(body)

    # --- the request pipeline -----------------------------------------------------------------

    def _authenticate(self, request: Request) -> Role:
        self.state.requests.append(f"{request.method} {request.url.path}")
        header = request.headers.get("authorization", "")
        found = (
            self.state.tokens.get(header.removeprefix("Bearer "))
            if header.startswith("Bearer ")
            else None
        )
        if found is None:
            raise _RefusedError(status(401, "Unauthorized", "Unauthorized"))
        return found

    def _authorize(self, request: Request, kind: Kind, namespace: str | None, name: str) -> None:
        who = self._authenticate(request)
        verb = _VERBS[request.method]
        if who.allows(kind.plural, verb, namespace):
            return
        subject = f'{kind.qualified} "{name}"' if name else kind.qualified
        scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        message = (
            f'{subject} is forbidden: User "{who.user}" cannot {verb} resource "{kind.plural}" '
            f'in API group "{kind.group}"{scope}'
        )
        raise _RefusedError(status(403, "Forbidden", message, _details(kind, name)))

    async def _before_write(self, kind: Kind, name: str) -> None:
        hook = self.state.hooks.pop((kind.plural, name), None)
        if hook is not None:
            await anyio.to_thread.run_sync(hook)

    def _take_write(self) -> None:
        left = self.state.writes_left
        if left is None:
            return
        if left <= 0:
            raise internal_error("an injected failure: nothing was written")
        self.state.writes_left = left - 1

    @staticmethod
    def _kind(request: Request) -> Kind:
        plural = request.path_params["plural"]
        kind = KINDS.get(plural)
        prefix = "/apis/apps/v1/" if kind is DEPLOYMENTS else "/api/v1/"
        if kind is None or not request.url.path.startswith(prefix):
            raise _RefusedError(
                status(404, "NotFound", "the server could not find the requested resource", {})
            )
        return kind

    async def collection(self, request: Request) -> Response:
        try:
            kind = self._kind(request)
            namespace = request.path_params["namespace"]
            self._authorize(request, kind, namespace, "")
            body = await _json_object(request, kind)
            name = _name_of(body, kind)
            await self._before_write(kind, name)
            with self.state.lock:
                self._take_write()
                created = self._create(kind, namespace, name, body)
            return JSONResponse(created, status_code=201)
        except _RefusedError as refused:
            return refused.response

    async def item(self, request: Request) -> Response:
        try:
            kind = self._kind(request)
            namespace, name = request.path_params["namespace"], request.path_params["name"]
            self._authorize(request, kind, namespace, name)
            if request.method == "GET":
                return JSONResponse(self._get(kind, namespace, name))
            body = (
                await _patch_body(request, self.state)
                if request.method == "PATCH"
                else (await _json_object(request, kind))
            )
            await self._before_write(kind, name)
            with self.state.lock:
                self._take_write()
                if request.method == "PATCH":
                    return JSONResponse(self._patch(kind, namespace, name, body))
                return JSONResponse(self._replace(kind, namespace, name, body))
        except _RefusedError as refused:
            return refused.response

    # --- operations (under the lock) ----------------------------------------------------------

    def _get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
        with self.state.lock:
            found = self.state.objects.get((kind.plural, namespace, name))
            if found is None:
                raise not_found(kind, name)
            return copy.deepcopy(found)

    def _create(
        self, kind: Kind, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        metadata = body.get("metadata") or {}
        if metadata.get("namespace", namespace) != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        if metadata.get("resourceVersion"):
            raise internal_error("resourceVersion should not be set on objects to be created")
        if namespace not in self.state.namespaces:
            raise not_found(NAMESPACES, namespace)
        key = (kind.plural, namespace, name)
        if key in self.state.objects:
            raise already_exists(kind, name)
        stored = _normalized(kind, namespace, name, body, old=None)
        stored["metadata"].update(
            uid=str(uuid.uuid4()),
            resourceVersion=self.state.next_version(),
            creationTimestamp=_now(),
        )
        if kind is DEPLOYMENTS:
            stored["metadata"]["generation"] = 1
        self.state.objects[key] = _ordered(stored)
        return copy.deepcopy(self.state.objects[key])

    def _replace(
        self, kind: Kind, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        metadata = body.get("metadata") or {}
        if metadata.get("name") != name:
            raise bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on "
                f"the URL ({name})"
            )
        if metadata.get("namespace", namespace) != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        key = (kind.plural, namespace, name)
        old = self.state.objects.get(key)
        if old is None:
            raise not_found(kind, name)
        wanted = metadata.get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise conflict(kind, name)
        return self._store(kind, namespace, name, body, old)

    def _patch(self, kind: Kind, namespace: str, name: str, patch: Any) -> dict[str, Any]:
        key = (kind.plural, namespace, name)
        old = self.state.objects.get(key)
        if old is None:
            raise not_found(kind, name)
        if not isinstance(patch, dict):
            raise bad_request("the patch is not a JSON object")
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise conflict(kind, name)
        merged = merge_patch(old, patch)
        return self._store(kind, namespace, name, merged, old)

    def _store(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        body: dict[str, Any],
        old: dict[str, Any],
    ) -> dict[str, Any]:
        """Validate the new object and keep it; a change bumps the resource version."""
        new = _normalized(kind, namespace, name, body, old=old)
        for kept in ("uid", "creationTimestamp", "resourceVersion", "generation"):
            if kept in old["metadata"]:
                new["metadata"][kept] = old["metadata"][kept]
        if _comparable(new) == _comparable(old):
            return copy.deepcopy(old)  # a no-op update writes nothing and keeps the version
        if kind is DEPLOYMENTS and new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        new["metadata"]["resourceVersion"] = self.state.next_version()
        self.state.objects[(kind.plural, namespace, name)] = _ordered(new)
        return copy.deepcopy(self.state.objects[(kind.plural, namespace, name)])


def _resource_list(*kinds: Kind) -> dict[str, Any]:
    resources = [
        {
            "name": kind.plural,
            "singularName": kind.kind.lower(),
            "namespaced": kind is not NAMESPACES,
            "kind": kind.kind,
            "verbs": ["get"] if kind is NAMESPACES else ["create", "get", "patch", "update"],
        }
        for kind in kinds
    ]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": kinds[0].api_version,
        "resources": resources,
    }


async def _json_object(request: Request, kind: Kind) -> dict[str, Any]:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip()
    if media != "application/json":  # a real server also takes protobuf and YAML
        raise _RefusedError(
            status(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json",
            )
        )
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise bad_request("the body of the request is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be a JSON object")
    if (
        body.get("kind", kind.kind) != kind.kind
        or body.get("apiVersion", kind.api_version) != kind.api_version
    ):
        raise bad_request(
            f"the API version in the data ({body.get('apiVersion')}) does not match the "
            f"expected API version ({kind.api_version})"
        )
    return body


async def _patch_body(request: Request, state: ClusterState) -> Any:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip()
    if media not in (MERGE_PATCH, STRATEGIC_PATCH):
        raise _RefusedError(
            status(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {MERGE_PATCH}, {STRATEGIC_PATCH}",
            )
        )
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise bad_request("the patch is not valid JSON") from None
    state.patches.append((request.url.path, media, body))
    return body


def _name_of(body: dict[str, Any], kind: Kind) -> str:
    name = (body.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise invalid(kind, "", "metadata.name", "Required value: name or generateName is required")
    return name


def _normalized(
    kind: Kind, namespace: str, name: str, body: dict[str, Any], *, old: dict[str, Any] | None
) -> dict[str, Any]:
    """The object as the server keeps it, validated; refuses what the API server refuses."""
    if not _DNS_SUBDOMAIN.match(name) or len(name) > 253:
        raise invalid(
            kind,
            name,
            "metadata.name",
            f'Invalid value: "{name}": a lowercase RFC '
            "1123 subdomain must consist of lower case alphanumeric characters, '-' "
            "or '.'",
        )
    metadata = {
        k: copy.deepcopy(v)
        for k, v in (body.get("metadata") or {}).items()
        if k not in ("uid", "creationTimestamp", "resourceVersion", "generation", "managedFields")
    }
    metadata.update(name=name, namespace=namespace)
    _check_metadata(kind, name, metadata)
    new: dict[str, Any] = {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": metadata}
    for key, value in body.items():
        if key not in ("kind", "apiVersion", "metadata", "status"):
            new[key] = copy.deepcopy(value)
    if kind is SECRETS:
        _normalize_secret(name, new, old)
    return new


def _check_metadata(kind: Kind, name: str, metadata: dict[str, Any]) -> None:
    for which in ("labels", "annotations"):
        values = metadata.get(which)
        if values is None:
            continue
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise bad_request(f"metadata.{which} must be a map of strings")
        if not values:
            del metadata[which]
        for key, value in values.items():
            if not _qualified(key):
                raise invalid(
                    kind,
                    name,
                    f"metadata.{which}",
                    f'Invalid value: "{key}": name '
                    "part must consist of alphanumeric characters, '-', '_' or '.'",
                )
            if which == "labels" and (len(value) > 63 or not _LABEL_VALUE.match(value)):
                raise invalid(
                    kind,
                    name,
                    "metadata.labels",
                    f'Invalid value: "{value}": a '
                    "valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.'",
                )
    size = sum(len(k) + len(v) for k, v in (metadata.get("annotations") or {}).items())
    if size > _MAX_ANNOTATION_BYTES:
        raise invalid(
            kind, name, "metadata.annotations", "Too long: must have at most 262144 bytes"
        )


def _qualified(key: str) -> bool:
    prefix, _, part = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return len(part) <= 63 and bool(_QUALIFIED_NAME.match(part))


def _normalize_secret(name: str, new: dict[str, Any], old: dict[str, Any] | None) -> None:
    data = new.get("data") or {}
    if not isinstance(data, dict):
        raise bad_request(
            'Secret in version "v1" cannot be handled as a Secret: data must be a map'
        )
    for key, value in (new.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    size = 0
    for key, value in data.items():
        if not isinstance(value, str):
            raise bad_request(
                'Secret in version "v1" cannot be handled as a Secret: data '
                "values must be base64 strings"
            )
        try:
            size += len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise bad_request(
                'Secret in version "v1" cannot be handled as a Secret: illegal base64 data'
            ) from None
        if len(key) > 253 or not _DATA_KEY.match(key) or key in (".", ".."):
            raise invalid(
                SECRETS,
                name,
                f"data[{key}]",
                f'Invalid value: "{key}": a valid '
                "config key must consist of alphanumeric characters, '-', '_' or "
                "'.'",
            )
    if size > _MAX_SECRET_BYTES:
        raise invalid(SECRETS, name, "data", "Too long: must have at most 1048576 bytes")
    if data:
        new["data"] = data
    else:
        new.pop("data", None)
    new.setdefault("type", "Opaque")
    if old is None:
        return
    if new["type"] != old.get("type", "Opaque"):
        raise invalid(SECRETS, name, "type", f'Invalid value: "{new["type"]}": field is immutable')
    if old.get("immutable") and (new.get("data") != old.get("data") or not new.get("immutable")):
        raise invalid(
            SECRETS, name, "data", "Forbidden: field is immutable when `immutable` is set"
        )


def _comparable(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True)


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """Top-level fields in the API server's order: kind, apiVersion, metadata, the rest."""
    first: dict[str, Any] = {k: obj[k] for k in ("kind", "apiVersion", "metadata") if k in obj}
    metadata_order = (
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "labels",
        "annotations",
    )
    meta = obj["metadata"]
    first["metadata"] = {
        **{k: meta[k] for k in metadata_order if k in meta},
        **{k: v for k, v in meta.items() if k not in metadata_order},
    }
    return {**first, **{k: v for k, v in obj.items() if k not in first}}


# --- serving ----------------------------------------------------------------------------------


@dataclass
class RunningCluster:
    """A fake API server on https://127.0.0.1:PORT, and how a client trusts and calls it."""

    url: str
    ca_file: Path
    state: ClusterState

    def token_for(self, granted: Role) -> str:
        """A bearer token for a user bound to `granted`."""
        token = f"fake-{uuid.uuid4().hex}"
        self.state.tokens[token] = granted
        return token

    def kubeconfig(
        self,
        path: Path,
        token: str,
        *,
        context: str = "fake",
        namespace: str | None = None,
        extra_contexts: tuple[str, ...] = (),
    ) -> Path:
        """Write a kubeconfig (0600) whose `context` (the current one) reaches this server."""
        ca_data = base64.b64encode(self.ca_file.read_bytes()).decode()
        cluster = {"server": self.url, "certificate-authority-data": ca_data}
        contexts = [
            {
                "name": name,
                "context": {
                    "cluster": "fake",
                    "user": "fake",
                    **({"namespace": namespace} if namespace else {}),
                },
            }
            for name in (context, *extra_contexts)
        ]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "fake", "user": {"token": token}}],
            "contexts": contexts,
            "current-context": context,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def fail_writes(self, after: int) -> None:
        with self.state.lock:
            self.state.writes_left = after

    def heal(self) -> None:
        with self.state.lock:
            self.state.writes_left = None

    def before_next_write(self, plural: str, name: str, hook: Callable[[], object]) -> None:
        """Run `hook` when the next write to that object arrives, before it is handled."""
        self.state.hooks[(plural, name)] = hook

    def add_namespace(self, name: str) -> None:
        with self.state.lock:
            self.state.namespaces.add(name)

    def add_deployment(self, namespace: str, name: str) -> None:
        """A Deployment as `kubectl create deployment NAME --image=…` would leave it."""
        labels = {"app": name}
        body = {
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
                },
            },
        }
        with self.state.lock:
            self.state.namespaces.add(namespace)
            FakeKubernetes(self.state)._create(DEPLOYMENTS, namespace, name, body)

    def stored(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as the server keeps it (wire form), or None."""
        with self.state.lock:
            found = self.state.objects.get((plural, namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def secret_data(self, namespace: str, name: str) -> dict[str, str]:
        """A Secret's data, decoded (what a pod's `envFrom: secretRef` would receive)."""
        found = self.stored("secrets", namespace, name) or {}
        return {k: base64.b64decode(v).decode() for k, v in (found.get("data") or {}).items()}


@contextmanager
def running_cluster(directory: Path) -> Iterator[RunningCluster]:
    """Serve a fresh fake API server over TLS (a throwaway CA in `directory`) until the block
    ends."""
    tls = make_tls_files(directory)
    state = ClusterState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        FakeKubernetes(state, f"127.0.0.1:{port}").app,
        log_level="warning",
        ssl_certfile=str(tls.cert_file),
        ssl_keyfile=str(tls.key_file),
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake Kubernetes API server did not start")
        time.sleep(0.01)
    try:
        yield RunningCluster(f"https://127.0.0.1:{port}", tls.ca_file, state)
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join()
        sock.close()
