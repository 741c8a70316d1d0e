"""Contexts of a remote login's return from the provider (velruse's callback routes).

velruse's callback route builds its context itself: the provider's ``callback`` returns an
``AuthenticationComplete`` or ``AuthenticationDenied``, and the views for those contexts finish
the login. Ours subclass velruse's classes and own an ACL like every other resource: anyone may
come back from a provider (``view``); whether the answer is any good is the provider's check of
the OAuth ``state`` and the code exchange, done before the context exists.
"""
from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow, Everyone
from velruse import AuthenticationComplete, AuthenticationDenied

from ..security import Permission
from .base import ADMIN_THEN_DENY

_ACL: list[Any] = [(Allow, Everyone, Permission.VIEW.value), *ADMIN_THEN_DENY]


class RemoteLoginComplete(AuthenticationComplete):
    """The provider vouched for a person: ``profile`` (velruse's shape) plus what the login
    started with (where to go next, and the account to link to, if any)."""

    __name__ = ""
    __parent__ = None
    __acl__ = _ACL
    login_required = False

    def __init__(self, *, came_from: str, link_user_id: int | None, **kw: Any) -> None:
        super().__init__(**kw)
        self.came_from = came_from
        self.link_user_id = link_user_id

    @property
    def remote_id(self) -> str:
        return str(self.profile["accounts"][0]["userid"])


class RemoteLoginDenied(AuthenticationDenied):
    """The person said no at the provider (or the provider sent an error instead of a code)."""

    __name__ = ""
    __parent__ = None
    __acl__ = _ACL
    login_required = False

    def __init__(self, *, came_from: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.came_from = came_from
