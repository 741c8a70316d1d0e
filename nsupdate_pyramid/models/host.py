"""Hosts (the names routers update) and the hosts that follow them."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from .domain import Domain
    from .service import ServiceConfig
    from .user import User


class Host(Base):
    __tablename__ = "hosts"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    # name + "." + domain.name, lower-case: the one indexed lookup of the update API.
    fqdn: Mapped[str] = mapped_column(String(253), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    comment: Mapped[str] = mapped_column(String(255), default="")
    update_secret_hash: Mapped[str] = mapped_column(String(255), default="")

    available: Mapped[bool] = mapped_column(default=True)
    abuse: Mapped[bool] = mapped_column(default=False)
    abuse_blocked: Mapped[bool] = mapped_column(default=False)

    client_faults: Mapped[int] = mapped_column(default=0)
    server_faults: Mapped[int] = mapped_column(default=0)
    api_auth_faults: Mapped[int] = mapped_column(default=0)
    client_result_msg: Mapped[str] = mapped_column(String(255), default="")
    server_result_msg: Mapped[str] = mapped_column(String(255), default="")
    api_auth_result_msg: Mapped[str] = mapped_column(String(255), default="")
    # Brute-force guard: wrong secrets in the current window.
    recent_auth_failures: Mapped[int] = mapped_column(default=0)
    last_auth_failure: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Any authenticated API request (keeps a host from going stale) ...
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # ... versus a real change of the published address.
    last_update_ipv4: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_update_ipv6: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tls_update_ipv4: Mapped[bool] = mapped_column(default=False)
    tls_update_ipv6: Mapped[bool] = mapped_column(default=False)
    # What we last published successfully: answers nochg without asking DNS.
    published_ipv4: Mapped[str] = mapped_column(String(45), default="")
    published_ipv6: Mapped[str] = mapped_column(String(45), default="")
    # The last prefix sent as a bare network address (FRITZ!Box style): drives related hosts only.
    published_prefix_ipv4: Mapped[str] = mapped_column(String(45), default="")
    published_prefix_ipv6: Mapped[str] = mapped_column(String(45), default="")
    netmask_ipv4: Mapped[int] = mapped_column(default=32)
    netmask_ipv6: Mapped[int] = mapped_column(default=64)
    lan_ip: Mapped[str] = mapped_column(String(45), default="")
    wildcard: Mapped[bool] = mapped_column(default=False)

    staleness: Mapped[int] = mapped_column(default=0)
    staleness_notified: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    domain: Mapped[Domain] = relationship(back_populates="hosts")
    owner: Mapped[User] = relationship()
    related_hosts: Mapped[list[RelatedHost]] = relationship(
        back_populates="host", cascade="all, delete-orphan", passive_deletes=True,
        order_by="RelatedHost.name")
    service_configs: Mapped[list[ServiceConfig]] = relationship(
        back_populates="host", cascade="all, delete-orphan", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<Host {self.id} {self.fqdn!r}>"


class RelatedHost(Base):
    """A name under a host (``nas.home.example.org``) whose address follows the host's prefix."""

    __tablename__ = "related_hosts"
    __table_args__ = (UniqueConstraint("host_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    # Empty interface id: no record of that family.
    interface_id_ipv4: Mapped[str] = mapped_column(String(15), default="")
    interface_id_ipv6: Mapped[str] = mapped_column(String(39), default="")
    available: Mapped[bool] = mapped_column(default=True)
    comment: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    host: Mapped[Host] = relationship(back_populates="related_hosts")
