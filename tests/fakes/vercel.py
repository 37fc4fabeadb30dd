"""A local fake of Vercel's REST API: project environment variables and deployments.

Written from Vercel's REST API reference, not from mpctl's sink (it shares no code with it):

- GET    /v10/projects/{idOrName}/env           ?decrypt=true|false, teamId
  https://vercel.com/docs/rest-api/projects/retrieve-the-environment-variables-of-a-project-by-id-or-name
- POST   /v10/projects/{idOrName}/env           ?upsert=true, teamId; body: one object or an array
  of {key, value, type, target[, gitBranch, comment]}; 201 {"created": ..., "failed": [...]}
  https://vercel.com/docs/rest-api/projects/create-one-or-more-environment-variables
- GET    /v1/projects/{idOrName}/env/{id}       the decrypted value of one variable
  https://vercel.com/docs/rest-api/projects/retrieve-the-decrypted-value-of-an-environment-variable-of-a-project-by-id
- PATCH  /v9/projects/{idOrName}/env/{id}       {key?, target?, type?, value?, gitBranch?, comment?}
  https://vercel.com/docs/rest-api/projects/edit-an-environment-variable
- DELETE /v9/projects/{idOrName}/env/{id}
  https://vercel.com/docs/rest-api/projects/remove-an-environment-variable
- GET    /v6/deployments                        ?projectId, target, state, limit, teamId
  https://vercel.com/docs/rest-api/deployments/list-deployments
- POST   /v13/deployments                       ?forceNew=0|1, teamId; {name, deploymentId?,
  target?, meta?}: a redeploy of `deploymentId` builds with the project's variables *now*
  https://vercel.com/docs/rest-api/deployments/create-a-new-deployment

Authentication is `Authorization: Bearer <token>`; a team project needs `teamId` (without it the
project is not found, with another team's id the token is refused). Errors are
`{"error": {"code", "message"}}`: 400 `bad_request` for a body the API would refuse (unknown
field, bad type or target), 400 `ENV_ALREADY_EXISTS` (with `key`, `envVarId`, `target`) for a
create that meets an existing key on an overlapping target without `upsert=true`, 403
`forbidden` for a missing or wrong token or team, 404 `not_found`. Values of type `encrypted`
come back as ciphertext unless decrypted (`decrypt=true`, or the v1 single-variable endpoint);
`sensitive` values never come back. Assumption (not documented): one request's variables are
applied together, so a batch create is seen whole or not at all.

Test hooks (not Vercel's API): `fail_writes(n)` makes every write after the next `n` answer 500
until `heal()`; `runtime_env(target)` is what a deployment built now would read; `deployments`
records each deployment with the variables it was built with; `wire` logs every request and
response body (for leak checks).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TARGETS = ("production", "preview", "development")
TYPES = ("system", "secret", "encrypted", "plain", "sensitive")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CREATE_FIELDS = {"key", "value", "type", "target", "gitBranch", "comment", "customEnvironmentIds"}
_EDIT_FIELDS = _CREATE_FIELDS
_DEPLOY_FIELDS = {"name", "deploymentId", "target", "meta", "project", "gitSource", "files"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": code, "message": message, **extra}}


@dataclass
class EnvVar:
    id: str
    key: str
    value: str
    type: str
    target: list[str]
    created_at: int
    updated_at: int
    git_branch: str | None = None
    comment: str | None = None

    def view(self, *, decrypt: bool) -> dict[str, Any]:
        """The variable as the API shows it; plaintext only when decrypting a readable type."""
        shown: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "type": self.type,
            "target": list(self.target),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "gitBranch": self.git_branch,
            "comment": self.comment,
            "decrypted": False,
        }
        if self.type == "sensitive":
            return shown
        if self.type == "plain" or decrypt:
            shown.update(value=self.value, decrypted=self.type != "plain")
        else:
            shown["value"] = _ciphertext(self.value)
        return shown


@dataclass
class Deployment:
    uid: str
    name: str
    project_id: str
    target: str | None
    created: int
    env: dict[str, str]
    meta: dict[str, str] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "name": self.name,
            "url": f"{self.name}-{self.uid[4:12].lower()}.vercel.app",
            "created": self.created,
            "state": "READY",
            "readyState": "READY",
            "target": self.target,
            "projectId": self.project_id,
            "meta": dict(self.meta),
        }


class VercelFake:
    """One team's project on a fake Vercel, with its env vars and deployments."""

    def __init__(
        self, *, token: str, project_id: str, project_name: str, team_id: str | None
    ) -> None:
        self.token = token
        self.project_id = project_id
        self.project_name = project_name
        self.team_id = team_id
        self.envs: list[EnvVar] = []
        self.deployments: list[Deployment] = []
        self.wire: list[str] = []
        self._budget: int | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._clock = itertools.count(1_700_000_000_000)
        self.app = Starlette(
            routes=[
                Route("/v10/projects/{project}/env", self._list_envs, methods=["GET"]),
                Route("/v10/projects/{project}/env", self._create_envs, methods=["POST"]),
                Route("/v1/projects/{project}/env/{id}", self._get_env, methods=["GET"]),
                Route("/v9/projects/{project}/env/{id}", self._edit_env, methods=["PATCH"]),
                Route("/v9/projects/{project}/env/{id}", self._delete_env, methods=["DELETE"]),
                Route("/v6/deployments", self._list_deployments, methods=["GET"]),
                Route("/v13/deployments", self._create_deployment, methods=["POST"]),
            ]
        )
        self.deployments.append(self._build("production", meta={"githubCommitRef": "main"}))

    # --- test hooks ---------------------------------------------------------------------------

    def fail_writes(self, after: int) -> None:
        self._budget = after

    def heal(self) -> None:
        self._budget = None

    def runtime_env(self, target: str = "production") -> dict[str, str]:
        """What a deployment of `target` built now reads: key → plaintext value."""
        with self._lock:
            return {e.key: e.value for e in self.envs if target in e.target and not e.git_branch}

    def wire_log(self) -> str:
        return "\n".join(self.wire)

    # --- plumbing -----------------------------------------------------------------------------

    def _build(self, target: str | None, meta: dict[str, str] | None = None) -> Deployment:
        env = {e.key: e.value for e in self.envs if (target or "preview") in e.target}
        return Deployment(
            uid=f"dpl_{secrets.token_hex(10)}",
            name=self.project_name,
            project_id=self.project_id,
            target=target,
            created=next(self._clock),
            env=env,
            meta=meta or {},
        )

    async def _call(self, request: Request, handler: Any, write: bool) -> Response:
        body = await request.body()
        try:
            self._authorize(request)
            with self._lock:
                if write:
                    self._spend_write()
                status, payload = handler(request, _json(body) if body else None)
        except ApiError as exc:
            status, payload = exc.status, exc.body
        self.wire.append(f"{request.method} {request.url} {body.decode()} -> {status} {payload}")
        return JSONResponse(payload, status_code=status)

    def _spend_write(self) -> None:
        if self._budget is None:
            return
        if self._budget <= 0:
            raise ApiError(500, "internal_server_error", "An unexpected internal error occurred")
        self._budget -= 1

    def _authorize(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not header:
            raise ApiError(
                403,
                "forbidden",
                "The request is missing an authentication token",
                missingToken=True,
            )
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or token != self.token:
            raise ApiError(403, "forbidden", "Not authorized", invalidToken=True)
        team = request.query_params.get("teamId")
        if team is not None and team != self.team_id:
            raise ApiError(403, "forbidden", "Not authorized: you are not a member of this team")
        project = request.path_params.get("project")
        if project is not None and (
            project not in (self.project_id, self.project_name)
            or (self.team_id is not None and team is None)
        ):
            raise ApiError(404, "not_found", "Project not found")

    def _find(self, env_id: str) -> EnvVar:
        for env in self.envs:
            if env.id == env_id:
                return env
        raise ApiError(404, "not_found", "Environment Variable not found")

    # --- endpoints ----------------------------------------------------------------------------

    async def _list_envs(self, request: Request) -> Response:
        def handle(req: Request, _: object) -> tuple[int, object]:
            decrypt = _flag(req, "decrypt", ("true", "false"))
            return 200, {"envs": [e.view(decrypt=decrypt == "true") for e in self.envs]}

        return await self._call(request, handle, write=False)

    async def _create_envs(self, request: Request) -> Response:
        def handle(req: Request, body: object) -> tuple[int, object]:
            upsert = req.query_params.get("upsert") == "true"
            items = body if isinstance(body, list) else [body]
            if not items:
                raise ApiError(
                    400, "bad_request", "Invalid request: should NOT have fewer than 1 items"
                )
            checked = [_checked_create(item) for item in items]
            created: list[dict[str, Any]] = []
            failed: list[dict[str, Any]] = []
            staged = list(self.envs)
            for item in checked:
                outcome = self._create_one(staged, item, upsert)
                (failed if "error" in outcome else created).append(outcome)
            if failed and not isinstance(body, list):
                return 400, failed[0]
            self.envs = staged
            return 201, {
                "created": created if isinstance(body, list) else created[0],
                "failed": failed,
            }

        return await self._call(request, handle, write=True)

    def _create_one(
        self, staged: list[EnvVar], item: dict[str, Any], upsert: bool
    ) -> dict[str, Any]:
        branch = item.get("gitBranch")
        clash = [
            e
            for e in staged
            if e.key == item["key"]
            and e.git_branch == branch
            and set(e.target) & set(item["target"])
        ]
        now = next(self._clock)
        if clash and not upsert:
            shown = ",".join(sorted(set(clash[0].target) & set(item["target"])))
            return {
                "error": {
                    "code": "ENV_ALREADY_EXISTS",
                    "message": f"A variable with the name `{item['key']}` already exists for the "
                    f"target {shown} on branch {branch or 'undefined'}",
                    "key": item["key"],
                    "envVarId": clash[0].id,
                    "target": sorted(set(clash[0].target) & set(item["target"])),
                }
            }
        if clash:
            env = clash[0]
            env.value, env.type, env.target = item["value"], item["type"], list(item["target"])
            env.updated_at = now
            return env.view(decrypt=False)
        env = EnvVar(
            id=f"{secrets.token_urlsafe(12)}{next(self._ids)}",
            key=item["key"],
            value=item["value"],
            type=item["type"],
            target=list(item["target"]),
            created_at=now,
            updated_at=now,
            git_branch=branch,
            comment=item.get("comment"),
        )
        staged.append(env)
        return env.view(decrypt=False)

    async def _get_env(self, request: Request) -> Response:
        def handle(req: Request, _: object) -> tuple[int, object]:
            return 200, self._find(req.path_params["id"]).view(decrypt=True)

        return await self._call(request, handle, write=False)

    async def _edit_env(self, request: Request) -> Response:
        def handle(req: Request, body: object) -> tuple[int, object]:
            if not isinstance(body, dict) or set(body) - _EDIT_FIELDS:
                raise ApiError(
                    400, "bad_request", "Invalid request: should NOT have additional property"
                )
            env = self._find(req.path_params["id"])
            checked = _checked_create(
                {"key": env.key, "value": env.value, "type": env.type, "target": env.target} | body
            )
            env.key, env.value, env.type = checked["key"], checked["value"], checked["type"]
            env.target = list(checked["target"])
            env.updated_at = next(self._clock)
            return 200, env.view(decrypt=False)

        return await self._call(request, handle, write=True)

    async def _delete_env(self, request: Request) -> Response:
        def handle(req: Request, _: object) -> tuple[int, object]:
            env = self._find(req.path_params["id"])
            self.envs = [e for e in self.envs if e.id != env.id]
            return 200, env.view(decrypt=False)

        return await self._call(request, handle, write=True)

    async def _list_deployments(self, request: Request) -> Response:
        def handle(req: Request, _: object) -> tuple[int, object]:
            query = req.query_params
            if self.team_id is not None and query.get("teamId") is None:
                return 200, {
                    "deployments": [],
                    "pagination": {"count": 0, "next": None, "prev": None},
                }
            found = [
                d
                for d in sorted(self.deployments, key=lambda d: d.created, reverse=True)
                if query.get("projectId") in (None, self.project_id, self.project_name)
                and query.get("target") in (None, d.target)
                and query.get("state") in (None, "READY")
            ]
            limit = int(query.get("limit", "20"))
            page = found[:limit]
            return 200, {
                "deployments": [d.view() for d in page],
                "pagination": {"count": len(page), "next": None, "prev": None},
            }

        return await self._call(request, handle, write=False)

    async def _create_deployment(self, request: Request) -> Response:
        def handle(req: Request, body: object) -> tuple[int, object]:
            _flag(req, "forceNew", ("0", "1"))
            if not isinstance(body, dict) or "name" not in body or set(body) - _DEPLOY_FIELDS:
                raise ApiError(
                    400, "bad_request", "Invalid request: missing required property `name`"
                )
            if body["name"] != self.project_name:
                raise ApiError(400, "bad_request", "The name does not match the project's name")
            source = body.get("deploymentId")
            if source is None and "gitSource" not in body and "files" not in body:
                raise ApiError(400, "missing_files", "Missing files")
            if source is not None and source not in {d.uid for d in self.deployments}:
                raise ApiError(404, "not_found", "Deployment not found")
            target = body.get("target")
            if target not in (None, "production", "staging"):
                raise ApiError(400, "bad_request", "Invalid request: `target` should be production")
            meta = body.get("meta", {})
            if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
                raise ApiError(400, "bad_request", "Invalid request: `meta` values must be strings")
            deployment = self._build(target, meta)
            self.deployments.append(deployment)
            view = deployment.view()
            return 200, {**view, "id": deployment.uid, "readyState": "QUEUED"}

        return await self._call(request, handle, write=True)


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_request", "Invalid JSON") from None


def _flag(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name)
    if value is not None and value not in allowed:
        raise ApiError(400, "bad_request", f"Invalid request: `{name}` should be one of {allowed}")
    return value


def _checked_create(item: object) -> dict[str, Any]:
    """One create/edit body item, refused as the API refuses it."""
    if not isinstance(item, dict):
        raise ApiError(400, "bad_request", "Invalid request: should be object")
    extra = set(item) - _CREATE_FIELDS
    if extra:
        raise ApiError(
            400,
            "bad_request",
            f"Invalid request: should NOT have additional property `{min(extra)}`",
        )
    for name in ("key", "value", "type", "target"):
        if name not in item:
            raise ApiError(
                400, "bad_request", f"Invalid request: missing required property `{name}`"
            )
    if not isinstance(item["key"], str) or not _KEY.match(item["key"]):
        raise ApiError(400, "bad_request", "The name of the Environment Variable is invalid")
    if not isinstance(item["value"], str):
        raise ApiError(400, "bad_request", "Invalid request: `value` should be string")
    if item["type"] not in TYPES:
        raise ApiError(400, "bad_request", f"Invalid request: `type` should be one of {TYPES}")
    target = item["target"]
    if not isinstance(target, list) or not target or not set(target) <= set(TARGETS):
        raise ApiError(400, "bad_request", "Invalid request: `target` should be a non-empty list")
    if item["type"] == "sensitive" and "development" in target:
        raise ApiError(400, "bad_request", "Sensitive variables cannot target development")
    return item


def _ciphertext(value: str) -> str:
    """What an encrypted value looks like undecrypted: opaque, and not the plaintext."""
    digest = base64.b64encode(secrets.token_bytes(12) + str(len(value)).encode()).decode()
    return f"enc:{digest}"


@contextmanager
def serve(fake: VercelFake, port: int = 0) -> Iterator[str]:
    """Run `fake` behind uvicorn on 127.0.0.1 (a free port by default) in a thread; yields its
    base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(fake.app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
