"""The public view of a client's key slots in its secret sink: what rotation decisions read.

Owns `KeySlot` and `SinkState` (pending / current / previous, after AWS Secrets Manager's staging
labels). Holds kids, thumbprints and timestamps only; private key material never enters this
module. Must not do I/O.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from mpctl.model.base import ObservedModel


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
