"""The Pyramid 2 security policy for the web UI (cookie login)."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from pyramid.authentication import AuthTktCookieHelper
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.request import Request, RequestLocalCache
from sqlalchemy import select

from ..settings import AppSettings
from .permissions import ADMINS, user_principal

AUTH_COOKIE = "nsu_auth"


def derive_key(secret: str, purpose: str) -> str:
    """One ini secret, separate keys for the auth ticket, the session and tokens."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Identity:
    """The logged-in user, as plain values (no ORM object escapes the request)."""

    user_id: int
    username: str
    is_admin: bool
    language: str

    def principals(self) -> list[str]:
        principals = [Authenticated, user_principal(self.user_id)]
        if self.is_admin:
            principals.append(ADMINS)
        return principals


class SecurityPolicy:
    def __init__(self, cookie: AuthTktCookieHelper, token_key: str) -> None:
        self.cookie = cookie
        self.token_key = token_key.encode()
        self.acl = ACLHelper()
        self.cache = RequestLocalCache(self.load_identity)

    def password_token(self, password_hash: str) -> str:
        """Changes when the password does, which logs out every other browser."""
        digest = hmac.new(self.token_key, password_hash.encode(), hashlib.sha256).hexdigest()
        return "p" + digest[:20]

    def load_identity(self, request: Request) -> Identity | None:
        from ..models import User

        ticket = self.cookie.identify(request)
        if ticket is None:
            return None
        try:
            user_id = int(ticket["userid"])
        except (TypeError, ValueError):
            return None
        row = request.dbsession.execute(
            select(User.id, User.username, User.is_admin, User.language, User.password_hash,
                   User.is_active).where(User.id == user_id)).one_or_none()
        if row is None or not row.is_active:
            return None
        if self.password_token(row.password_hash) not in ticket.get("tokens", ()):
            return None
        return Identity(row.id, row.username, row.is_admin, row.language)

    def identity(self, request: Request) -> Identity | None:
        return self.cache.get_or_create(request)

    def authenticated_userid(self, request: Request) -> int | None:
        identity = self.identity(request)
        return identity.user_id if identity else None

    def permits(self, request: Request, context: object, permission: str):
        identity = self.identity(request)
        principals = [Everyone, *identity.principals()] if identity else [Everyone]
        return self.acl.permits(context, principals, str(permission))

    def remember(self, request: Request, userid: int, *, password_hash: str = "",
                 persistent: bool = False, max_age: int | None = None, **kw: object) -> list:
        self.cache.clear(request)
        return self.cookie.remember(
            request, str(userid), tokens=(self.password_token(password_hash),),
            max_age=max_age if persistent else None)

    def forget(self, request: Request, **kw: object) -> list:
        self.cache.clear(request)
        return self.cookie.forget(request)


def make_security_policy(settings: AppSettings) -> SecurityPolicy:
    cookie = AuthTktCookieHelper(
        derive_key(settings.session_secret, "auth-ticket"),
        cookie_name=AUTH_COOKIE,
        secure=settings.we_have_tls,
        http_only=True,
        samesite="Lax",
        hashalg="sha512",
        timeout=settings.session_max_age,
        reissue_time=settings.session_max_age // 10,
    )
    return SecurityPolicy(cookie, derive_key(settings.session_secret, "password-token"))
