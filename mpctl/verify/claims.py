"""Check an access token's claims against what was asked for (reference §7.5, seeds 003/004).

Owns fetching the issuer's signing keys (`<issuer>jwk`; `IssuerKeys` fetches them once per
run), verifying the token's signature with them, and the claim checks: `iss` is the issuer,
`scope` holds every requested scope, `consumer.ID` is `0192:<orgno>` (the consumer's for a
delegation), and for a delegation `supplier.ID` is the own organisation and `delegation_source`
the expected issuer. Each check is a `ClaimCheck` (claim, expected, actual, problem) for a
report; `ClaimFailure`s are the failed ones with clear messages, and an empty list means the
token is right. Must never put the token (or any part of it) in a message, an exception or a
repr: a check's `actual` is a claim's value (an issuer, scopes, an orgno), never a token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import jwt
import stamina
from pydantic import SecretStr

from mpctl.secrets import ALGORITHMS
from mpctl.verify.errors import VerifyError

ORGNO_AUTHORITY = "iso6523-actorid-upis"
ORGNO_ICD = "0192"
ANY_VALUE = "*"
"""A check's `expected` when any non-empty value passes (`delegation_source` of no one issuer)."""


@dataclass(frozen=True)
class ExpectedClaims:
    """What a correct token says. `orgno` is the client's own organisation."""

    issuer: str
    scopes: tuple[str, ...]
    orgno: str
    client_id: str | None = None
    consumer_org: str | None = None
    delegation_source: str | None = None
    resource: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimFailure:
    """One check that failed: the claim it is about and what is wrong, in words."""

    claim: str
    message: str


@dataclass(frozen=True)
class ClaimCheck:
    """One check on a token: the claim (`consumer.ID` for a member), the value it must have
    (None: it must be absent; `ANY_VALUE`: anything non-empty), the value the token has, and
    what is wrong when the check fails (None when it holds)."""

    claim: str
    expected: str | None
    actual: str | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _RetryableFetchError(Exception):
    """A JWKS fetch failed in a way worth retrying (5xx, 429, network)."""


async def fetch_issuer_keys(
    http: httpx.AsyncClient, issuer: str, *, jwks_url: str | None = None, timeout: float = 10.0
) -> jwt.PyJWKSet:
    """The issuer's public signing keys (Maskinporten serves them at `<issuer>jwk`)."""
    url = jwks_url or f"{issuer}jwk"
    try:
        async for attempt in stamina.retry_context(
            on=_RetryableFetchError, attempts=3, timeout=30.0, wait_max=2.0
        ):
            with attempt:
                return _key_set(url, await _get_json(http, url, timeout))
    except _RetryableFetchError as failure:
        raise VerifyError(f"could not fetch the issuer's keys from {url}: {failure}") from None
    raise AssertionError("unreachable: stamina always runs at least one attempt")


async def _get_json(http: httpx.AsyncClient, url: str, timeout: float) -> object:
    problem: str
    try:
        response = await http.get(url, headers={"Accept": "application/json"}, timeout=timeout)
    except httpx.TransportError as exc:
        problem = type(exc).__name__
    else:
        if response.status_code == 429 or response.status_code >= 500:
            problem = f"HTTP {response.status_code}"
        elif response.status_code != 200:
            raise VerifyError(f"the issuer's keys at {url} answered HTTP {response.status_code}")
        else:
            return _json_or_none(response)
    raise _RetryableFetchError(problem)


def _json_or_none(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _key_set(url: str, document: object) -> jwt.PyJWKSet:
    if not isinstance(document, dict):
        raise VerifyError(f"the issuer's keys at {url} are not a JSON object")
    try:
        return jwt.PyJWKSet.from_dict(document)
    except jwt.PyJWTError as exc:
        raise VerifyError(f"the issuer's keys at {url} hold no usable key: {exc}") from None


class IssuerKeys:
    """The issuers' signing keys for one verify run: each JWKS URL is fetched once, and callers
    asking at the same time share that fetch. `refreshed` fetches a URL again, at most once per
    run, for a token whose kid the first fetch lacked (the issuer rotated its key mid-run)."""

    def __init__(self, http: httpx.AsyncClient, *, timeout: float = 10.0) -> None:
        self._http = http
        self._timeout = timeout
        self._sets: dict[str, jwt.PyJWKSet] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._refreshed: set[str] = set()
        self.fetches = 0

    async def get(self, issuer: str) -> jwt.PyJWKSet:
        """The key set at `<issuer>jwk`, fetched on first use."""
        url = f"{issuer}jwk"
        async with self._locks.setdefault(url, asyncio.Lock()):
            if url not in self._sets:
                self._sets[url] = await self._fetch(issuer)
            return self._sets[url]

    async def refreshed(self, issuer: str) -> jwt.PyJWKSet | None:
        """The key set fetched again, or None when this run already fetched it twice."""
        url = f"{issuer}jwk"
        async with self._locks.setdefault(url, asyncio.Lock()):
            if url in self._refreshed:
                return None
            self._refreshed.add(url)
            self._sets[url] = await self._fetch(issuer)
            return self._sets[url]

    async def _fetch(self, issuer: str) -> jwt.PyJWKSet:
        self.fetches += 1
        return await fetch_issuer_keys(self._http, issuer, timeout=self._timeout)


def check_token(
    token: SecretStr,
    keys: jwt.PyJWKSet,
    expected: ExpectedClaims,
    *,
    leeway: float = 5.0,
) -> list[ClaimFailure]:
    """Verify the token's signature with `keys`, then check its claims against `expected`."""
    return failures_of(token_checks(token, keys, expected, leeway=leeway))


def token_checks(
    token: SecretStr,
    keys: jwt.PyJWKSet,
    expected: ExpectedClaims,
    *,
    leeway: float = 5.0,
) -> list[ClaimCheck]:
    """Every check on the token: its signature first, then (when it verifies) each claim."""
    claims = _verified_claims(token.get_secret_value(), keys, expected.issuer, leeway)
    if isinstance(claims, ClaimCheck):
        return [claims]
    signature = ClaimCheck("signature", f"a key of {expected.issuer}jwk", "verifies")
    return [signature, *claim_checks(claims, expected)]


async def verify_token(
    http: httpx.AsyncClient,
    token: SecretStr,
    expected: ExpectedClaims,
    keys: IssuerKeys | None = None,
) -> list[ClaimFailure]:
    """Check the token with the issuer's keys: from `keys` (fetched once per run) or, without
    it, fetched for this one call."""
    return failures_of(await verify_token_checks(keys or IssuerKeys(http), token, expected))


async def verify_token_checks(
    keys: IssuerKeys, token: SecretStr, expected: ExpectedClaims
) -> list[ClaimCheck]:
    """`token_checks` with the run's issuer keys; a kid they lack fetches them once more."""
    checks = token_checks(token, await keys.get(expected.issuer), expected)
    if any(check.claim == "kid" and not check.ok for check in checks):
        fresh = await keys.refreshed(expected.issuer)
        if fresh is not None:
            checks = token_checks(token, fresh, expected)
    return checks


def failures_of(checks: list[ClaimCheck]) -> list[ClaimFailure]:
    """The failed checks as `ClaimFailure`s, named by their top-level claim (`consumer`)."""
    return [
        ClaimFailure(check.claim.partition(".")[0], check.problem)
        for check in checks
        if check.problem is not None
    ]


def _verified_claims(
    token: str, keys: jwt.PyJWKSet, issuer: str, leeway: float
) -> Mapping[str, object] | ClaimCheck:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return _broken("token", "a signed JWT", "the access token is not a signed JWT")
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ALGORITHMS:
        problem = f"the token is signed with {algorithm!r}, not RS256/384/512"
        return ClaimCheck("alg", "RS256/384/512", _shown(algorithm), problem)
    key = next((k for k in keys.keys if k.key_id == kid), None)
    if key is None:
        problem = f"the token's kid {kid!r} is not among the issuer's keys"
        return ClaimCheck("kid", f"a kid of {issuer}jwk", _shown(kid), problem)
    return _decoded(token, key, algorithm, issuer, leeway)


def _broken(claim: str, expected: str, problem: str) -> ClaimCheck:
    return ClaimCheck(claim, expected, None, problem)


def _decoded(
    token: str, key: jwt.PyJWK, algorithm: str, issuer: str, leeway: float
) -> Mapping[str, object] | ClaimCheck:
    failure: ClaimCheck
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            leeway=leeway,
            options={"verify_aud": False, "verify_iss": False, "require": ["exp", "iat"]},
        )
    except jwt.InvalidSignatureError:
        failure = _broken(
            "signature", f"a key of {issuer}jwk", f"the signature does not verify with {issuer}jwk"
        )
    except jwt.ExpiredSignatureError:
        failure = _broken("exp", "in the future", "the token has already expired")
    except jwt.ImmatureSignatureError:
        failure = _broken(
            "iat", "not in the future", "the token is issued in the future (clock skew?)"
        )
    except jwt.MissingRequiredClaimError as exc:
        failure = _broken(exc.claim, "present", f"the token has no '{exc.claim}' claim")
    except jwt.PyJWTError as exc:
        failure = _broken(
            "token", "a decodable JWT", f"the token does not decode ({type(exc).__name__})"
        )
    return failure


def claim_failures(claims: Mapping[str, object], expected: ExpectedClaims) -> list[ClaimFailure]:
    """The pure claim checks on already-verified claims, the failed ones."""
    return failures_of(claim_checks(claims, expected))


def claim_checks(claims: Mapping[str, object], expected: ExpectedClaims) -> list[ClaimCheck]:
    """Every pure claim check on already-verified claims, passed or not."""
    checks = [
        _check_equal(claims, "iss", expected.issuer),
        _check_scopes(claims, expected.scopes),
        *_check_audience(claims, expected.resource),
    ]
    if expected.client_id is not None:
        checks.append(_check_equal(claims, "client_id", expected.client_id))
    if expected.consumer_org is None:
        checks += _check_org(claims, "consumer", expected.orgno)
        supplier = claims.get("supplier")
        problem = "a supplier claim on a non-delegated token" if "supplier" in claims else None
        checks.append(ClaimCheck("supplier", None, _shown(supplier), problem))
        return checks
    checks += _check_org(claims, "consumer", expected.consumer_org)
    checks += _check_org(claims, "supplier", expected.orgno)
    checks.append(_check_delegation_source(claims, expected.delegation_source))
    return checks


def _shown(value: object) -> str | None:
    """A claim's value as a report shows it: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _check_equal(claims: Mapping[str, object], name: str, want: str) -> ClaimCheck:
    got = claims.get(name)
    problem = None if got == want else f"'{name}' is {got!r}, expected {want!r}"
    return ClaimCheck(name, want, _shown(got), problem)


def _check_scopes(claims: Mapping[str, object], wanted: tuple[str, ...]) -> ClaimCheck:
    scope = claims.get("scope")
    granted = set(scope.split()) if isinstance(scope, str) else set()
    missing = [s for s in wanted if s not in granted]
    problem = f"'scope' lacks {' '.join(missing)} (has {scope!r})" if missing else None
    return ClaimCheck("scope", " ".join(wanted), _shown(scope), problem)


def _check_audience(claims: Mapping[str, object], resource: tuple[str, ...]) -> list[ClaimCheck]:
    if not resource:
        return []
    aud = claims.get("aud")
    audiences = {aud} if isinstance(aud, str) else set(aud) if isinstance(aud, list) else set()
    problem = None
    if not set(resource) <= audiences:
        problem = f"'aud' is {aud!r}, expected the resource {list(resource)!r}"
    return [ClaimCheck("aud", " ".join(resource), _shown(aud), problem)]


def _check_org(claims: Mapping[str, object], name: str, orgno: str) -> list[ClaimCheck]:
    want = f"{ORGNO_ICD}:{orgno}"
    value = claims.get(name)
    if not isinstance(value, Mapping):
        problem = f"no '{name}' claim; expected ID {want!r}"
        return [ClaimCheck(f"{name}.ID", want, _shown(value), problem)]
    got_id, authority = value.get("ID"), value.get("authority")
    id_problem = None if got_id == want else f"'{name}.ID' is {got_id!r}, expected {want!r}"
    authority_problem = None
    if authority != ORGNO_AUTHORITY:
        authority_problem = f"'{name}.authority' is {authority!r}, not {ORGNO_AUTHORITY!r}"
    return [
        ClaimCheck(f"{name}.ID", want, _shown(got_id), id_problem),
        ClaimCheck(f"{name}.authority", ORGNO_AUTHORITY, _shown(authority), authority_problem),
    ]


def _check_delegation_source(claims: Mapping[str, object], expected: str | None) -> ClaimCheck:
    got = claims.get("delegation_source")
    want = expected or ANY_VALUE
    problem: str | None = None
    if not isinstance(got, str) or not got:
        problem = "no 'delegation_source' on a delegated token"
    elif expected is not None and got != expected:
        problem = f"is {got!r}, expected {expected!r}"
    return ClaimCheck("delegation_source", want, _shown(got), problem)
