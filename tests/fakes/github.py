"""A local fake of GitHub's REST API for Actions environment secrets and variables.

Implements, for repositories and environments the test declares, exactly the documented
endpoints the github-environment sink uses (API version 2022-11-28):

- GET    /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key
         → 200 {"key_id", "key"} (a real libsodium key pair: the test keeps the private half)
- PUT    …/secrets/{secret_name} {"encrypted_value", "key_id"} → 201 created / 204 updated;
         422 when a field is missing, the key_id is not the environment's, or the value is not
         base64 of a sealed box
- GET    …/secrets/{secret_name} → 200 {"name", "created_at", "updated_at"} (never the value); 404
- DELETE …/secrets/{secret_name} → 204; 404 when there is none
- GET    …/variables/{name} → 200 {"name", "value", "created_at", "updated_at"}; 404
- POST   …/variables {"name", "value"} → 201 {}; 409 when it already exists
- PATCH  …/variables/{name} {"name"?, "value"?} → 204; 404 when there is none
- DELETE …/variables/{name} → 204

Secret and variable names are case-insensitive and stored upper-case; a name that is not
letters, digits and `_`, starts with a digit or with GITHUB_ is refused with 422. Every request
needs `Authorization: Bearer <token>` (or `token <token>`) → 401 {"message": "Bad credentials"}
otherwise; an `X-GitHub-Api-Version` other than 2022-11-28 → 400; an unknown repository or
environment → 404 {"message": "Not Found"}. Error bodies are {"message", "documentation_url"}.

Sources: https://docs.github.com/en/rest/actions/secrets (environment secrets, public key,
"Encrypt your secret using LibSodium"), https://docs.github.com/en/rest/actions/variables
(environment variables), https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
(401/404 bodies), https://docs.github.com/en/actions/security-for-github-actions/security-guides/using-secrets-in-github-actions
(naming rules), https://docs.github.com/en/rest/about-the-rest-api/api-versions.

`fail_writes(n)` makes every write after the next `n` answer 502 (then 500, alternating) until
`heal()`; `workload_view()` decrypts what a job in the environment would receive.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import uvicorn
from nacl.encoding import Base64Encoder
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_VERSION = "2022-11-28"
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_DOCS = "https://docs.github.com/rest/actions"
WRITES = ("PUT", "POST", "PATCH", "DELETE")


@dataclass
class Environment:
    """One repository environment: its sealing key pair, encrypted secrets and variables."""

    keypair: PrivateKey = field(default_factory=PrivateKey.generate)
    key_id: str = field(default_factory=lambda: str(secrets.randbelow(10**19)))
    secrets: dict[str, str] = field(default_factory=dict)
    """name → encrypted_value as sent (base64 of a sealed box)."""
    secret_times: dict[str, tuple[str, str]] = field(default_factory=dict)
    """name → (created_at, updated_at)."""
    variables: dict[str, dict[str, str]] = field(default_factory=dict)

    def decrypt(self, name: str) -> str | None:
        sealed = self.secrets.get(name.upper())
        if sealed is None:
            return None
        return SealedBox(self.keypair).decrypt(base64.b64decode(sealed)).decode("utf-8")


class FakeGitHub:
    """The fake's state (shared with the test thread under a lock) and its ASGI app."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.environments: dict[tuple[str, str], Environment] = {}
        self.lock = threading.Lock()
        self._write_budget: int | None = None
        self._failures = 0
        self.requests: list[str] = []
        self.url = ""
        """The base URL while `serving` runs it."""
        self.app = Starlette(routes=_routes(self))

    # --- what the test controls -----------------------------------------------------------

    def add_environment(self, repository: str, environment: str) -> Environment:
        with self.lock:
            made = Environment()
            self.environments[(repository.lower(), environment.lower())] = made
            return made

    def reset(self) -> None:
        with self.lock:
            self.environments.clear()
            self.requests.clear()
            self._write_budget = None

    def fail_writes(self, after: int) -> None:
        with self.lock:
            self._write_budget = after

    def heal(self) -> None:
        with self.lock:
            self._write_budget = None

    def secret_values(self, repository: str, environment: str) -> dict[str, str]:
        """Every secret decrypted: what a job gets from `${{ toJSON(secrets) }}`."""
        with self.lock:
            env = self.environments[(repository.lower(), environment.lower())]
            return {name: env.decrypt(name) or "" for name in env.secrets}

    def variable_values(self, repository: str, environment: str) -> dict[str, str]:
        with self.lock:
            env = self.environments[(repository.lower(), environment.lower())]
            return {name: v["value"] for name, v in env.variables.items()}

    # --- used by the handlers -------------------------------------------------------------

    def admit_write(self) -> Response | None:
        """None if the write may go through; a 5xx while `fail_writes` is in force."""
        with self.lock:
            if self._write_budget is None:
                return None
            if self._write_budget > 0:
                self._write_budget -= 1
                return None
            self._failures += 1
        status = 502 if self._failures % 2 else 500
        return _error(status, "Server Error" if status == 500 else "Bad Gateway")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message, "documentation_url": _DOCS}, status_code=status)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _checked_name(raw: str) -> str | None:
    name = raw.upper()
    if not _NAME.match(name) or name.startswith("GITHUB_"):
        return None
    return name


def _routes(fake: FakeGitHub) -> list[Route]:
    root = "/repos/{owner}/{repo}/environments/{environment}"

    async def guard(request: Request) -> Environment | Response:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if not auth:
            return _error(401, "Requires authentication")
        if scheme.lower() not in ("bearer", "token") or token != fake.token:
            return _error(401, "Bad credentials")
        version = request.headers.get("x-github-api-version")
        if version is not None and version != API_VERSION:
            return _error(400, f"API version {version} is not supported.")
        p = request.path_params
        key = (f"{p['owner']}/{p['repo']}".lower(), str(p["environment"]).lower())
        with fake.lock:
            fake.requests.append(f"{request.method} {request.url.path}")
            env = fake.environments.get(key)
        if env is None:
            return _error(404, "Not Found")
        if request.method in WRITES:
            refused = fake.admit_write()
            if refused is not None:
                return refused
        return env

    async def body_of(request: Request) -> dict[str, object] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def public_key(request: Request) -> Response:
        env = await guard(request)
        if isinstance(env, Response):
            return env
        key = env.keypair.public_key.encode(Base64Encoder).decode("ascii")
        return JSONResponse({"key_id": env.key_id, "key": key})

    async def secret(request: Request) -> Response:
        env = await guard(request)
        if isinstance(env, Response):
            return env
        name = _checked_name(request.path_params["name"])
        if name is None:
            return _error(422, "Secret names can only contain alphanumeric characters or '_'")
        if request.method == "GET":
            with fake.lock:
                times = env.secret_times.get(name) if name in env.secrets else None
            if times is None:
                return _error(404, "Not Found")
            return JSONResponse({"name": name, "created_at": times[0], "updated_at": times[1]})
        if request.method == "DELETE":
            with fake.lock:
                gone = env.secrets.pop(name, None)
                env.secret_times.pop(name, None)
            return Response(status_code=204) if gone is not None else _error(404, "Not Found")
        body = await body_of(request)
        if body is None or set(body) != {"encrypted_value", "key_id"}:
            return _error(422, "Invalid request: encrypted_value and key_id are required")
        value, key_id = body["encrypted_value"], body["key_id"]
        if not isinstance(value, str) or key_id != env.key_id:
            return _error(422, "Bad request - key_id does not match the environment's key")
        try:
            SealedBox(env.keypair).decrypt(base64.b64decode(value, validate=True))
        except (binascii.Error, CryptoError):
            return _error(422, "Bad request - encrypted_value is not a sealed box for this key")
        with fake.lock:
            existed = name in env.secrets
            env.secrets[name] = value
            created = env.secret_times.get(name, (_now(), ""))[0]
            env.secret_times[name] = (created, _now())
        return Response(status_code=204 if existed else 201)

    async def variables(request: Request) -> Response:
        env = await guard(request)
        if isinstance(env, Response):
            return env
        body = await body_of(request)
        if body is None or set(body) != {"name", "value"}:
            return _error(422, "Invalid request: name and value are required")
        name = _checked_name(str(body["name"]))
        if name is None or not isinstance(body["value"], str):
            return _error(422, "Variable names can only contain alphanumeric characters or '_'")
        with fake.lock:
            if name in env.variables:
                return _error(409, "Already exists - Variable already exists")
            env.variables[name] = {
                "value": body["value"],
                "created_at": _now(),
                "updated_at": _now(),
            }
        return JSONResponse({}, status_code=201)

    async def variable(request: Request) -> Response:
        env = await guard(request)
        if isinstance(env, Response):
            return env
        name = str(request.path_params["name"]).upper()
        with fake.lock:
            stored = env.variables.get(name)
        if stored is None:
            return _error(404, "Not Found")
        if request.method == "GET":
            return JSONResponse({"name": name, **stored})
        if request.method == "DELETE":
            with fake.lock:
                env.variables.pop(name, None)
            return Response(status_code=204)
        body = await body_of(request)
        if body is None or not set(body) <= {"name", "value"} or not body:
            return _error(422, "Invalid request: name or value is required")
        if "name" in body and str(body["name"]).upper() != name:
            return _error(422, "Renaming a variable is not supported by this fake")
        if "value" in body and not isinstance(body["value"], str):
            return _error(422, "Invalid request: value must be a string")
        with fake.lock:
            if "value" in body:
                stored["value"] = str(body["value"])
            stored["updated_at"] = _now()
        return Response(status_code=204)

    return [
        Route(f"{root}/secrets/public-key", public_key, methods=["GET"]),
        Route(f"{root}/secrets/{{name}}", secret, methods=["GET", "PUT", "DELETE"]),
        Route(f"{root}/variables", variables, methods=["POST"]),
        Route(f"{root}/variables/{{name}}", variable, methods=["GET", "PATCH", "DELETE"]),
    ]


@contextmanager
def serving(fake: FakeGitHub) -> Iterator[str]:
    """Serve `fake` on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    config = uvicorn.Config(fake.app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake GitHub server did not start")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake.url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
