"""State records as the API shows them: the JSON of clients, key sets, scopes and grants.

Owns field selection (server-internal fields such as `admin` and `registered_at` never leave),
omission of unset optional fields, and v1 timestamps. It must not change records.
"""

from __future__ import annotations

from typing import Any

from mpctl.emulator.state import (
    AccessRecord,
    ClientRecord,
    DelegationSource,
    EmulatorState,
    KeySet,
    ScopeRecord,
    StoredKey,
)
from mpctl.emulator.wire import encode_json, v1_timestamp

_CLIENT_INTERNAL = {"admin", "jwks", "created", "last_updated"}
_SCOPE_INTERNAL = {"localised", "created", "last_updated"}


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _stamped(values: dict[str, Any], created: float, last_updated: float) -> dict[str, Any]:
    return {**values, "created": v1_timestamp(created), "last_updated": v1_timestamp(last_updated)}


def client_view(client: ClientRecord) -> dict[str, Any]:
    shown = _without_none(client.model_dump(exclude=_CLIENT_INTERNAL))
    return _stamped(shown, client.created, client.last_updated)


def encoded_client_view(client: ClientRecord) -> bytes:
    """`client_view` as JSON, kept with the record until it changes: a listing of thousands of
    clients joins these instead of building and encoding every view again."""
    return client.derived("encoded_view", lambda: encode_json(client_view(client)))


def key_view(key: StoredKey) -> dict[str, Any]:
    return _without_none(key.model_dump(exclude={"registered_at"}))


def key_set_view(key_set: KeySet | None) -> dict[str, Any]:
    if key_set is None:
        return {"keys": []}
    shown = {"keys": [key_view(key) for key in key_set.keys]}
    return _stamped(shown, key_set.created, key_set.last_updated)


def scope_view(scope: ScopeRecord) -> dict[str, Any]:
    shown = _without_none(scope.model_dump(exclude=_SCOPE_INTERNAL))
    shown.update(scope.localised)
    shown["protected"] = False
    return _stamped(shown, scope.created, scope.last_updated)


def access_view(record: AccessRecord, state: EmulatorState) -> dict[str, Any]:
    shown = record.model_dump(exclude={"created", "last_updated"})
    for role in ("owner", "consumer"):
        organisation = state.organisations.get(getattr(record, f"{role}_orgno"))
        if organisation is not None:
            shown[f"{role}_organization_name"] = organisation.name
    return _stamped(shown, record.created, record.last_updated)


def delegation_source_view(source: DelegationSource) -> dict[str, Any]:
    shown = {"name": source.name, "issuer": source.issuer}
    return _stamped(shown, source.created, source.last_updated)
