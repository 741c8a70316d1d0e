from __future__ import annotations

from typing import Any

from .base import ADMIN_THEN_DENY, PrivateResource


class Admin(PrivateResource):
    """``/admin/``: operators only; to everyone else it does not exist (404)."""

    login_required = False

    @property
    def __acl__(self) -> list[Any]:
        return list(ADMIN_THEN_DENY)
