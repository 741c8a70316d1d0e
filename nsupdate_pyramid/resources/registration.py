"""Pages for people without a login: ``/register/`` and ``/password-reset/``.

Anyone may use them (``view``); what they change is guarded by the token in the mailed link
and by the CSRF token of the form.
"""
from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow, Everyone

from ..security import Permission
from .base import ADMIN_THEN_DENY, Resource


class _Public(Resource):
    login_required = False

    @property
    def __acl__(self) -> list[Any]:
        return [(Allow, Everyone, Permission.VIEW.value), *ADMIN_THEN_DENY]


class Registration(_Public):
    """``/register/`` (form), ``/register/sent``, ``/register/activate/<token>``."""


class PasswordReset(_Public):
    """``/password-reset/`` (ask for a link), ``/password-reset/<token>`` (set the password)."""

    def __getitem__(self, token: str) -> ResetToken:
        return ResetToken(self, token)


class ResetToken(_Public):
    """One mailed reset link; whether it is valid is the view's question."""

    def __init__(self, parent: PasswordReset, token: str) -> None:
        super().__init__(parent, token)
        self.token = token
