"""Which clients a caller may see or change, and with which admin scopes.

Owns ownership rules for client objects: an organisation's own clients need `dcr.read` (reads),
`dcr.write` (create, delete, keys) or `dcr.write`/`dcr.modify` (PUT); clients a supplier made for
other organisations need `dcr.supplier` (or, with the `supplier_clients_with_dcr_read` switch,
`dcr.read` to read them). Everything else is invisible (404), and Digdir's own
admin clients are never shown. It must not validate bodies.
"""

from __future__ import annotations

from typing import Final

from mpctl.emulator.bearer import Caller, require_any
from mpctl.emulator.errors import ApiError
from mpctl.emulator.state import ClientRecord, EmulatorState
from mpctl.emulator.vocabulary import DCR_MODIFY, DCR_READ, DCR_SUPPLIER, DCR_WRITE

READ: Final = frozenset({DCR_READ})
WRITE: Final = frozenset({DCR_WRITE})
CHANGE: Final = frozenset({DCR_WRITE, DCR_MODIFY})


def require_client_scope(caller: Caller, own_scopes: frozenset[str]) -> None:
    """403 unless the token could allow the operation on some client."""
    require_any(caller, own_scopes | {DCR_SUPPLIER})


def _not_found(client_id: str) -> ApiError:
    return ApiError(404, f"No client with client_id {client_id}", object_name="Client")


def visible_client(
    state: EmulatorState,
    caller: Caller,
    client_id: str,
    own_scopes: frozenset[str],
    *,
    reads_supplied: bool = False,
) -> ClientRecord:
    """The client, if the caller may act on it with `own_scopes`; 403/404 otherwise.
    `reads_supplied`: a read with dcr.read reaches the clients the caller supplies too (the
    `supplier_clients_with_dcr_read` switch)."""
    client = state.clients.get(client_id)
    if client is None or client.admin:
        raise _not_found(client_id)
    if client.client_orgno == caller.orgno:
        require_any(caller, own_scopes)
        return client
    if client.supplier_orgno == caller.orgno and _supplier_may(caller, own_scopes, reads_supplied):
        return client
    raise _not_found(client_id)


def _supplier_may(caller: Caller, own_scopes: frozenset[str], reads_supplied: bool) -> bool:
    if DCR_SUPPLIER in caller.scopes:
        return True
    return reads_supplied and own_scopes == READ and caller.has_any(READ)


def active_client(
    state: EmulatorState, caller: Caller, client_id: str, own_scopes: frozenset[str]
) -> ClientRecord:
    """Like `visible_client`, but a deactivated (deleted) client counts as gone."""
    client = visible_client(state, caller, client_id, own_scopes)
    if not client.active:
        raise _not_found(client_id)
    return client


def listed(client: ClientRecord, caller: Caller, reads_supplied: bool = False) -> bool:
    """Whether `GET /clients` shows the client to the caller (`reads_supplied`: dcr.read
    shows the clients the caller supplies too)."""
    if client.admin:
        return False
    if client.client_orgno == caller.orgno:
        return caller.has_any(READ)
    return client.supplier_orgno == caller.orgno and _supplier_may(caller, READ, reads_supplied)
