"""Accounts: creation, lookup and password checks."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..i18n import _
from ..models import User, utcnow
from ..security import passwords
from .errors import AlreadyExists, InvalidValue
from .names import check_username


def get_user_by_username(dbsession: Session, username: str) -> User | None:
    return dbsession.scalars(
        select(User).where(func.lower(User.username) == username.strip().lower())).one_or_none()


def usernames(dbsession: Session, *, admins_only: bool = False) -> list[str]:
    query = select(User.username).order_by(func.lower(User.username))
    if admins_only:
        query = query.where(User.is_admin.is_(True))
    return list(dbsession.scalars(query))


def create_user(dbsession: Session, username: str, email: str, password: str, *,
                is_admin: bool = False, is_active: bool = True, language: str = "") -> User:
    username = check_username(username)
    email = email.strip()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise InvalidValue(_("Invalid email address."))
    if not password:
        raise InvalidValue(_("The password must not be empty."))
    if get_user_by_username(dbsession, username) is not None:
        raise AlreadyExists(_("A user with this name already exists."))
    user = User(username=username, email=email, password_hash=passwords.hash_password(password),
                is_admin=is_admin, is_active=is_active, language=language,
                activated=utcnow() if is_active else None)
    dbsession.add(user)
    dbsession.flush()
    return user


def authenticate(dbsession: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None; the same work either way."""
    user = get_user_by_username(dbsession, username) if username else None
    if user is None:
        passwords.dummy_verify(password)
        return None
    if not passwords.verify_password(user.password_hash, password) or not user.is_active:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login = utcnow()
    return user
