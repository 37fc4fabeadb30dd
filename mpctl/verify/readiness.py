"""Seed 002's offline readiness probe of a workload's `MASKINPORTEN_*` environment.

Owns `probe` (ready / mock / not_ready with a `failures` list of {field, reason}) and
`credentials_from_env`, which hands `mpctl verify --from-env` the same parsed values. Checks:
every variable present; an RSA key of at least 2048 bits, from the PEM variable (real line
breaks or literal `\\n` escapes, as Vercel and others store it) or from the `_BASE64` variable (a
base64 PEM, or altinn-jwks' base64 private JWK), never both, and too long for 8192 bits means
refused unparsed; https for the token endpoint and issuer (http only for loopback or when the
caller allows it, e.g. for the emulator), an issuer ending in '/', a token endpoint under the
issuer; and a dummy JWS that signs and verifies with the key. Any value, however hostile, gives
a finding naming its variable, never an exception. Pure: never makes a network call, never
reads `os.environ` itself, never puts a value of the private key in a reason.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import jwt

from mpctl.model import KID_PATTERN, SinkVariables, is_loopback_host
from mpctl.secrets import (
    MAX_KEY_SIZE,
    MIN_KEY_SIZE,
    KeyMaterialError,
    PrivateKey,
    from_pem,
    from_private_jwk_base64,
)
from mpctl.verify.errors import EnvironmentConfigError

Status = Literal["ready", "mock", "not_ready"]
SEED_002_NAMES = SinkVariables()
UNKNOWN_CREATION = datetime(1970, 1, 1, tzinfo=UTC)
MAX_URL_LENGTH = 2048
MAX_KEY_TEXT = 7_000
"""A PEM of an 8192-bit RSA key has about 6,400 characters; a longer value is refused before
parsing, because checking an RSA key's primes grows steeply with its size (6 s at 8192 bits)."""
MAX_BASE64_TEXT = 12_000
_EXIT_CODES: dict[Status, int] = {"ready": 0, "mock": 0, "not_ready": 1}


@dataclass(frozen=True)
class ReadinessFailure:
    """One problem: the variable at fault and a short, fixed-vocabulary reason."""

    field: str
    reason: str


@dataclass(frozen=True)
class Readiness:
    """The verdict. The CLI exits 0 for ready and mock, 1 for not_ready."""

    status: Status
    failures: tuple[ReadinessFailure, ...] = ()

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self.status]

    def as_dict(self) -> dict[str, object]:
        document: dict[str, object] = {"status": self.status}
        if self.failures:
            document["failures"] = [{"field": f.field, "reason": f.reason} for f in self.failures]
        return document


@dataclass(frozen=True)
class EnvCredentials:
    """A live workload's configuration, parsed. `repr` shows no key material."""

    client_id: str
    kid: str
    issuer: str
    token_endpoint: str
    key: PrivateKey = field(repr=False)


@dataclass
class _Findings:
    failures: list[ReadinessFailure] = field(default_factory=list)

    def fail(self, name: str, reason: str) -> None:
        self.failures.append(ReadinessFailure(name, reason))


def probe(
    environ: Mapping[str, str],
    *,
    variables: SinkVariables = SEED_002_NAMES,
    allow_http: bool = False,
    require_live: bool = False,
) -> Readiness:
    """Judge `environ` offline. `require_live` makes mock mode a failure (no mock in prod)."""
    if environ.get(variables.mode, "").strip() != "live":
        if require_live:
            failure = ReadinessFailure(variables.mode, "not 'live' where live mode is required")
            return Readiness("not_ready", (failure,))
        return Readiness("mock")
    findings = _Findings()
    _parse(environ, variables, allow_http, findings)
    if findings.failures:
        return Readiness("not_ready", tuple(findings.failures))
    return Readiness("ready")


def credentials_from_env(
    environ: Mapping[str, str],
    *,
    variables: SinkVariables = SEED_002_NAMES,
    allow_http: bool = False,
) -> EnvCredentials:
    """The parsed live configuration; raises `EnvironmentConfigError` listing every failure."""
    findings = _Findings()
    if environ.get(variables.mode, "").strip() != "live":
        findings.fail(variables.mode, "not 'live'")
    credentials = _parse(environ, variables, allow_http, findings)
    if findings.failures or credentials is None:
        listed = "; ".join(f"{f.field}: {f.reason}" for f in findings.failures)
        raise EnvironmentConfigError(
            f"the Maskinporten environment is not ready: {listed}",
            hint="run `mpctl readiness` for the full verdict",
        )
    return credentials


def _parse(
    environ: Mapping[str, str], names: SinkVariables, allow_http: bool, findings: _Findings
) -> EnvCredentials | None:
    client_id = _required(environ, names.client_id, findings)
    kid = _required(environ, names.kid, findings)
    if kid and not KID_PATTERN.match(kid):
        findings.fail(names.kid, "not a valid kid (1-128 of A-Z a-z 0-9 . _ -)")
    issuer = _checked_issuer(environ, names.issuer, allow_http, findings)
    endpoint = _checked_url(environ, names.token_endpoint, allow_http, findings)
    if issuer and endpoint and not endpoint.startswith(issuer):
        findings.fail(names.token_endpoint, "not under the issuer (mixed environments?)")
    key = _checked_key(environ, names, kid or "readiness", findings)
    if key is not None and kid and key.kid != kid:
        findings.fail(names.kid, f"differs from the kid inside {names.private_key_base64}")
    if findings.failures or not (client_id and kid and issuer and endpoint and key):
        return None
    return EnvCredentials(client_id, kid, issuer, endpoint, key)


def _required(environ: Mapping[str, str], name: str, findings: _Findings) -> str | None:
    value = environ.get(name, "").strip()
    if not value:
        findings.fail(name, "missing")
        return None
    return value


def _checked_url(
    environ: Mapping[str, str], name: str, allow_http: bool, findings: _Findings
) -> str | None:
    value = _required(environ, name, findings)
    if value is None:
        return None
    problem = url_problem(value, allow_http=allow_http)
    if problem is not None:
        findings.fail(name, problem)
        return None
    return value


def url_problem(value: str, *, allow_http: bool) -> str | None:
    """Why `value` is no usable token endpoint or issuer URL, or None. Never quotes `value`."""
    if len(value) > MAX_URL_LENGTH:
        return f"longer than {MAX_URL_LENGTH} characters"
    if not value.isprintable() or any(ch.isspace() for ch in value):
        return "has spaces or control characters"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:
        return "not a valid URL (check brackets around an IPv6 address and the port)"
    if parts.scheme not in ("https", "http") or not host:
        return "not an absolute http(s) URL"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password"
    if parts.scheme == "http" and not (allow_http or is_loopback_host(host)):
        return "https is required"
    return None


def _checked_issuer(
    environ: Mapping[str, str], name: str, allow_http: bool, findings: _Findings
) -> str | None:
    issuer = _checked_url(environ, name, allow_http, findings)
    if issuer is not None and not issuer.endswith("/"):
        findings.fail(name, "must end with '/' (the grant's aud is the issuer exactly)")
        return None
    return issuer


def _checked_key(
    environ: Mapping[str, str], names: SinkVariables, kid: str, findings: _Findings
) -> PrivateKey | None:
    """The key from the PEM variable or the base64 one (exactly one of them must be set)."""
    pem = environ.get(names.private_key, "").strip()
    encoded = environ.get(names.private_key_base64, "").strip()
    if pem and encoded:
        findings.fail(
            names.private_key_base64,
            f"set together with {names.private_key}; keep only one of them",
        )
        return None
    if not pem and not encoded:
        findings.fail(names.private_key, "missing")
        return None
    name = names.private_key if pem else names.private_key_base64
    loaded = _key_from_pem(pem, kid) if pem else _key_from_base64(encoded, kid)
    if isinstance(loaded, str):
        findings.fail(name, loaded)
        return None
    if not _signs(loaded):
        findings.fail(name, "invalid or unusable for JWT signing")
        return None
    return loaded


def _key_from_pem(pem: str, kid: str) -> PrivateKey | str:
    """The key, or why not. Accepts real line breaks and literal `\\n` escapes (Vercel & co)."""
    if len(pem) > MAX_KEY_TEXT:
        return f"longer than {MAX_KEY_TEXT} characters: not an RSA key of at most 8192 bits"
    text = pem
    if "\\n" in pem and "\n" not in pem:
        text = pem.replace("\\r\\n", "\n").replace("\\n", "\n")
    try:
        return from_pem(text, kid=kid, created_at=UNKNOWN_CREATION)
    except KeyMaterialError as exc:
        return _key_problem(pem, exc)


def _key_from_base64(encoded: str, kid: str) -> PrivateKey | str:
    """A base64 PEM (`dotenv_encoding: base64`) or base64 private JWK (altinn-jwks), or why not."""
    if len(encoded) > MAX_BASE64_TEXT:
        return f"longer than {MAX_BASE64_TEXT} characters: not an RSA key of at most 8192 bits"
    try:
        decoded = base64.b64decode("".join(encoded.split()), validate=True)
    except ValueError:
        return "not standard base64"
    if decoded.startswith(b"-----BEGIN"):
        try:
            return _key_from_pem(decoded.decode("ascii"), kid)
        except UnicodeDecodeError:
            return "base64 of a PEM that is not ASCII"
    if decoded.lstrip().startswith(b"{"):
        try:
            key = from_private_jwk_base64(encoded, created_at=UNKNOWN_CREATION)
        except KeyMaterialError as exc:
            return _key_problem("", exc)
        return key
    return "decodes to neither a PEM nor a private JWK"


def _key_problem(pem: str, exc: KeyMaterialError) -> str:
    if "bits" in exc.message:
        return f"RSA key smaller than {MIN_KEY_SIZE} or larger than {MAX_KEY_SIZE} bits"
    if "not an RSA key" in exc.message:
        return "not an RSA private key"
    if "JWK" in exc.message:
        return "base64 JSON that is not a private RSA JWK"
    if pem.startswith(("'", '"')):
        return "PEM does not parse: remove the quotes around it"
    return "PEM does not parse as an unencrypted private key"


def _signs(key: PrivateKey) -> bool:
    """Sign a dummy JWS and verify it with the public half: the key is usable for grants."""
    claims = {"iss": "readiness-probe", "scope": "readiness:probe", "iat": 0, "exp": 120}
    try:
        token = jwt.encode(claims, key.crypto_key, algorithm="RS256", headers={"kid": key.kid})
        public = key.crypto_key.public_key()
        jwt.decode(token, public, algorithms=["RS256"], options={"verify_exp": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return False
    return True
