from __future__ import annotations

from typing import Any

from pyramid.authorization import ALL_PERMISSIONS, Allow, Everyone
from pyramid.request import Request

from ..security import ADMINS, Permission


class Root:
    """``/``: public pages (home, login) hang here as views."""

    __name__ = ""
    __parent__ = None
    __acl__ = [(Allow, Everyone, Permission.VIEW.value), (Allow, ADMINS, ALL_PERMISSIONS)]

    def __init__(self, request: Request) -> None:
        self.request = request

    def __getitem__(self, key: str) -> Any:
        from .account import Account
        from .admin import Admin
        from .domains import Domains
        from .hosts import Hosts
        from .registration import PasswordReset, Registration

        children = {"hosts": Hosts, "domains": Domains, "account": Account, "admin": Admin,
                    "register": Registration, "password-reset": PasswordReset}
        return children[key](self, key)


def root_factory(request: Request) -> Root:
    return Root(request)
