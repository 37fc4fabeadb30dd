"""Supplier mode on the admin credential: `supplier: true` (or the scope listed) makes mpctl
ask for idporten:dcr.supplier when reading and writing, and nothing changes without it."""

from __future__ import annotations

from typing import Any

from mpctl.model import DCR_SUPPLIER, AdminCredential
from mpctl.model.config import ReadOnlyAdminCredential

KEY: dict[str, Any] = {"client_id": "admin", "kid": "k1", "private_key": {"env": "KEY"}}
WRITES = {"idporten:dcr.write", "idporten:dcr.modify", "idporten:scopes.write"}


def test_a_supplier_asks_for_the_supplier_scope_to_read_and_to_write() -> None:
    admin = AdminCredential.model_validate({**KEY, "supplier": True})
    assert admin.holds_supplier
    read = admin.scopes_for("read")
    assert DCR_SUPPLIER in read
    assert not WRITES.intersection(read)
    write = admin.scopes_for("write")
    assert DCR_SUPPLIER in write
    assert set(write) >= WRITES
    assert len(write) == len(set(write))


def test_listing_the_scope_is_the_same_as_supplier_true() -> None:
    scopes = ["idporten:dcr.read", "idporten:dcr.write", DCR_SUPPLIER]
    admin = AdminCredential.model_validate({**KEY, "scopes": scopes})
    assert admin.holds_supplier
    assert admin.scopes_for("write") == tuple(scopes)
    assert admin.scopes_for("read") == ("idporten:dcr.read", DCR_SUPPLIER)


def test_without_it_nothing_changes() -> None:
    admin = AdminCredential.model_validate(KEY)
    assert not admin.holds_supplier
    assert DCR_SUPPLIER not in admin.scopes_for("write")
    assert DCR_SUPPLIER not in admin.scopes_for("read")


def test_a_read_only_admin_may_be_a_supplier() -> None:
    readonly = ReadOnlyAdminCredential.model_validate({**KEY, "supplier": True})
    assert readonly.scopes_for("read") == (
        "idporten:dcr.read",
        "idporten:scopes.read",
        DCR_SUPPLIER,
    )
