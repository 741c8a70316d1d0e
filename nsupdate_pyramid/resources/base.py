"""Shared pieces of the resource tree."""
from __future__ import annotations

from typing import Any

from pyramid.authorization import ALL_PERMISSIONS, DENY_ALL, Allow

from ..security import ADMINS

# Appended to the ACL of every resource below the root: admins may do anything,
# nobody else anything that was not granted above it in the same ACL.
ADMIN_THEN_DENY: list[Any] = [(Allow, ADMINS, ALL_PERMISSIONS), DENY_ALL]


class Resource:
    """A node with a name and a parent, so URLs and ACL lineage work."""

    # Anonymous visitors who hit this (or anything below it) are sent to the login page.
    login_required = True

    def __init__(self, parent: Any, name: str) -> None:
        self.__parent__ = parent
        self.__name__ = name

    @property
    def request(self) -> Any:
        return self.__parent__.request


class PrivateResource(Resource):
    """Denied access answers 404: others must not learn that it exists."""
