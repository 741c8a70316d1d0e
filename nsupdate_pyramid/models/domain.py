"""Zones that hold hosts, and how to reach the nameserver that serves them."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from .host import Host
    from .user import User

TSIG_ALGORITHMS = (
    "hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512",
)
DEFAULT_TSIG_ALGORITHM = "hmac-sha512"


class Domain(Base):
    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-case and without the trailing dot; unique on its own.
    name: Mapped[str] = mapped_column(String(253), unique=True)
    # RESTRICT: a domain may carry other people's hosts, so deleting its owner must decide
    # explicitly what happens to it (and remove DNS records through the backend).
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    public: Mapped[bool] = mapped_column(default=False)
    available: Mapped[bool] = mapped_column(default=True)
    comment: Mapped[str] = mapped_column(String(255), default="")
    backend: Mapped[str] = mapped_column(String(64))
    nameserver_ip: Mapped[str] = mapped_column(String(45), default="")
    nameserver2_ip: Mapped[str] = mapped_column(String(45), default="")
    nameserver_port: Mapped[int] = mapped_column(default=53)
    tsig_key_name: Mapped[str] = mapped_column(String(253), default="")
    tsig_algorithm: Mapped[str] = mapped_column(String(16), default=DEFAULT_TSIG_ALGORITHM)
    # Kept as given: it has to be sent to the nameserver with every update.
    tsig_secret: Mapped[str] = mapped_column(String(255), default="")
    ttl: Mapped[int | None] = mapped_column()
    last_update: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_check: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_ok: Mapped[bool | None] = mapped_column()
    check_result: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship()
    hosts: Mapped[list[Host]] = relationship(back_populates="domain", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<Domain {self.id} {self.name!r}>"
