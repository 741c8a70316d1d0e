"""Third-party dyndns2 services a host's updates are passed on to."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from .host import Host


class Service(Base):
    """A dyndns2 service an admin offers (server and path of its update URL)."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    server: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(255), default="/nic/update")
    secure: Mapped[bool] = mapped_column(default=True)
    accept_ipv4: Mapped[bool] = mapped_column(default=True)
    accept_ipv6: Mapped[bool] = mapped_column(default=True)
    comment: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    configs: Mapped[list[ServiceConfig]] = relationship(
        back_populates="service", cascade="all, delete-orphan", passive_deletes=True)


class ServiceConfig(Base):
    """One host's account at a third-party service."""

    __tablename__ = "service_configs"

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    # The third party needs it in clear text, so it cannot be hashed.
    password: Mapped[str] = mapped_column(String(255), default="")
    give_ipv4: Mapped[bool] = mapped_column(default=False)
    give_ipv6: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    comment: Mapped[str] = mapped_column(String(255), default="")
    last_result: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    host: Mapped[Host] = relationship(back_populates="service_configs")
    service: Mapped[Service] = relationship(back_populates="configs")
