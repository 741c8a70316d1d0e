"""Permission names and principals, as an enum so a typo fails at import time."""
from __future__ import annotations

from enum import Enum

ADMINS = "group:admins"


class Permission(str, Enum):
    VIEW = "view"
    EDIT = "edit"
    DELETE = "delete"
    UPDATE = "update"  # publish a host's new address
    LIST = "list"
    ADD = "add"
    USE = "use"  # add hosts under a public domain
    ADMIN = "admin"

    def __str__(self) -> str:
        return self.value


def user_principal(user_id: int) -> str:
    return f"user:{user_id}"
