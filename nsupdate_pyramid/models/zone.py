"""Zones and records served by the built-in nameserver (the ``builtin`` backend only)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .meta import Base, UTCDateTime, utcnow


class Zone(Base):
    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int | None] = mapped_column(
        ForeignKey("domains.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    # Bumped with every change, in the same transaction; the nameserver reloads on a new serial.
    serial: Mapped[int] = mapped_column(BigInteger, default=1)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    records: Mapped[list[Record]] = relationship(
        back_populates="zone", cascade="all, delete-orphan", passive_deletes=True)


class Record(Base):
    __tablename__ = "records"
    __table_args__ = (Index("ix_records_zone_name_type", "zone_id", "name", "rtype"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"))
    # Relative to the zone; "@" is the apex.
    name: Mapped[str] = mapped_column(String(253))
    rtype: Mapped[str] = mapped_column(String(10))
    ttl: Mapped[int | None] = mapped_column()
    data: Mapped[str] = mapped_column(String(1024))
    # Split horizon: answered to clients coming from the host's own WAN address.
    lan_data: Mapped[str] = mapped_column(String(1024), default="")

    zone: Mapped[Zone] = relationship(back_populates="records")
