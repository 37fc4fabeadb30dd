"""Maskinporten's error catalogue for the token endpoint: exact texts, OAuth codes, MP codes.

Owns the wording, taken from seed 000 (Feilsøking i Maskinporten) and the API reference §7.6,
so every refusal reads exactly like Maskinporten's. It must not decide when to refuse; the
checks live in `grant_checks`.
"""

from __future__ import annotations

from typing import Final

from mpctl.emulator.errors import TokenError

_AUTH_FAILED: Final = "Invalid assertion. Client authentication failed."


def unsupported_grant_type() -> TokenError:
    return TokenError("unsupported_grant_type", "Unsupported grant_type")


def missing_assertion() -> TokenError:
    return TokenError("invalid_request", "Missing assertion")


def invalid_parameter() -> TokenError:
    """MP-011: malformed grant, unsupported alg, missing or unknown claims."""
    return TokenError("invalid_request", "Invalid assertion. Invalid parameter value", "MP-011")


def grant_used_before() -> TokenError:
    return TokenError("invalid_grant", "Grant is used before", "MP-012")


def client_not_found() -> TokenError:
    return TokenError("invalid_grant", f"{_AUTH_FAILED} Client not found.", "MP-100")


def invalid_audience() -> TokenError:
    return TokenError("invalid_grant", f"{_AUTH_FAILED} Invalid JWT claim aud", "MP-110")


def invalid_certificate() -> TokenError:
    text = f"{_AUTH_FAILED} The JWT is signed with an invalid certificate."
    return TokenError("invalid_grant", text, "MP-120")


def expired_key() -> TokenError:
    return TokenError("invalid_grant", f"{_AUTH_FAILED} Expired key.", "MP-121")


def certificate_org_mismatch(client_orgno: str, certificate_orgno: str | None) -> TokenError:
    """MP-122 as seed 000 words it, with both organisation numbers."""
    text = f"Client orgno {client_orgno} does not match certificate orgno {certificate_orgno}"
    return TokenError("invalid_grant", text, "MP-122")


def invalid_x5c() -> TokenError:
    """MP-123 as seed 000 words it (x5c missing, not an array, or not a certificate)."""
    return TokenError("invalid_grant", "Failed to extract certificate from jwt", "MP-123")


def invalid_signature() -> TokenError:
    """MP-124 for a registered key (`kid`): the text of real Maskinporten bodies."""
    return TokenError("invalid_grant", f"{_AUTH_FAILED} Invalid JWT signature.", "MP-124")


def invalid_certificate_signature() -> TokenError:
    """MP-124 for a business certificate (`x5c`), as seed 000 words it."""
    return TokenError("invalid_grant", "Could not validate JWT Signature", "MP-124")


def jwt_expired() -> TokenError:
    return TokenError("invalid_grant", "JWT is expired", "MP-130")


def issue_time_after_now() -> TokenError:
    return TokenError("invalid_grant", "Issue time is after now")


def unknown_kid() -> TokenError:
    return TokenError("invalid_grant", f"{_AUTH_FAILED} Unknown key identifier (kid) for client.")


def kid_required() -> TokenError:
    text = (
        f"{_AUTH_FAILED} Invalid JWT. The client requires pre-registered jwk "
        "and no key identifier (kid) provided"
    )
    return TokenError("invalid_grant", text)


def consumer_org_invalid() -> TokenError:
    text = (
        "Validation of JWT claim failed: The combination consumer_org in claim "
        "and delegation scope on client is invalid"
    )
    return TokenError("invalid_request", text)


def invalid_scopes(scopes: list[str]) -> TokenError:
    text = f"Token request contains invalid scopes for client, {', '.join(scopes)}"
    return TokenError("invalid_scope", text, "MP-200")


def scopes_not_allowed() -> TokenError:
    """MP-201 as seed 000 words it."""
    text = "Token request contains scopes with integration types only allowed for user login"
    return TokenError("invalid_scope", text, "MP-201")


def access_not_granted(scope: str) -> TokenError:
    text = f"Consumer has not been granted access to the scope {scope}."
    return TokenError("forbidden", text, "MP-250")


def not_delegated(consumer: str, scope: str, supplier: str) -> TokenError:
    text = (
        f"Consumer {consumer} has not delegated access to the scope {scope} to supplier {supplier}."
    )
    return TokenError("forbidden", text, "MP-251")


def not_form_encoded() -> TokenError:
    return TokenError("invalid_request", "Request must be application/x-www-form-urlencoded")
