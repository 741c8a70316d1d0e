from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow, Authenticated

from ..security import Permission
from .base import ADMIN_THEN_DENY, Resource


class Account(Resource):
    """``/account/``: always the logged-in user's own account."""

    @property
    def __acl__(self) -> list[Any]:
        granted = (Permission.VIEW.value, Permission.EDIT.value, Permission.DELETE.value)
        return [(Allow, Authenticated, granted), *ADMIN_THEN_DENY]
