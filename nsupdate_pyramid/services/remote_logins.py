"""Remote logins (GitHub, Google, Bitbucket): find, link, create accounts, unlink.

A remote identity is ``(provider, the provider's stable user id)`` (GitHub's number, Google's
``sub``, Bitbucket's uuid), never a user name or an address: those change and get reused.
Identities are never linked by email address either (GitHub's public address is not even
verified); a person links a remote login to an existing account by starting it while logged in.

Accounts made by a remote login are active at once: the provider authenticated the person. The
address is taken only if the provider says it verified it; otherwise the account has no address
until its owner sets one on the account page (which mails a confirmation link as always).
Such an account has no password. It logs in through its remote logins, so the last of them
cannot be removed; a password can be added with the password-reset mail once it has an address.
"""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..i18n import _
from ..models import RemoteLogin, User, utcnow
from .errors import AlreadyExists, InvalidValue, NotFound
from .names import check_username
from .users import get_user_by_username

#: How long the choice of a user name may take after coming back from the provider (seconds).
PENDING_MAX_AGE = 900


@dataclass(frozen=True)
class PendingSignup:
    """A remote identity without an account, waiting for a user name (kept in the session)."""

    provider: str
    remote_id: str
    display_name: str
    email: str  # verified by the provider, or ""
    username: str  # our suggestion
    expires: float

    @classmethod
    def from_profile(cls, provider: str, profile: dict[str, Any], *,
                     now: float | None = None) -> PendingSignup:
        account = profile["accounts"][0]
        email = str(profile.get("verifiedEmail") or "")
        username = str(account.get("username") or profile.get("preferredUsername") or "")
        return cls(provider=provider, remote_id=str(account["userid"]),
                   display_name=str(account.get("username") or email
                                    or profile.get("displayName") or "")[:255],
                   email=email[:254], username=suggest_username(username or email),
                   expires=(time.time() if now is None else now) + PENDING_MAX_AGE)

    def to_session(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_session(cls, data: Any, *, now: float | None = None) -> PendingSignup | None:
        """The pending sign-up in the session, or None if there is none or it is too old."""
        try:
            pending = cls(**data)
        except TypeError:
            return None
        if pending.expires < (time.time() if now is None else now):
            return None
        return pending


def suggest_username(name: str) -> str:
    """A user name from the provider's one (or an address's local part) that our rules allow."""
    name = name.partition("@")[0] if "@" in name else name
    return re.sub(r"[^\w.+-]", "", name, flags=re.ASCII)[:150]


def find(dbsession: Session, provider: str, remote_id: str) -> RemoteLogin | None:
    return dbsession.scalars(select(RemoteLogin).where(
        RemoteLogin.provider == provider, RemoteLogin.provider_user_id == remote_id)).one_or_none()


def logins_of(dbsession: Session, user_id: int) -> list[RemoteLogin]:
    return list(dbsession.scalars(select(RemoteLogin).where(RemoteLogin.user_id == user_id)
                                  .order_by(RemoteLogin.provider, RemoteLogin.id)))


def used(login: RemoteLogin) -> User:
    """Note a login through ``login``; returns its account."""
    login.last_used = login.user.last_login = utcnow()
    return login.user


def link(dbsession: Session, user: User, provider: str, remote_id: str,
         display_name: str) -> RemoteLogin:
    """Add the remote identity to ``user``; AlreadyExists if another account has it."""
    login = find(dbsession, provider, remote_id)
    if login is not None:
        if login.user_id != user.id:
            raise AlreadyExists(_("This remote login belongs to another account here. Log in "
                                  "to that account to remove it there first."))
        login.display_name = display_name[:255]
        return login
    login = RemoteLogin(user_id=user.id, provider=provider, provider_user_id=remote_id,
                        display_name=display_name[:255], last_used=utcnow())
    dbsession.add(login)
    dbsession.flush()
    return login


def check_new_username(dbsession: Session, username: str) -> str:
    """The name if it follows the rules and is free; InvalidValue / AlreadyExists otherwise."""
    username = check_username(username)
    if get_user_by_username(dbsession, username) is not None:
        raise AlreadyExists(_("This user name is taken. Choose another one."))
    return username


def create_account(dbsession: Session, pending: PendingSignup, username: str,
                   language: str = "") -> User:
    """A new, active, password-less account that logs in with the pending remote identity."""
    username = check_new_username(dbsession, username)
    if find(dbsession, pending.provider, pending.remote_id) is not None:
        raise AlreadyExists(_("This remote login belongs to another account here."))
    now = utcnow()
    user = User(username=username, email=pending.email, password_hash="", is_active=True,
                activated=now, last_login=now, language=language)
    dbsession.add(user)
    dbsession.flush()
    link(dbsession, user, pending.provider, pending.remote_id, pending.display_name)
    return user


def has_password(user: User) -> bool:
    return bool(user.password_hash)


def unlink(dbsession: Session, user: User, login_id: int) -> RemoteLogin:
    """Remove one of ``user``'s remote logins, unless it is the account's last way in."""
    login = dbsession.get(RemoteLogin, login_id)
    if login is None or login.user_id != user.id:
        raise NotFound(_("No such remote login."))
    if not has_password(user) and len(logins_of(dbsession, user.id)) <= 1:
        raise InvalidValue(_("This is the only way to log in to your account: add another "
                             "remote login, or set a password (by the password-reset mail), "
                             "before you remove it."))
    dbsession.delete(login)
    dbsession.flush()
    return login
