"""Seed 002's offline readiness probe of a workload's `MASKINPORTEN_*` environment.

Owns `probe` (ready / mock / not_ready with a `failures` list of {field, reason}) and
`credentials_from_env`, which hands `mpctl verify --from-env` the same parsed values. Checks:
every variable present, a PEM that parses to an RSA key of at least 2048 bits, https for the
token endpoint and issuer (http only for loopback or when the caller allows it, e.g. for the
emulator), an issuer ending in '/', a token endpoint under the issuer, and a dummy JWS that
signs and verifies with the key. Pure: never makes a network call, never reads `os.environ`
itself, never puts a value of the private key in a reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import jwt

from mpctl.model import SinkVariables
from mpctl.model.identifiers import KID_PATTERN
from mpctl.secrets import MIN_KEY_SIZE, KeyMaterialError, PrivateKey, from_pem
from mpctl.verify.errors import EnvironmentConfigError

Status = Literal["ready", "mock", "not_ready"]
SEED_002_NAMES = SinkVariables()
UNKNOWN_CREATION = datetime(1970, 1, 1, tzinfo=UTC)
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
    key = _checked_key(environ, names.private_key, kid or "readiness", findings)
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
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        findings.fail(name, "not an absolute http(s) URL")
        return None
    if parts.scheme == "http" and not (allow_http or _is_loopback(parts.hostname)):
        findings.fail(name, "https is required")
        return None
    return value


def _checked_issuer(
    environ: Mapping[str, str], name: str, allow_http: bool, findings: _Findings
) -> str | None:
    issuer = _checked_url(environ, name, allow_http, findings)
    if issuer is not None and not issuer.endswith("/"):
        findings.fail(name, "must end with '/' (the grant's aud is the issuer exactly)")
        return None
    return issuer


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_key(
    environ: Mapping[str, str], name: str, kid: str, findings: _Findings
) -> PrivateKey | None:
    pem = _required(environ, name, findings)
    if pem is None:
        return None
    try:
        key = from_pem(pem, kid=kid, created_at=UNKNOWN_CREATION)
    except KeyMaterialError as exc:
        findings.fail(name, _key_problem(pem, exc))
        return None
    if not _signs(key):
        findings.fail(name, "invalid or unusable for JWT signing")
        return None
    return key


def _key_problem(pem: str, exc: KeyMaterialError) -> str:
    if "bits" in exc.message:
        return f"RSA key smaller than {MIN_KEY_SIZE} bits"
    if "not an RSA key" in exc.message:
        return "not an RSA private key"
    if "\\n" in pem and "\n" not in pem.strip():
        return "PEM does not parse: it has literal \\n sequences instead of line breaks"
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
