"""The Pyramid 2 security policy for the web UI (cookie login)."""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from pyramid.authentication import AuthTktCookieHelper
from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.request import Request, RequestLocalCache
from sqlalchemy import select

from ..settings import AppSettings
from .permissions import ADMINS, user_principal

AUTH_COOKIE = "nsu_auth"
#: The first letter of the ticket's token says how long the login lasts: the browser session
#: (at most session_max_age since the last visit) or "keep me logged in" (remember_max_age).
#: One token only: WebOb warns about the comma that would join several in the cookie.
SESSION_LOGIN, PERSISTENT_LOGIN = "p", "r"


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
    def __init__(self, cookie: AuthTktCookieHelper, token_key: str, *, session_max_age: int,
                 remember_max_age: int) -> None:
        # The helper only reads and writes tickets; their age is checked and the ticket renewed
        # here, by the kind of login it records: the helper would renew every ticket with one
        # max_age and so turn "keep me logged in" into a browser-session cookie.
        self.cookie = cookie
        self.token_key = token_key.encode()
        self.max_age = {SESSION_LOGIN: session_max_age, PERSISTENT_LOGIN: remember_max_age}
        self.now = time.time  # tests move the clock
        self.acl = ACLHelper()
        self.cache = RequestLocalCache(self.load_identity)

    def password_token(self, password_hash: str, kind: str = SESSION_LOGIN) -> str:
        """Changes when the password does, which logs out every other browser."""
        digest = hmac.new(self.token_key, password_hash.encode(), hashlib.sha256).hexdigest()
        return kind + digest[:20]

    def load_identity(self, request: Request) -> Identity | None:
        from ..models import User

        ticket = self.cookie.identify(request)
        if ticket is None:
            return None
        try:
            user_id = int(ticket["userid"])
        except (TypeError, ValueError):
            return None
        tokens = tuple(ticket.get("tokens", ()))
        token = tokens[0] if len(tokens) == 1 else ""
        kind = PERSISTENT_LOGIN if token.startswith(PERSISTENT_LOGIN) else SESSION_LOGIN
        age = self.now() - ticket["timestamp"]
        if age > self.max_age[kind]:
            return None
        row = request.dbsession.execute(
            select(User.id, User.username, User.is_admin, User.language, User.password_hash,
                   User.is_active).where(User.id == user_id)).one_or_none()
        if row is None or not row.is_active:
            return None
        if not hmac.compare_digest(token, self.password_token(row.password_hash, kind)):
            return None
        if age > self.max_age[kind] // 10:
            self._renew(request, user_id, token, kind)
        return Identity(row.id, row.username, row.is_admin, row.language)

    def _renew(self, request: Request, user_id: int, token: str, kind: str) -> None:
        """A fresh ticket of the same kind, so a login in use does not run out."""
        headers = self._cookies(request, user_id, token, kind)

        def add_cookie(request: Request, response: object) -> None:
            # Not after a logout or a new login in the same request: theirs is the last word.
            if not getattr(request, "_authtkt_reissue_revoked", False):
                response.headerlist.extend(headers)  # type: ignore[attr-defined]

        request.add_response_callback(add_cookie)

    def _cookies(self, request: Request, user_id: int, token: str, kind: str) -> list:
        # "keep me logged in": a cookie that outlives the browser; otherwise a session cookie.
        max_age = self.max_age[kind] if kind == PERSISTENT_LOGIN else None
        return self.cookie.remember(request, str(user_id), tokens=(token,), max_age=max_age)

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
                 persistent: bool = False, **kw: object) -> list:
        self.cache.clear(request)
        request._authtkt_reissue_revoked = True  # type: ignore[attr-defined]
        kind = PERSISTENT_LOGIN if persistent else SESSION_LOGIN
        return self._cookies(request, int(userid), self.password_token(password_hash, kind), kind)

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
        # Ages are checked (per kind of login) and tickets renewed by the policy.
        timeout=None,
        reissue_time=None,
    )
    return SecurityPolicy(cookie, derive_key(settings.session_secret, "password-token"),
                          session_max_age=settings.session_max_age,
                          remember_max_age=settings.remember_max_age)
