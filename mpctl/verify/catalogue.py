"""Maskinporten's token-endpoint error catalogue, with cause and fix (seed 000, reference §7.6).

Owns the table of known errors (MP code or a slug for the uncoded ones, the OAuth `error`, the
description text Maskinporten sends, and what causes it and how to fix it), `explain` (look an
MP code, an `error_uri`, a slug or a description text up) and `diagnose` (the same for a token
endpoint's JSON error body). Pure data and string matching: no I/O, no printing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_MP_CODE = re.compile(r"\bMP-?(\d{3})\b", re.IGNORECASE)
_TRACE = re.compile(r"\((?:trace_id|correlation id):[^)]*\)", re.IGNORECASE)
_TRACE_ID = re.compile(r"\((?:trace_id|correlation id):\s*([^)\s]+)\s*\)", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One known token-endpoint error. `id` is the MP code, or a slug when Digdir gives none."""

    id: str
    error: str
    http_status: int
    description: str
    cause: str
    fix: str
    patterns: tuple[str, ...]

    @property
    def mp_code(self) -> str | None:
        return self.id if self.id.startswith("MP-") else None


def _entry(
    id_: str, error: str, description: str, cause: str, fix: str, *patterns: str, status: int = 400
) -> Entry:
    return Entry(id_, error, status, description, cause, fix, patterns)


CATALOGUE: tuple[Entry, ...] = (
    _entry(
        "MP-100",
        "invalid_grant",
        "Invalid assertion. Client authentication failed. / Client not found",
        "Maskinporten does not know the client in the grant's 'iss' at this audience: a typo in "
        "the client_id, something other than the client_id in 'iss', or a client created in "
        "another environment (a TEST client sent to the PROD issuer, or the reverse).",
        "Check that 'iss' is exactly the client_id and that the client exists in the "
        "environment whose issuer is in 'aud' (mpctl verify -e ENV, mpctl plan -e ENV).",
        r"^invalid assertion\. client authentication failed\.?$",
        r"client not found",
    ),
    _entry(
        "MP-110",
        "invalid_grant",
        "Invalid assertion. Client authentication failed. Invalid JWT claim aud",
        "The grant's 'aud' is not this environment's issuer: another environment, a typo, a "
        "missing trailing slash, or the token-endpoint URL (no longer accepted).",
        "Set 'aud' to the issuer exactly, with the trailing slash: https://test.maskinporten.no/ "
        "in TEST, https://maskinporten.no/ in PROD (MASKINPORTEN_ISSUER).",
        r"invalid jwt claim aud",
    ),
    _entry(
        "MP-120",
        "invalid_grant",
        "Invalid assertion. Client authentication failed. The JWT is signed with an invalid "
        "certificate.",
        "The business certificate (virksomhetssertifikat) that signed the grant is invalid or "
        "expired, or is a production certificate used in TEST (or a test one in PROD).",
        "Sign with a valid business certificate issued for this environment: test certificates "
        "in TEST, production certificates in PROD.",
        r"signed with an invalid certificate",
    ),
    _entry(
        "MP-121",
        "invalid_grant",
        "Invalid assertion. Client authentication failed. Expired key",
        "The registered key the grant's 'kid' names has passed its expiry (Digdir keys expire "
        "one year after registration).",
        "Rotate the key: mpctl apply stages, registers, tests and promotes a new one; then "
        "update the workload's MASKINPORTEN_KID and MASKINPORTEN_PRIVATE_KEY.",
        r"expired key",
    ),
    _entry(
        "MP-122",
        "invalid_grant",
        "Invalid JWT. Invalid organization number for client. Does not match certificate orgno",
        "The business certificate is issued to another organisation number than the one that "
        "owns the client.",
        "Sign with a certificate issued to the client's organisation, or create the client on "
        "the organisation number the certificate belongs to.",
        r"does not match certificate orgno",
        r"invalid organi[sz]ation number for client",
    ),
    _entry(
        "MP-123",
        "invalid_grant",
        "Invalid JWT header x5c / Failed to extract certificate from jwt",
        "The grant's 'x5c' header is malformed, most often a plain string instead of an array.",
        "Send 'x5c' as a JSON array of base64 DER certificates (the chain), not a string.",
        r"invalid jwt header x5c",
        r"failed to extract certificate from jwt",
    ),
    _entry(
        "MP-124",
        "invalid_grant",
        "Invalid assertion. Client authentication failed. Invalid JWT signature.",
        "The signature does not verify: the private key does not belong to the public key "
        "registered under the 'kid', or the certificate is expired or from the wrong "
        "environment.",
        "Check that MASKINPORTEN_PRIVATE_KEY is the private half of the JWK registered under "
        "MASKINPORTEN_KID (mpctl readiness, then mpctl plan to compare thumbprints).",
        r"invalid jwt signature",
        r"could not validate jwt signature",
    ),
    _entry(
        "MP-130",
        "invalid_grant",
        "JWT is expired",
        "The grant's 'exp' has passed: it was used too late, reused, or the signer's clock is "
        "behind.",
        "Make a new grant for every token request and check that the host clock is in sync (NTP).",
        r"jwt is expired",
    ),
    _entry(
        "unknown-kid",
        "invalid_grant",
        "Invalid assertion. Client authentication failed. Unknown key identifier (kid) for client.",
        "The grant's 'kid' is not registered on the client: the key was rotated in the portal "
        "without updating the workload, or the new key has not been registered (or has not "
        "propagated yet; new keys may take minutes).",
        "Compare MASKINPORTEN_KID with the client's JWKS (mpctl plan shows it); register the "
        "key (mpctl apply) or update the workload to the current kid, then retry.",
        r"unknown key identifier",
    ),
    _entry(
        "kid-required",
        "invalid_grant",
        "Invalid JWT. The client requires pre-registered jwk and no key identifier (kid) provided",
        "The client has registered keys, so the grant must name one in 'kid'; it came with "
        "only a certificate ('x5c').",
        "Put the registered kid in the grant header (MASKINPORTEN_KID).",
        r"requires pre-registered jwk",
    ),
    _entry(
        "kid-or-x5c-missing",
        "invalid_grant",
        "Either 'kid' or 'x5c' must be present",
        "The grant header names neither a registered key ('kid') nor a certificate ('x5c').",
        "Add the registered kid to the grant header.",
        r"either 'kid' or 'x5c' must be present",
    ),
    _entry(
        "issue-time-after-now",
        "invalid_grant",
        "Issue time is after now",
        "The grant's 'iat' is more than about 10 seconds ahead of Maskinporten's clock: the "
        "signer's clock is off.",
        "Synchronise the host clock (NTP); Maskinporten follows Justervesenet's time.",
        r"issue time is after now",
    ),
    _entry(
        "MP-011",
        "invalid_request",
        "Invalid assertion. Invalid parameter value",
        "The grant is malformed: a stray line break or typo in the assertion, or a claim "
        "Maskinporten does not allow.",
        "Send the compact JWS on one line, with only the documented claims (aud, iss, scope, "
        "iat, exp, jti, and consumer_org or resource when needed).",
        r"invalid parameter value",
    ),
    _entry(
        "consumer-org-is-own-org",
        "invalid_request",
        "Validation of JWT claim failed: The combination consumer_org in claim and delegation "
        "scope on client is invalid",
        "'consumer_org' is the client's own organisation number; it is only for acting on "
        "behalf of another organisation that delegated the scope in Altinn.",
        "Remove 'consumer_org' from the grant when asking for your own organisation (drop the "
        "delegation from the client's manifest if it names your own org).",
        r"combination consumer_org in claim and delegation scope on client is invalid",
    ),
    _entry(
        "MP-012",
        "invalid_grant",
        "Grant is used before",
        "The grant's 'jti' was seen before: the same grant was sent twice, or the signer does "
        "not make a fresh jti for every request.",
        "Make a new grant with a new jti for every token request (also for every retry).",
        r"grant is used before",
    ),
    _entry(
        "MP-200",
        "invalid_scope",
        "Token request contains invalid scopes for client",
        "A requested scope is not registered on the client (or is misspelled).",
        "Add the scope to the client's manifest and run mpctl apply, or fix the scope name in "
        "the request.",
        r"contains invalid scopes for client",
    ),
    _entry(
        "MP-201",
        "invalid_scope",
        "Token request contains scopes with integration types only allowed for user login",
        "The scope does not allow the client's integration type (for example a scope only "
        "allowed for user login).",
        "Use a client whose integration type the scope allows (a new client may be needed), or "
        "ask the API provider to allow 'maskinporten' on the scope.",
        r"scopes not allowed for maskinporten",
        r"integration types only allowed for user login",
    ),
    _entry(
        "MP-250",
        "forbidden",
        "Consumer has not been granted access to the scope",
        "The consumer organisation has no approved access to the scope; for a supplier, the "
        "grant may also lack 'consumer_org'.",
        "The consumer must ask the API provider for access to the scope (or use a scope it has "
        "access to). A supplier must send 'consumer_org' for the consumer it acts for.",
        r"consumer has not been granted access to the scope",
        status=403,
    ),
    _entry(
        "MP-251",
        "forbidden",
        "Consumer <c> has not delegated access to the scope <s> to supplier <p>",
        "The consumer has not delegated the scope to the supplier in Altinn, or delegated "
        "another right. Delegations made in production Altinn do not count in TT02.",
        "Someone with the right role at the consumer logs in to Altinn and delegates the "
        "scope's delegation scheme to the supplier (in TT02 for TEST).",
        r"consumer .{0,60}?has not delegated",
        status=403,
    ),
    _entry(
        "MP-301",
        "invalid_request",
        "Unknown authorization details type",
        "The grant's 'authorization_details' uses a type Maskinporten does not know (RAR).",
        "Use a supported type such as urn:altinn:systemuser.",
        r"unknown authori[sz]ation[ _]details type",
    ),
    _entry(
        "MP-302",
        "invalid_request",
        "Unknown fields in authorization details",
        "The grant's 'authorization_details' has fields its type does not define.",
        "Send only the fields documented for that authorization_details type.",
        r"unknown fields?.{0,40}authori[sz]ation[ _]details",
        r"authori[sz]ation[ _]details.{0,40}unknown fields?",
    ),
    _entry(
        "MP-303",
        "invalid_request",
        "Invalid values in authorization details",
        "A field in 'authorization_details' has a value Maskinporten refuses (for example a "
        "malformed systemuser_org).",
        "Check the values, e.g. systemuser_org ID as '0192:<orgno>'.",
        r"invalid values?.{0,40}authori[sz]ation[ _]details",
        r"authori[sz]ation[ _]details.{0,40}invalid values?",
    ),
)
_BY_ID = {entry.id.lower(): entry for entry in CATALOGUE}


def explain(text_or_code: str) -> list[Entry]:
    """Entries for an MP code, an `error_uri`, a slug, a description text or an `error` code.

    MP codes found anywhere in the text win; otherwise description patterns, most specific
    (longest match) first; otherwise every entry with that OAuth `error`.
    """
    text = text_or_code.strip()
    if not text:
        return []
    by_code = _unique(_BY_ID[f"mp-{d}"] for d in _MP_CODE.findall(text) if f"mp-{d}" in _BY_ID)
    if by_code:
        return by_code
    if text.lower() in _BY_ID:
        return [_BY_ID[text.lower()]]
    matched = _by_description(text)
    if matched:
        return matched
    return [entry for entry in CATALOGUE if entry.error == text.lower()]


def _by_description(text: str) -> list[Entry]:
    normalised = " ".join(_TRACE.sub("", text).split()).lower()
    scored: list[tuple[int, int, Entry]] = []
    for order, entry in enumerate(CATALOGUE):
        lengths = [len(m[0]) for p in entry.patterns if (m := re.search(p, normalised))]
        if lengths:
            scored.append((-max(lengths), order, entry))
    return [entry for _, _, entry in sorted(scored, key=lambda item: item[:2])]


def _unique(entries: Iterable[Entry]) -> list[Entry]:
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.id, entry)
    return list(seen.values())


@dataclass(frozen=True)
class Diagnosis:
    """A token endpoint's error body, read against the catalogue."""

    error: str | None
    description: str | None
    error_uri: str | None
    trace_id: str | None
    entries: tuple[Entry, ...]

    @property
    def best(self) -> Entry | None:
        return self.entries[0] if self.entries else None


def diagnose(response_json: Mapping[str, object]) -> Diagnosis:
    """Match an error body (`error`, `error_description`, `error_uri`) to catalogue entries."""
    error = _text(response_json.get("error"))
    description = _text(response_json.get("error_description"))
    error_uri = _text(response_json.get("error_uri"))
    entries: list[Entry] = []
    for clue in (error_uri, description, error):
        if clue and not entries:
            entries = explain(clue)
    trace = _TRACE_ID.search(description or "")
    return Diagnosis(
        error=error,
        description=description,
        error_uri=error_uri,
        trace_id=trace[1] if trace else None,
        entries=tuple(entries),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
