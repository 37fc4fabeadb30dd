"""Check an access token's claims against what was asked for (reference §7.5, seeds 003/004).

Owns fetching the issuer's signing keys (`<issuer>jwk`), verifying the token's signature with
them, and the claim checks: `iss` is the issuer, `scope` holds every requested scope,
`consumer.ID` is `0192:<orgno>` (the consumer's for a delegation), and for a delegation
`supplier.ID` is the own organisation and `delegation_source` the expected issuer. Returns a
list of failures with clear messages; an empty list means the token is right. Must never put
the token (or any part of it) in a message, an exception or a repr.
"""

from __future__ import annotations

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


def check_token(
    token: SecretStr,
    keys: jwt.PyJWKSet,
    expected: ExpectedClaims,
    *,
    leeway: float = 5.0,
) -> list[ClaimFailure]:
    """Verify the token's signature with `keys`, then check its claims against `expected`."""
    claims = _verified_claims(token.get_secret_value(), keys, expected.issuer, leeway)
    if isinstance(claims, ClaimFailure):
        return [claims]
    return claim_failures(claims, expected)


async def verify_token(
    http: httpx.AsyncClient, token: SecretStr, expected: ExpectedClaims
) -> list[ClaimFailure]:
    """Fetch the issuer's keys and check the token (one call; use `check_token` for many)."""
    return check_token(token, await fetch_issuer_keys(http, expected.issuer), expected)


def _verified_claims(
    token: str, keys: jwt.PyJWKSet, issuer: str, leeway: float
) -> Mapping[str, object] | ClaimFailure:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return ClaimFailure("token", "the access token is not a signed JWT")
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ALGORITHMS:
        return ClaimFailure("alg", f"the token is signed with {algorithm!r}, not RS256/384/512")
    key = next((k for k in keys.keys if k.key_id == kid), None)
    if key is None:
        return ClaimFailure("kid", f"the token's kid {kid!r} is not among the issuer's keys")
    return _decoded(token, key, algorithm, issuer, leeway)


def _decoded(
    token: str, key: jwt.PyJWK, algorithm: str, issuer: str, leeway: float
) -> Mapping[str, object] | ClaimFailure:
    failure: ClaimFailure
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            leeway=leeway,
            options={"verify_aud": False, "verify_iss": False, "require": ["exp", "iat"]},
        )
    except jwt.InvalidSignatureError:
        failure = ClaimFailure("signature", f"the signature does not verify with {issuer}jwk")
    except jwt.ExpiredSignatureError:
        failure = ClaimFailure("exp", "the token has already expired")
    except jwt.ImmatureSignatureError:
        failure = ClaimFailure("iat", "the token is issued in the future (clock skew?)")
    except jwt.MissingRequiredClaimError as exc:
        failure = ClaimFailure(exc.claim, f"the token has no '{exc.claim}' claim")
    except jwt.PyJWTError as exc:
        failure = ClaimFailure("token", f"the token does not decode ({type(exc).__name__})")
    return failure


def claim_failures(claims: Mapping[str, object], expected: ExpectedClaims) -> list[ClaimFailure]:
    """The pure claim checks on already-verified claims."""
    failures = [
        *_check_equal(claims, "iss", expected.issuer),
        *_check_scopes(claims, expected.scopes),
        *_check_audience(claims, expected.resource),
    ]
    if expected.client_id is not None:
        failures += _check_equal(claims, "client_id", expected.client_id)
    if expected.consumer_org is None:
        failures += _check_org(claims, "consumer", expected.orgno)
        if "supplier" in claims:
            failures.append(ClaimFailure("supplier", "a supplier claim on a non-delegated token"))
        return failures
    failures += _check_org(claims, "consumer", expected.consumer_org)
    failures += _check_org(claims, "supplier", expected.orgno)
    failures += _check_delegation_source(claims, expected.delegation_source)
    return failures


def _check_equal(claims: Mapping[str, object], name: str, want: str) -> list[ClaimFailure]:
    got = claims.get(name)
    if got == want:
        return []
    return [ClaimFailure(name, f"'{name}' is {got!r}, expected {want!r}")]


def _check_scopes(claims: Mapping[str, object], wanted: tuple[str, ...]) -> list[ClaimFailure]:
    scope = claims.get("scope")
    granted = set(scope.split()) if isinstance(scope, str) else set()
    missing = [s for s in wanted if s not in granted]
    if not missing:
        return []
    return [ClaimFailure("scope", f"'scope' lacks {' '.join(missing)} (has {scope!r})")]


def _check_audience(claims: Mapping[str, object], resource: tuple[str, ...]) -> list[ClaimFailure]:
    if not resource:
        return []
    aud = claims.get("aud")
    audiences = {aud} if isinstance(aud, str) else set(aud) if isinstance(aud, list) else set()
    if set(resource) <= audiences:
        return []
    return [ClaimFailure("aud", f"'aud' is {aud!r}, expected the resource {list(resource)!r}")]


def _check_org(claims: Mapping[str, object], name: str, orgno: str) -> list[ClaimFailure]:
    want = f"{ORGNO_ICD}:{orgno}"
    value = claims.get(name)
    if not isinstance(value, Mapping):
        return [ClaimFailure(name, f"no '{name}' claim; expected ID {want!r}")]
    failures = []
    if value.get("ID") != want:
        failures.append(
            ClaimFailure(name, f"'{name}.ID' is {value.get('ID')!r}, expected {want!r}")
        )
    if value.get("authority") != ORGNO_AUTHORITY:
        failures.append(
            ClaimFailure(
                name, f"'{name}.authority' is {value.get('authority')!r}, not {ORGNO_AUTHORITY!r}"
            )
        )
    return failures


def _check_delegation_source(
    claims: Mapping[str, object], expected: str | None
) -> list[ClaimFailure]:
    got = claims.get("delegation_source")
    if not isinstance(got, str) or not got:
        return [ClaimFailure("delegation_source", "no 'delegation_source' on a delegated token")]
    if expected is not None and got != expected:
        return [ClaimFailure("delegation_source", f"is {got!r}, expected {expected!r}")]
    return []
