"""Path segments and outbound payload guards for the self-service API.

Owns the rule that nothing a caller passes can escape its path segment (an org number is exactly
nine ASCII digits, reference §5.2 / BEKK: `..` would turn `DELETE /scopes/access/..` into
`DELETE /scopes`), and that a JWKS upload holds public members only (reliability S7) and
carries `use`. Scope names
never enter a path: they travel as the `scope` query parameter. Must not do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from mpctl.remote.errors import UnsafeRequestError

_ORGNO = re.compile(r"[0-9]{9}")
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})


def orgno_segment(orgno: str) -> str:
    """`orgno` when it is exactly nine ASCII digits; refuses anything else before a path exists."""
    if not isinstance(orgno, str) or not _ORGNO.fullmatch(orgno):
        raise UnsafeRequestError(
            f"organisation number {orgno!r} must be exactly 9 digits",
            hint="org numbers are validated before they are put in a URL path",
        )
    return orgno


def client_id_segment(client_id: str) -> str:
    """`client_id` percent-encoded as one path segment; empty, `.` and `..` are refused."""
    if not isinstance(client_id, str) or client_id in {"", ".", ".."}:
        raise UnsafeRequestError(f"client id {client_id!r} cannot be used in a URL path")
    return quote(client_id, safe="")


def public_keys(keys: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The key set as a JSON list, refused when empty or when any key has private members.

    Keys registered before the 2025-05-22 API version come back without `use`, which the API
    now requires: it is filled in as `sig` (reference §8.4, quirk 1).
    """
    if not keys:
        raise UnsafeRequestError(
            "refusing to upload an empty key set",
            hint="Digdir removes the last key with DELETE /clients/{id}/jwks, not an empty POST",
        )
    for key in keys:
        private = sorted(_PRIVATE_JWK_MEMBERS & set(key))
        if private:
            raise UnsafeRequestError(
                f"key {key.get('kid')!r} has private members ({', '.join(private)}); "
                "only public keys are ever uploaded"
            )
    return [{"use": "sig", **key} for key in keys]
