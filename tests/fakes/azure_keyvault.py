"""A local Azure Key Vault (secrets data plane), served over TLS on 127.0.0.1 for the sink tests.

Implements the documented Secrets REST API 7.x that azure-keyvault-secrets calls, and nothing
else (the sink must not need more):

- Set Secret: `PUT /secrets/{name}?api-version=` with `{"value", "contentType", "tags",
  "attributes"}`; every set makes a new version (32 hex digits).
  https://learn.microsoft.com/rest/api/keyvault/secrets/set-secret/set-secret
- Get Secret: `GET /secrets/{name}/{version}` (an empty version is the latest); a disabled
  version is 403 Forbidden (innererror SecretDisabled).
  https://learn.microsoft.com/rest/api/keyvault/secrets/get-secret/get-secret
- Get Secret Versions: `GET /secrets/{name}/versions?maxresults=` (at most 25 per page,
  `nextLink` to follow); SecretItems carry no value.
  https://learn.microsoft.com/rest/api/keyvault/secrets/get-secret-versions/get-secret-versions
- Update Secret: `PATCH /secrets/{name}/{version}` (contentType, attributes, tags; no value).
  https://learn.microsoft.com/rest/api/keyvault/secrets/update-secret/update-secret
- Authentication: a request without a bearer token gets 401 with `WWW-Authenticate: Bearer
  authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net"`
  (the SDK's challenge flow); an unknown token 401 as well.
  https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses
- Errors: `{"error": {"code", "message", "innererror"?}}`: 400 BadParameter (bad name, bad
  body, unknown api-version), 401 Unauthorized, 403 Forbidden (ForbiddenByRbac naming the data
  action the caller's role lacks), 404 SecretNotFound, 500 for injected failures.
  https://learn.microsoft.com/azure/key-vault/general/rest-error-codes
- Authorization follows the built-in RBAC roles: "Key Vault Secrets Officer" may do everything
  here, "Key Vault Secrets User" only getSecret and readMetadata (list versions).
  https://learn.microsoft.com/azure/key-vault/general/rbac-guide

Test hooks (not part of the API): `fail_writes(n)` makes every write after the next `n` fail
with 500 before anything is stored, until `heal()`; `requests` lists "METHOD path" of every call.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.tls import make_tls_files

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
RESOURCE = "https://vault.azure.net"
API_VERSIONS = frozenset({"7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6"})
OFFICER = "Key Vault Secrets Officer"
USER = "Key Vault Secrets User"
_ACTION = "Microsoft.KeyVault/vaults/secrets/{}"
ROLE_ACTIONS = {
    OFFICER: frozenset({"getSecret/action", "setSecret/action", "readMetadata/action",
                        "update/action", "delete"}),
    USER: frozenset({"getSecret/action", "readMetadata/action"}),
}  # fmt: skip
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_MAX_VALUE_BYTES = 25 * 1024
_MAX_TAGS = 15
_PAGE = 25


@dataclass
class _Version:
    version: str
    value: str
    content_type: str | None
    tags: dict[str, str]
    enabled: bool
    created: int
    updated: int


@dataclass
class VaultState:
    """The vault's secrets (name → versions, oldest first), tokens and injected failures."""

    secrets: dict[str, list[_Version]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    """bearer token → the role of its principal."""
    writes_left: int | None = None
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _error(status: int, code: str, message: str, inner: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if inner:
        body["innererror"] = {"code": inner}
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
            f'resource="{RESOURCE}"'
        )
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _not_found(name: str) -> JSONResponse:
    return _error(
        404,
        "SecretNotFound",
        f"A secret with (name/id) {name} was not found in this key vault. If you recently "
        "deleted this secret you may be able to recover it using the correct recovery command. "
        "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
    )


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _attributes(version: _Version) -> dict[str, Any]:
    return {
        "enabled": version.enabled,
        "created": version.created,
        "updated": version.updated,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    }


def _item(request: Request, name: str, version: _Version, *, value: bool) -> dict[str, Any]:
    """A SecretBundle (with the value) or a SecretItem (list results, no value)."""
    body: dict[str, Any] = {}
    if value:
        body["value"] = version.value
    body["id"] = f"{_base(request)}/secrets/{name}/{version.version}"
    if version.content_type is not None:
        body["contentType"] = version.content_type
    body["attributes"] = _attributes(version)
    if version.tags:
        body["tags"] = version.tags
    return body


class _RefusedError(Exception):
    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def _bad(message: str) -> _RefusedError:
    return _RefusedError(_error(400, "BadParameter", message))


class FakeKeyVault:
    """The ASGI app over one `VaultState`."""

    def __init__(self, state: VaultState) -> None:
        self.state = state
        self.app = Starlette(
            routes=[
                Route("/secrets/{name}", self.dispatch, methods=["PUT", "GET", "PATCH"]),
                Route("/secrets/{name}/versions", self.versions, methods=["GET"]),
                Route("/secrets/{name}/{version}", self.dispatch, methods=["GET", "PATCH"]),
                Route("/secrets/{name}/", self.dispatch, methods=["GET", "PATCH"]),
            ]
        )

    # --- the request pipeline -----------------------------------------------------------------

    def _check(self, request: Request, action: str, name: str) -> None:
        """Authentication, api-version, the secret name and the role, in the service's order."""
        self.state.requests.append(f"{request.method} {request.url.path}")
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise _RefusedError(
                _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
            )
        role = self.state.tokens.get(header.removeprefix("Bearer "))
        if role is None:
            raise _RefusedError(_error(401, "Unauthorized", "AKV10032: Invalid issuer or token."))
        api_version = request.query_params.get("api-version")
        if api_version not in API_VERSIONS:
            raise _bad(
                f"The specified version ({api_version}) is not recognized. Consider using the "
                "latest supported version (7.6)."
            )
        if not _NAME.match(name):
            raise _bad(f"The request URI contains an invalid name: {name}")
        if action not in ROLE_ACTIONS[role]:
            raise _RefusedError(
                _error(
                    403,
                    "Forbidden",
                    "Caller is not authorized to perform action on resource.\r\n"
                    "If role assignments, deny assignments or role definitions were changed "
                    "recently, please observe propagation time.\r\n"
                    "Caller: appid=00000000-0000-0000-0000-000000000001;oid=mpctl-test\r\n"
                    f"Action: '{_ACTION.format(action)}'\r\n"
                    f"Resource: '/vaults/mpctl-test/secrets/{name}'\r\n"
                    "Assignment: (not found)\r\n",
                    "ForbiddenByRbac",
                )
            )

    def _take_write(self) -> None:
        left = self.state.writes_left
        if left is None:
            return
        if left <= 0:
            raise _RefusedError(
                _error(500, "InternalServerError", "An injected failure: nothing was written.")
            )
        self.state.writes_left = left - 1

    async def dispatch(self, request: Request) -> Response:
        name = request.path_params["name"]
        version = request.path_params.get("version", "")
        try:
            if request.method == "PUT":
                return await self._set(request, name)
            if request.method == "PATCH":
                return await self._update(request, name, version)
            return self._get(request, name, version)
        except _RefusedError as refused:
            return refused.response

    async def versions(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            self._check(request, "readMetadata/action", name)
            size = _int_param(request, "maxresults", _PAGE)
            if not 1 <= size <= _PAGE:
                raise _bad(f"maxresults must be between 1 and {_PAGE}")
            skip = _int_param(request, "$skiptoken", 0)
        except _RefusedError as refused:
            return refused.response
        with self.state.lock:
            versions = list(self.state.secrets.get(name, ()))
        page = versions[skip : skip + size]
        next_link = None
        if skip + size < len(versions):
            next_link = (
                f"{_base(request)}/secrets/{name}/versions?api-version="
                f"{request.query_params['api-version']}&$skiptoken={skip + size}&maxresults={size}"
            )
        items = [_item(request, name, v, value=False) for v in page]
        return JSONResponse({"value": items, "nextLink": next_link})

    # --- operations ---------------------------------------------------------------------------

    async def _set(self, request: Request, name: str) -> Response:
        self._check(request, "setSecret/action", name)
        body = await _json_object(request)
        value = body.get("value")
        if not isinstance(value, str):
            raise _bad("Property value is required and must be a string.")
        if len(value.encode("utf-8")) > _MAX_VALUE_BYTES:
            raise _bad("Secret value exceeds the maximum size of 25 KB.")
        content_type = _content_type(body)
        tags = _tags(body.get("tags"))
        enabled = _enabled(body.get("attributes"))
        now = int(time.time())
        with self.state.lock:
            self._take_write()
            stored = _Version(uuid.uuid4().hex, value, content_type, tags, enabled, now, now)
            self.state.secrets.setdefault(name, []).append(stored)
        return JSONResponse(_item(request, name, stored, value=True))

    def _get(self, request: Request, name: str, version: str) -> Response:
        self._check(request, "getSecret/action", name)
        found = self._find(name, version)
        if found is None:
            return _not_found(name)
        if not found.enabled:
            return _error(
                403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                "SecretDisabled",
            )  # fmt: skip
        return JSONResponse(_item(request, name, found, value=True))

    async def _update(self, request: Request, name: str, version: str) -> Response:
        self._check(request, "update/action", name)
        body = await _json_object(request)
        if "value" in body:
            raise _bad("The value of a secret version cannot be updated; set a new version.")
        with self.state.lock:
            found = self._find(name, version)
            if found is None:
                return _not_found(name)
            self._take_write()
            if "contentType" in body:
                found.content_type = _content_type(body)
            if "tags" in body:
                found.tags = _tags(body["tags"])
            if body.get("attributes") is not None:
                found.enabled = _enabled(body["attributes"], default=found.enabled)
            found.updated = int(time.time())
        return JSONResponse(_item(request, name, found, value=False))

    def _find(self, name: str, version: str) -> _Version | None:
        versions = self.state.secrets.get(name, [])
        if not version:
            return versions[-1] if versions else None
        return next((v for v in versions if v.version == version), None)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise _bad(f"The query parameter {name} is not a valid integer.")
    return int(raw)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise _bad("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    return body


def _content_type(body: dict[str, Any]) -> str | None:
    content_type = body.get("contentType")
    if content_type is not None and (not isinstance(content_type, str) or len(content_type) > 255):
        raise _bad("contentType must be a string of at most 255 characters.")
    return content_type


def _tags(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise _bad("Tags must be a JSON object of string values.")
    if len(raw) > _MAX_TAGS:
        raise _bad(f"A secret can have at most {_MAX_TAGS} tags.")
    for key, value in raw.items():
        if len(key) > 512 or len(value) > 256:
            raise _bad("Tag names are at most 512 characters and tag values at most 256.")
    return dict(raw)


def _enabled(raw: object, *, default: bool = True) -> bool:
    if raw is None:
        return default
    if not isinstance(raw, dict):
        raise _bad("attributes must be a JSON object.")
    enabled = raw.get("enabled", default)
    if not isinstance(enabled, bool):
        raise _bad("attributes.enabled must be a boolean.")
    return enabled


# --- serving ----------------------------------------------------------------------------------


@dataclass
class RunningVault:
    """A fake vault listening on https://127.0.0.1:PORT, and how a client trusts and calls it."""

    url: str
    ca_file: Path
    state: VaultState

    def token_for(self, role: str) -> str:
        """A bearer token for a principal holding `role` on the vault."""
        token = f"fake-{uuid.uuid4().hex}"
        self.state.tokens[token] = role
        return token

    def fail_writes(self, after: int) -> None:
        with self.state.lock:
            self.state.writes_left = after

    def heal(self) -> None:
        with self.state.lock:
            self.state.writes_left = None


@contextmanager
def running_vault(directory: Path) -> Iterator[RunningVault]:
    """Serve a fresh fake vault over TLS (a throwaway CA in `directory`) until the block ends."""
    tls = make_tls_files(directory)
    state = VaultState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        FakeKeyVault(state).app,
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
            raise RuntimeError("the fake Key Vault did not start")
        time.sleep(0.01)
    try:
        yield RunningVault(f"https://127.0.0.1:{port}", tls.ca_file, state)
    finally:
        server.should_exit = True
        server.force_exit = True  # do not wait for the SDK's keep-alive connections to close
        thread.join()
        sock.close()


@dataclass
class FixedTokenCredential:
    """A `TokenCredential` that hands out one fixed token and records what it was asked for."""

    token: str
    asked: list[tuple[tuple[str, ...], str | None]] = field(default_factory=list)

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> Any:
        from azure.core.credentials import AccessToken

        self.asked.append((scopes, tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)

    def __repr__(self) -> str:
        return "FixedTokenCredential(<token hidden>)"
