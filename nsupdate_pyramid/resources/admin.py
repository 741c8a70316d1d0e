"""``/admin/``: operators only; to everyone else none of it exists (404).

``/admin/<kind>/`` lists rows of one kind (``services.admin.KINDS``), ``/admin/<kind>/<id>/``
is one row, ``/admin/log/`` the audit log. Every node ends its ACL with DENY_ALL, so nothing
granted at the root (``view`` for Everyone) reaches down here.
"""
from __future__ import annotations

from typing import Any

from ..services import admin as admin_service
from .base import ADMIN_THEN_DENY, PrivateResource


class AdminResource(PrivateResource):
    """Anonymous visitors get the 404 too, not a login page that confirms the area exists."""

    login_required = False

    @property
    def __acl__(self) -> list[Any]:
        return list(ADMIN_THEN_DENY)


class AdminRow(AdminResource):
    """One row of a kind, found by id."""

    def __init__(self, parent: AdminCollection, name: str, row: Any) -> None:
        super().__init__(parent, name)
        self.kind = parent.kind
        self.row = row


class AdminCollection(AdminResource):
    """All rows of one kind."""

    def __init__(self, parent: Admin, name: str) -> None:
        super().__init__(parent, name)
        self.kind = admin_service.KINDS[name]

    def __getitem__(self, key: str) -> AdminRow:
        row = admin_service.get_row(self.request.dbsession, self.kind, key)
        if row is None:
            raise KeyError(key)
        return AdminRow(self, key, row)


class AuditLog(AdminResource):
    """``/admin/log/``: what admins (and the maintenance commands) changed."""


class Admin(AdminResource):
    """``/admin/``: the status figures and links to each kind."""

    def __getitem__(self, key: str) -> AdminResource:
        if key == "log":
            return AuditLog(self, key)
        if key in admin_service.KINDS:
            return AdminCollection(self, key)
        raise KeyError(key)
