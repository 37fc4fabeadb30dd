"""The public view of a client's key slots in its secret sink: what rotation decisions read.

Owns `KeySlot` and `SinkState` (pending / current / previous, after AWS Secrets Manager's staging
labels) and the RFC 7638 thumbprint that ties a kid to its key material. Holds kids, thumbprints
and timestamps only; private key material never enters this module. Must not do I/O.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime

from pydantic import Field

from mpctl.model.base import ObservedModel
from mpctl.model.registrations import ObservedJwk


def rsa_thumbprint(e: str, n: str) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of an RSA public key."""
    members = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"))
    digest = hashlib.sha256(members.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: ObservedJwk | Mapping[str, object]) -> str | None:
    """The RFC 7638 thumbprint of a JWK as Digdir returns it or as mpctl exports it.

    None unless it is an RSA key with `e` and `n` (Digdir may list other keys); the only
    thumbprint mpctl computes, so the planner, apply and the key tooling compare like with like.
    """
    members = jwk.model_dump() if isinstance(jwk, ObservedJwk) else jwk
    kty, e, n = members.get("kty"), members.get("e"), members.get("n")
    if kty != "RSA" or not isinstance(e, str) or not isinstance(n, str) or not e or not n:
        return None
    return rsa_thumbprint(e, n)


class KeySlot(ObservedModel):
    """One key as the sink knows it: identity and age, never the private half."""

    kid: str
    thumbprint: str = Field(description="RFC 7638 JWK thumbprint (SHA-256, base64url)")
    algorithm: str = "RS256"
    created_at: datetime
    promoted_at: datetime | None = Field(
        default=None, description="When this key became current (start of the old key's grace)"
    )


class SinkState(ObservedModel):
    """The labels of one client's secret in one environment."""

    client_id: str | None = None
    current: KeySlot | None = None
    previous: KeySlot | None = None
    pending: KeySlot | None = None

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(s.kid for s in (self.current, self.previous, self.pending) if s)
