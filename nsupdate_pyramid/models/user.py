"""People who log in, and the remote identities (velruse) linked to them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150))
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(10), default="")
    date_joined: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the owner first proved the address (registration link; accounts made by an operator:
    # at creation). None = a registration never activated, which cleanupregistration removes once
    # the link has expired; an account an admin switched off (is_active false) keeps its date.
    activated: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(default=0)
    last_failed_login: Mapped[datetime | None] = mapped_column(UTCDateTime)

    remote_logins: Mapped[list[RemoteLogin]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"


# Usernames are unique regardless of case: "Alice" and "alice" are one person.
Index("uq_users_username_lower", func.lower(User.username), unique=True)
Index("ix_users_email_lower", func.lower(User.email))


class RemoteLogin(Base):
    """A login at another site (GitHub, Google, ...) that may log this user in."""

    __tablename__ = "remote_logins"
    __table_args__ = (UniqueConstraint("provider", "provider_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_user_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="remote_logins")


class LoginThrottle(Base):
    """Failed logins per account name or client network, kept apart from any one request.

    ``key`` is ``account:<lower-case name>`` (whether or not such an account exists, so the
    lockout tells nobody which names are taken) or ``address:<ip or IPv6 /64>``.
    """

    __tablename__ = "login_throttles"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
