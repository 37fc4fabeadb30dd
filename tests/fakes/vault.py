"""A local HashiCorp Vault (KV v2, AppRole and Kubernetes login, ACL policies) for the sink tests.

Implements, on 127.0.0.1 (plain HTTP, or TLS with a throwaway CA), the documented endpoints the
vault-kv sink calls, and nothing else:

- KV v2 data: `GET /v1/<mount>/data/<path>[?version=N]` (latest when N is 0 or absent; 404
  `{"errors":[]}` for a missing secret or version), `POST /v1/<mount>/data/<path>` with
  `{"options": {"cas": N}, "data": {...}}`: a new version; with `cas` it must equal the
  current version (0: no version yet), else 400 "check-and-set parameter did not match the
  current version"; without `cas` on a `cas_required` secret (or mount) 400 "check-and-set
  parameter required for this call"; versions beyond `max_versions` (10 when 0) are dropped.
  https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version
  https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#create-update-secret
- KV v2 metadata: `GET /v1/<mount>/metadata/<path>` (cas_required, created_time,
  current_version, custom_metadata, delete_version_after, max_versions, oldest_version,
  updated_time, versions), `POST` (creates the entry if missing; `custom_metadata` replaces the
  whole map: at most 64 keys, keys 1-128 bytes, values 1-512 bytes; fields not sent are kept),
  204 with no body.
  https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-metadata
  https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#create-update-metadata
- Login: `POST /v1/auth/<mount>/login` for AppRole (`role_id`, `secret_id`; 400 "invalid role
  or secret ID") and Kubernetes (`role`, `jwt`; 400 `invalid role name "<role>"`, 403
  "permission denied" for a JWT the role does not trust); the answer's `auth` block holds
  `client_token`, `accessor`, `policies`, `token_policies`, `metadata`, `lease_duration`,
  `renewable`. https://developer.hashicorp.com/vault/api-docs/auth/approle#login-with-approle
  https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#login
- `GET /v1/auth/token/lookup-self` (the default policy allows it).
  https://developer.hashicorp.com/vault/api-docs/auth/token#lookup-a-token-self
- `GET /v1/sys/internal/ui/mounts/<mount>`: the mount's `type` and `options.version`, as the
  vault CLI asks before a KV call (a KV version 1 mount of the fake answers no KV v2 call).
  https://developer.hashicorp.com/vault/api-docs/system/internal-ui-mounts
- Every other request needs `X-Vault-Token`: a missing or unknown token, or one from another
  `X-Vault-Namespace`, or a path its policies do not grant, is 403 `{"errors":["permission
  denied"]}`. Policies are Vault's HCL `path "..." { capabilities = [...] }` (exact paths and a
  trailing `*` glob; the most specific path wins); a data or metadata POST needs `create` when
  the secret has no metadata yet, else `update`.
  https://developer.hashicorp.com/vault/docs/concepts/policies
- Answers use Vault's envelope: `request_id`, `lease_id`, `renewable`, `lease_duration`,
  `data`, `wrap_info`, `warnings`, `auth`; errors are `{"errors": [...]}`.

Must not share code with mpctl's sink (it is written from the API docs, and checked against a
real OpenBao server by tests/sinks/test_vault.py), nor be imported by mpctl.

Test hooks (not part of the API): `fail_writes(n)` makes every KV write after the next `n`
fail with 500 before anything is stored, until `heal()`; `before_next_write(fn)` runs `fn` (a
racing writer) just before the next KV data write is handled; `requests` lists "METHOD path".
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.tls import make_tls_files

ROOT_TOKEN = "root"
_DEFAULT_MAX_VERSIONS = 10
_RULE = re.compile(r'path\s+"([^"]+)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]\s*\}')
_ALL = frozenset({"create", "read", "update", "delete", "list", "patch", "sudo"})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Version:
    data: dict[str, Any]
    created_time: str
    deletion_time: str = ""
    destroyed: bool = False

    def metadata(self, number: int, custom: dict[str, str] | None) -> dict[str, Any]:
        return {
            "created_time": self.created_time,
            "custom_metadata": custom,
            "deletion_time": self.deletion_time,
            "destroyed": self.destroyed,
            "version": number,
        }


@dataclass
class _Secret:
    """One key's metadata and versions."""

    created_time: str = field(default_factory=_now)
    updated_time: str = field(default_factory=_now)
    current_version: int = 0
    oldest_version: int = 0
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: str = "0s"
    custom_metadata: dict[str, str] | None = None
    versions: dict[int, _Version] = field(default_factory=dict)


@dataclass
class _Token:
    policies: tuple[str, ...]
    namespace: str


@dataclass
class _Login:
    """An AppRole (secret = secret_id) or a Kubernetes role (secret = the JWT it trusts)."""

    secret: str
    policies: tuple[str, ...]


@dataclass
class VaultState:
    """Everything the fake Vault holds; tests may read it (never mpctl)."""

    kv: dict[tuple[str, str], dict[str, _Secret]] = field(default_factory=dict)
    """(namespace, mount) → path → secret."""
    policies: dict[str, list[tuple[str, frozenset[str]]]] = field(default_factory=dict)
    tokens: dict[str, _Token] = field(default_factory=dict)
    approles: dict[tuple[str, str], dict[str, _Login]] = field(default_factory=dict)
    """(namespace, auth mount) → role_id → secret_id and policies."""
    kubernetes: dict[tuple[str, str], dict[str, _Login]] = field(default_factory=dict)
    """(namespace, auth mount) → role → trusted JWT and policies."""
    kv_versions: dict[tuple[str, str], int] = field(default_factory=dict)
    """(namespace, mount) → KV version (a version 1 mount answers no KV v2 call)."""
    writes_left: int | None = None
    before_write: list[Callable[[], object]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def secret(self, path: str, *, mount: str = "secret", namespace: str = "") -> _Secret:
        """A stored secret (KeyError if there is none)."""
        return self.kv[(namespace, mount)][path]

    def put(
        self, path: str, data: dict[str, Any], *, mount: str = "secret", namespace: str = ""
    ) -> int:
        """Another writer's `vault kv put` (no cas): a new version, its number."""
        with self.lock:
            secret = self.kv[(namespace, mount)].setdefault(path, _Secret())
            return _add_version(secret, data)


def parse_policy(hcl: str) -> list[tuple[str, frozenset[str]]]:
    """The `path "..." { capabilities = [...] }` rules of a Vault policy (comments ignored)."""
    text = "\n".join(line.split("#", 1)[0] for line in hcl.splitlines())
    rules = [
        (path, frozenset(c.strip().strip('"') for c in caps.split(",") if c.strip()))
        for path, caps in _RULE.findall(text)
    ]
    if not rules:
        raise ValueError("no path rules in the policy")
    return rules


def _allowed(rules: list[tuple[str, frozenset[str]]], path: str) -> frozenset[str]:
    """Capabilities on `path`: the exact rule, else the longest matching `*` glob (rules for
    the same path from several policies add up), as Vault's ACL does."""
    exact = [caps for rule, caps in rules if rule == path]
    if exact:
        return frozenset().union(*exact)
    globs = [
        (rule, caps) for rule, caps in rules if rule.endswith("*") and path.startswith(rule[:-1])
    ]
    if not globs:
        return frozenset()
    longest = max(len(rule) for rule, _ in globs)
    return frozenset().union(*(caps for rule, caps in globs if len(rule) == longest))


def _add_version(secret: _Secret, data: dict[str, Any]) -> int:
    secret.current_version += 1
    secret.versions[secret.current_version] = _Version(data, _now())
    secret.updated_time = _now()
    keep = secret.max_versions or _DEFAULT_MAX_VERSIONS
    for number in sorted(secret.versions)[:-keep]:
        del secret.versions[number]
    secret.oldest_version = min(secret.versions) if secret.versions else 0
    return secret.current_version


def envelope(
    data: Any = None, *, auth: dict[str, Any] | None = None, status: int = 200
) -> JSONResponse:
    """Vault's answer envelope."""
    body = {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": None,
        "auth": auth,
    }
    return JSONResponse(body, status_code=status)


def errors(status: int, *messages: str) -> JSONResponse:
    return JSONResponse({"errors": list(messages)}, status_code=status)


class _RefusedError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _denied() -> _RefusedError:
    return _RefusedError(errors(403, "permission denied"))


def _bad(message: str) -> _RefusedError:
    return _RefusedError(errors(400, message))


class FakeVault:
    """The ASGI app over one `VaultState`."""

    def __init__(self, state: VaultState) -> None:
        self.state = state
        self.app = Starlette(
            routes=[
                Route(
                    "/v1/{rest:path}",
                    self.dispatch,
                    methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                )
            ]
        )

    async def dispatch(self, request: Request) -> Response:
        rest = request.path_params["rest"].strip("/")
        namespace = request.headers.get("x-vault-namespace", "").strip("/")
        self.state.requests.append(f"{request.method} /v1/{rest}")
        try:
            if rest == "auth/token/lookup-self":
                return self._lookup_self(request, namespace)
            if rest.startswith("sys/internal/ui/mounts/"):
                return self._mount(request, namespace, rest.removeprefix("sys/internal/ui/mounts/"))
            login = re.fullmatch(r"auth/(.+)/login", rest)
            if login and request.method in ("POST", "PUT"):
                return self._login(namespace, login.group(1), await _json_object(request))
            return await self._kv(request, namespace, rest)
        except _RefusedError as refused:
            return refused.response

    # --- auth -------------------------------------------------------------------------------

    def _token(self, request: Request, namespace: str) -> _Token:
        token = self.state.tokens.get(request.headers.get("x-vault-token", ""))
        if token is None or token.namespace != namespace:
            raise _denied()
        return token

    def _lookup_self(self, request: Request, namespace: str) -> Response:
        token = self._token(request, namespace)
        return envelope({"policies": sorted(token.policies), "ttl": 0, "type": "service"})

    def _mount(self, request: Request, namespace: str, mount: str) -> Response:
        """What the vault CLI asks before a KV call: the mount's type and KV version."""
        self._token(request, namespace)
        version = self.state.kv_versions.get((namespace, mount))
        if version is None:
            raise _RefusedError(errors(400, f"no mount found at path {mount!r}"))
        return envelope({"type": "kv", "path": f"{mount}/", "options": {"version": str(version)}})

    def _login(self, namespace: str, mount: str, body: dict[str, Any]) -> Response:
        approles = self.state.approles.get((namespace, mount))
        if approles is not None:
            role = approles.get(str(body.get("role_id", "")))
            if role is None or body.get("secret_id") != role.secret:
                raise _bad("invalid role or secret ID")
            return self._issue(namespace, role.policies, {"role_name": "mpctl"})
        roles = self.state.kubernetes.get((namespace, mount))
        if roles is not None:
            name = str(body.get("role", ""))
            role = roles.get(name)
            if role is None:
                raise _bad(f'invalid role name "{name}"')
            if body.get("jwt") != role.secret:
                raise _denied()
            metadata = {
                "role": name,
                "service_account_name": "mpctl",
                "service_account_namespace": "default",
                "service_account_secret_name": "",
                "service_account_uid": str(uuid.uuid4()),
            }
            return self._issue(namespace, role.policies, metadata)
        raise _RefusedError(errors(404, f"no handler for route 'auth/{mount}/login'"))

    def _issue(
        self, namespace: str, policies: tuple[str, ...], metadata: dict[str, str]
    ) -> Response:
        token = f"hvs.fake{uuid.uuid4().hex}"
        self.state.tokens[token] = _Token(("default", *policies), namespace)
        auth = {
            "client_token": token,
            "accessor": str(uuid.uuid4()),
            "policies": ["default", *policies],
            "token_policies": ["default", *policies],
            "metadata": metadata,
            "lease_duration": 2764800,
            "renewable": True,
        }
        return envelope(None, auth=auth)

    def _authorize(self, token: _Token, path: str, capability: str) -> None:
        if "root" in token.policies:
            return
        rules = [rule for name in token.policies for rule in self.state.policies.get(name, [])]
        allowed = _allowed(rules, path)
        if "deny" in allowed or capability not in allowed:
            raise _denied()

    # --- KV v2 ------------------------------------------------------------------------------

    async def _kv(self, request: Request, namespace: str, rest: str) -> Response:
        token = self._token(request, namespace)
        mounts = [
            m
            for ns, m in self.state.kv
            if ns == namespace
            and rest.startswith(m + "/")
            and self.state.kv_versions.get((ns, m), 2) == 2
        ]
        if not mounts:
            raise _RefusedError(errors(404, f"no handler for route '{rest}'"))
        mount = max(mounts, key=len)
        kind, _, path = rest[len(mount) + 1 :].partition("/")
        if kind not in ("data", "metadata") or not path:
            raise _RefusedError(errors(405, "unsupported operation"))
        secrets = self.state.kv[(namespace, mount)]
        if request.method == "GET":
            self._authorize(token, rest, "read")
            if kind == "data":
                return self._read_data(request, secrets.get(path))
            return self._read_metadata(secrets.get(path))
        if request.method not in ("POST", "PUT"):
            raise _RefusedError(errors(405, "unsupported operation"))
        self._authorize(token, rest, "update" if path in secrets else "create")
        body = await _json_object(request)
        if kind == "data":
            for racing in self._take_racers():
                racing()
        with self.state.lock:
            self._take_write()
            if kind == "data":
                return self._write_data(secrets, path, body)
            return self._write_metadata(secrets, path, body)

    def _take_racers(self) -> list[Callable[[], object]]:
        with self.state.lock:
            racers, self.state.before_write[:] = list(self.state.before_write), []
        return racers

    def _take_write(self) -> None:
        left = self.state.writes_left
        if left is None:
            return
        if left <= 0:
            raise _RefusedError(errors(500, "injected failure: nothing was written"))
        self.state.writes_left = left - 1

    def _read_data(self, request: Request, secret: _Secret | None) -> Response:
        raw = request.query_params.get("version", "0")
        if not raw.isdigit():
            raise _bad("version must be a non-negative integer")
        number = int(raw) or (secret.current_version if secret else 0)
        version = secret.versions.get(number) if secret else None
        if secret is None or version is None:
            return errors(404)
        metadata = version.metadata(number, secret.custom_metadata)
        if version.deletion_time or version.destroyed:
            return envelope({"data": None, "metadata": metadata}, status=404)
        return envelope({"data": version.data, "metadata": metadata})

    def _read_metadata(self, secret: _Secret | None) -> Response:
        if secret is None:
            return errors(404)
        versions = {
            str(n): {
                "created_time": v.created_time,
                "deletion_time": v.deletion_time,
                "destroyed": v.destroyed,
            }
            for n, v in sorted(secret.versions.items())
        }
        return envelope(
            {
                "cas_required": secret.cas_required,
                "created_time": secret.created_time,
                "current_version": secret.current_version,
                "custom_metadata": secret.custom_metadata,
                "delete_version_after": secret.delete_version_after,
                "max_versions": secret.max_versions,
                "oldest_version": secret.oldest_version,
                "updated_time": secret.updated_time,
                "versions": versions,
            }
        )

    def _write_data(self, secrets: dict[str, _Secret], path: str, body: dict[str, Any]) -> Response:
        data = body.get("data")
        if not isinstance(data, dict):
            raise _bad("no data provided")
        options = body.get("options") or {}
        secret = secrets.get(path)
        current = secret.current_version if secret else 0
        cas = options.get("cas") if isinstance(options, dict) else None
        if cas is None and secret is not None and secret.cas_required:
            raise _bad("check-and-set parameter required for this call")
        if cas is not None and cas != current:
            raise _bad("check-and-set parameter did not match the current version")
        secret = secrets.setdefault(path, _Secret())
        number = _add_version(secret, data)
        return envelope(secret.versions[number].metadata(number, secret.custom_metadata))

    def _write_metadata(
        self, secrets: dict[str, _Secret], path: str, body: dict[str, Any]
    ) -> Response:
        custom = body.get("custom_metadata")
        if custom is not None:
            _check_custom_metadata(custom)
        max_versions = body.get("max_versions")
        if max_versions is not None and (not isinstance(max_versions, int) or max_versions < 0):
            raise _bad("max_versions must be a non-negative integer")
        secret = secrets.setdefault(path, _Secret())
        if custom is not None:
            secret.custom_metadata = dict(custom)
        if max_versions is not None:
            secret.max_versions = max_versions
        if isinstance(body.get("cas_required"), bool):
            secret.cas_required = body["cas_required"]
        if isinstance(body.get("delete_version_after"), str):
            secret.delete_version_after = body["delete_version_after"]
        secret.updated_time = _now()
        return Response(status_code=204)


def _check_custom_metadata(custom: object) -> None:
    if not isinstance(custom, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in custom.items()
    ):
        raise _bad("custom_metadata must be a map of strings to strings")
    if len(custom) > 64:
        raise _bad(
            "1 error occurred:\n\t* custom_metadata validation failed: payload must contain at "
            f"most 64 keys, provided {len(custom)}\n\n"
        )
    for key, value in custom.items():
        if not 0 < len(key.encode()) <= 128:
            raise _bad(
                f'custom_metadata validation failed: length of key "{key}" is '
                f"{len(key.encode())} but must be 0 < len(key) <= 128"
            )
        if not 0 < len(value.encode()) <= 512:
            raise _bad(
                f'custom_metadata validation failed: length of value for key "{key}" is '
                f"{len(value.encode())} but must be 0 < len(value) <= 512"
            )


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _bad("failed to parse JSON input") from None
    if not isinstance(body, dict):
        raise _bad("failed to parse JSON input: not an object")
    return body


# --- serving ----------------------------------------------------------------------------------


@dataclass
class RunningVault:
    """A fake Vault on 127.0.0.1, and how a test sets it up and breaks it."""

    url: str
    state: VaultState
    ca_file: Path | None = None

    def enable_kv(self, mount: str = "secret", *, namespace: str = "", version: int = 2) -> None:
        self.state.kv.setdefault((namespace, mount), {})
        self.state.kv_versions[(namespace, mount)] = version

    def add_policy(self, name: str, hcl: str) -> None:
        self.state.policies[name] = parse_policy(hcl)

    def token_for(self, *policies: str, namespace: str = "") -> str:
        """A token with these policies (and `default`), as `vault token create` makes."""
        token = f"hvs.fake{uuid.uuid4().hex}"
        self.state.tokens[token] = _Token(("default", *policies), namespace)
        return token

    def add_approle(
        self, role_id: str, secret_id: str, *policies: str, mount: str = "approle"
    ) -> None:
        self.state.approles.setdefault(("", mount), {})[role_id] = _Login(secret_id, policies)

    def add_kubernetes_role(
        self, role: str, jwt: str, *policies: str, mount: str = "kubernetes"
    ) -> None:
        self.state.kubernetes.setdefault(("", mount), {})[role] = _Login(jwt, policies)

    def fail_writes(self, after: int) -> None:
        with self.state.lock:
            self.state.writes_left = after

    def heal(self) -> None:
        with self.state.lock:
            self.state.writes_left = None

    def before_next_write(self, racing: Callable[[], object]) -> None:
        with self.state.lock:
            self.state.before_write.append(racing)


@contextmanager
def running_vault(tls_directory: Path | None = None) -> Iterator[RunningVault]:
    """Serve a fresh fake Vault (a `secret/` KV v2 mount, the root token `root`) until the block
    ends; over TLS with a throwaway CA in `tls_directory` when one is given."""
    state = VaultState()
    state.tokens[ROOT_TOKEN] = _Token(("root",), "")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options: dict[str, Any] = {}
    ca_file = None
    if tls_directory is not None:
        tls = make_tls_files(tls_directory)
        options = {"ssl_certfile": str(tls.cert_file), "ssl_keyfile": str(tls.key_file)}
        ca_file = tls.ca_file
    config = uvicorn.Config(FakeVault(state).app, log_level="warning", lifespan="off", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake Vault did not start")
        time.sleep(0.01)
    scheme = "https" if ca_file else "http"
    running = RunningVault(f"{scheme}://127.0.0.1:{port}", state, ca_file)
    running.enable_kv()
    try:
        yield running
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join()
        sock.close()
