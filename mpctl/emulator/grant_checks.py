"""The token endpoint's checklist for a JWT-bearer grant (API reference §7.7), in order.

Owns every refusal rule: alg allow-list, client lookup, key selection (kid or x5c, key
expiry, propagation delay, certificate environment and org), signature, exact `aud`, iat skew
of ±10 s and a lifetime of at most 120 s, replay, unknown claims, scopes registered and allowed
for the integration type, consumer access and Altinn delegations. It must not mint tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import rsa

from mpctl.emulator import token_errors as refuse
from mpctl.emulator.authority import (
    MalformedChainError,
    UntrustedCertificateError,
    certificate_orgno,
    certificate_public_key,
    check_trusted,
    leaf_from_x5c,
)
from mpctl.emulator.errors import TokenError
from mpctl.emulator.jws import CompactJws, MalformedJwsError, parse_compact, supported_algorithm
from mpctl.emulator.jws import signature_is_valid as _signature_is_valid
from mpctl.emulator.keys import public_key_from_members
from mpctl.emulator.orgno import is_valid_orgno
from mpctl.emulator.scope_access import allows_integration_type, consumer_has_access
from mpctl.emulator.settings import Switches
from mpctl.emulator.state import ClientRecord, EmulatorState, ScopeRecord, StoredKey
from mpctl.emulator.vocabulary import ADMIN_SCOPES, JWT_BEARER_GRANT, TOKEN_INTEGRATION_TYPES

CERTIFICATE_AMR: Final = "virksomhetssertifikat"
IAT_SKEW_SECONDS: Final = 10
MAX_GRANT_LIFETIME_SECONDS: Final = 120
ALLOWED_CLAIMS: Final = frozenset(
    {
        "aud", "iss", "iat", "exp", "jti", "scope", "resource", "consumer_org",
        "iss_onbehalfof", "pid", "authorization_details", "nbf", "sub",
    }
)  # fmt: skip


@dataclass(frozen=True)
class GrantContext:
    issuer: str
    now: float
    switches: Switches
    trusted_ca_pem: str | None


@dataclass(frozen=True)
class AcceptedGrant:
    client: ClientRecord
    scopes: tuple[str, ...]
    client_amr: str
    consumer_orgno: str
    supplier_orgno: str | None
    delegation_source: str | None
    resource: Any


def read_assertion(form: Mapping[str, str]) -> str:
    """Step 1: the jwt-bearer grant type and an assertion."""
    if form.get("grant_type") != JWT_BEARER_GRANT:
        raise refuse.unsupported_grant_type()
    assertion = form.get("assertion")
    if not assertion:
        raise refuse.missing_assertion()
    return assertion


def check_grant(assertion: str, state: EmulatorState, context: GrantContext) -> AcceptedGrant:
    """Steps 2-11; records the grant as used. Raises `TokenError` at the first failed check."""
    jws = _parse(assertion)
    client = _client(state, jws.claims)
    key, amr = _authentication_key(client, jws.header, context)
    if not _signature_is_valid(jws, key):
        raise _signature_refusal(amr)
    claims = jws.claims
    _check_audience(claims, context)
    _check_times(claims, context.now)
    _check_replay(state, assertion, client, claims, context.now)
    _check_claims(claims)
    scopes = tuple(dict.fromkeys(str(claims["scope"]).split()))
    _check_scopes(state, client, scopes)
    consumer, supplier, source = _consumer(state, client, scopes, claims.get("consumer_org"))
    return AcceptedGrant(client, scopes, amr, consumer, supplier, source, claims.get("resource"))


def _signature_refusal(amr: str) -> TokenError:
    if amr == CERTIFICATE_AMR:
        return refuse.invalid_certificate_signature()
    return refuse.invalid_signature()


def _parse(assertion: str) -> CompactJws:
    try:
        jws = parse_compact(assertion)
    except MalformedJwsError:
        raise refuse.invalid_parameter() from None
    if not supported_algorithm(jws.header.get("alg")):
        raise refuse.invalid_parameter()
    return jws


def _client(state: EmulatorState, claims: dict[str, Any]) -> ClientRecord:
    client = state.clients.get(claims["iss"]) if isinstance(claims.get("iss"), str) else None
    if (
        client is None
        or not client.active
        or client.integration_type not in TOKEN_INTEGRATION_TYPES
        or JWT_BEARER_GRANT not in client.grant_types
    ):
        raise refuse.client_not_found()
    return client


def _authentication_key(
    client: ClientRecord, header: dict[str, Any], context: GrantContext
) -> tuple[rsa.RSAPublicKey, str]:
    kid = header.get("kid")
    if client.registered_keys():
        if kid is None:
            raise refuse.kid_required()
        key = _registered_key(client, kid, context)
        return public_key_from_members(key.n, key.e), "private_key_jwt"
    if "x5c" in header:
        return _certificate_key(client, header["x5c"], context), CERTIFICATE_AMR
    if kid is not None:
        raise refuse.unknown_kid()
    raise refuse.invalid_x5c()


def _registered_key(client: ClientRecord, kid: object, context: GrantContext) -> StoredKey:
    delay = context.switches.key_propagation_delay_seconds
    key = next((k for k in client.registered_keys() if k.kid == kid), None)
    if key is None or key.registered_at + delay > context.now:
        raise refuse.unknown_kid()
    if key.exp <= context.now:
        raise refuse.expired_key()
    return key


def _certificate_key(client: ClientRecord, x5c: object, context: GrantContext) -> rsa.RSAPublicKey:
    try:
        leaf = leaf_from_x5c(x5c)
    except MalformedChainError:
        raise refuse.invalid_x5c() from None
    try:
        check_trusted(leaf, context.trusted_ca_pem, context.now)
        key = certificate_public_key(leaf)
    except UntrustedCertificateError:
        raise refuse.invalid_certificate() from None
    orgno = certificate_orgno(leaf)
    if orgno != client.client_orgno:
        raise refuse.certificate_org_mismatch(client.client_orgno, orgno)
    return key


def _check_audience(claims: dict[str, Any], context: GrantContext) -> None:
    audience = claims.get("aud")
    if audience == context.issuer:
        return
    if context.switches.aud_accepts_single_element_array and audience == [context.issuer]:
        return
    raise refuse.invalid_audience()


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _check_times(claims: dict[str, Any], now: float) -> None:
    issued, expires = _number(claims.get("iat")), _number(claims.get("exp"))
    if issued is None or expires is None:
        raise refuse.invalid_parameter()
    if issued > now + IAT_SKEW_SECONDS:
        raise refuse.issue_time_after_now()
    if (
        expires <= now
        or issued < now - IAT_SKEW_SECONDS
        or expires - issued > MAX_GRANT_LIFETIME_SECONDS
    ):
        raise refuse.jwt_expired()


def _check_replay(
    state: EmulatorState,
    assertion: str,
    client: ClientRecord,
    claims: dict[str, Any],
    now: float,
) -> None:
    """A grant is used once: by `jti` when present, else by a hash of the whole JWT."""
    jti = claims.get("jti")
    if isinstance(jti, str) and jti:
        replay_key = f"{client.client_id}|jti|{jti}"
    else:
        replay_key = f"{client.client_id}|sha256|{hashlib.sha256(assertion.encode()).hexdigest()}"
    state.used_grants = {key: until for key, until in state.used_grants.items() if until > now}
    if replay_key in state.used_grants:
        raise refuse.grant_used_before()
    state.used_grants[replay_key] = float(claims["exp"]) + IAT_SKEW_SECONDS


def _check_claims(claims: dict[str, Any]) -> None:
    if not set(claims) <= ALLOWED_CLAIMS:
        raise refuse.invalid_parameter()
    scope = claims.get("scope")
    consumer_org = claims.get("consumer_org")
    resource = claims.get("resource")
    if (
        not isinstance(scope, str)
        or not scope.split()
        or (consumer_org is not None and not is_valid_orgno(consumer_org))
        or not _valid_resource(resource)
    ):
        raise refuse.invalid_parameter()


def _valid_resource(resource: object) -> bool:
    if resource is None or isinstance(resource, str):
        return True
    return (
        isinstance(resource, list) and bool(resource) and all(isinstance(r, str) for r in resource)
    )


def _usable(state: EmulatorState, client: ClientRecord, name: str) -> bool:
    if name in ADMIN_SCOPES:
        return client.admin and name in client.scopes
    scope = state.scopes.get(name)
    return (
        scope is not None and scope.active and (name in client.scopes or scope.accessible_for_all)
    )


def _check_scopes(state: EmulatorState, client: ClientRecord, scopes: tuple[str, ...]) -> None:
    invalid = [name for name in scopes if not _usable(state, client, name)]
    if invalid:
        raise refuse.invalid_scopes(invalid)
    records = _provider_scopes(state, scopes)
    if not all(allows_integration_type(scope, client.integration_type) for scope in records):
        raise refuse.scopes_not_allowed()


def _provider_scopes(state: EmulatorState, scopes: tuple[str, ...]) -> list[ScopeRecord]:
    return [state.scopes[name] for name in scopes if name not in ADMIN_SCOPES]


def _consumer(
    state: EmulatorState, client: ClientRecord, scopes: tuple[str, ...], consumer_org: object
) -> tuple[str, str | None, str | None]:
    """(consumer, supplier, delegation_source) of the token; access and delegations checked."""
    records = _provider_scopes(state, scopes)
    if consumer_org is None:
        _check_access(state, records, client.client_orgno)
        return client.client_orgno, None, None
    if (
        consumer_org == client.client_orgno
        or len(records) != len(scopes)
        or any(scope.delegation_source is None for scope in records)
    ):
        raise refuse.consumer_org_invalid()
    consumer = str(consumer_org)
    _check_access(state, records, consumer)
    for scope in records:
        if not _delegated(state, consumer, client.client_orgno, scope):
            raise refuse.not_delegated(consumer, scope.name, client.client_orgno)
    return consumer, client.client_orgno, records[0].delegation_source


def _check_access(state: EmulatorState, scopes: list[ScopeRecord], consumer: str) -> None:
    for scope in scopes:
        if not consumer_has_access(state, scope, consumer):
            raise refuse.access_not_granted(scope.name)


def _delegated(state: EmulatorState, consumer: str, supplier: str, scope: ScopeRecord) -> bool:
    return any(
        delegation.consumer_orgno == consumer
        and delegation.supplier_orgno == supplier
        and delegation.scope == scope.name
        and delegation.delegation_source == scope.delegation_source
        for delegation in state.delegations
    )
