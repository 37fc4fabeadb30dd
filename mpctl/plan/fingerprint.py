"""The fingerprint of an observed snapshot: what `apply --plan` compares to refuse stale plans.

Owns the canonical form of `ObservedState` plus sink states: every model dumped to JSON values,
every collection sorted (no list in the snapshot is order-significant), keys sorted, hashed
with SHA-256. `public_scopes` (other organisations' public catalogue) is left out: it changes
without us and only feeds diagnostics. Apply must call this same function on its fresh fetch.
Must not do I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from mpctl.model import ObservedState, SinkState
from mpctl.plan.types import canonical_json


def observed_fingerprint(observed: ObservedState, sinks: Mapping[str, SinkState]) -> str:
    """'sha256:<hex>' of the canonical snapshot; equal snapshots give equal fingerprints."""
    snapshot = {
        "clients": observed.clients,
        "jwks": observed.jwks,
        "scopes": observed.scopes,
        "access": observed.access,
        "consumable_scopes": observed.consumable_scopes,
        "sinks": sinks,
    }
    digest = hashlib.sha256(canonical_json(_canonical(snapshot)).encode("utf-8"))
    return f"sha256:{digest.hexdigest()}"


def _canonical(value: Any) -> Any:
    # A scalar member is taken as it is, without a call: most of a snapshot's 50,000 values
    # are scalars, and a call for each was most of the fingerprint's time.
    if isinstance(value, dict | Mapping):
        return {str(k): v if type(v) in _SCALARS else _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [v if type(v) in _SCALARS else _canonical(v) for v in value]
        return sorted(items, key=canonical_json) if len(items) > 1 else items
    if isinstance(value, BaseModel):
        return _canonical(value.model_dump(mode="json"))
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})
"""The exact types `_canonical` leaves as they are (JSON's scalars)."""
