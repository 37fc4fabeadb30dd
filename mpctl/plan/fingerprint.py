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
    # Scalars and plain dicts first: they are most of a snapshot, and the Mapping check (an
    # abstract base class) is slow at 200,000 values.
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict | Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_canonical(v) for v in value]
        return sorted(items, key=canonical_json)
    if isinstance(value, BaseModel):
        return _canonical(value.model_dump(mode="json"))
    return value
