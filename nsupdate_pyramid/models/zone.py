"""Zones and records served by the built-in nameserver (the ``builtin`` backend only).

Every change is stamped with the zone serial it was made at (``records.serial``, and a row of
``record_deletions`` for an RRset removed), so the nameserver can ask "what changed in zone Z
since serial S" with two indexed range scans instead of reloading the whole zone.
"""
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
    # record_deletions at or below this serial have been pruned: a copy of the zone older than
    # it cannot be brought up to date from the change log and is reloaded whole.
    pruned_serial: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # When the zone was made, in microseconds since the epoch: tells a zone deleted and made
    # again under the same name (SQLite may even give it the same id) from the one a copy holds.
    generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    records: Mapped[list[Record]] = relationship(
        back_populates="zone", cascade="all, delete-orphan", passive_deletes=True)


class Record(Base):
    __tablename__ = "records"
    __table_args__ = (Index("ix_records_zone_name_type", "zone_id", "name", "rtype"),
                      Index("ix_records_zone_serial", "zone_id", "serial"))

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"))
    # Relative to the zone; "@" is the apex.
    name: Mapped[str] = mapped_column(String(253))
    rtype: Mapped[str] = mapped_column(String(10))
    ttl: Mapped[int | None] = mapped_column()
    data: Mapped[str] = mapped_column(String(1024))
    # Split horizon: answered to clients coming from the host's own WAN address.
    lan_data: Mapped[str] = mapped_column(String(1024), default="")
    # The zone's serial when this row was last written (0: before changes were tracked).
    serial: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    zone: Mapped[Zone] = relationship(back_populates="records")


class RecordDeletion(Base):
    """An RRset removed at ``serial``: what a change log of the records table alone cannot show.

    Written by the builtin backend when a delete leaves no row of (name, rtype); pruned by it
    once the zone has moved on far enough (see ``zones.pruned_serial``).
    """

    __tablename__ = "record_deletions"
    __table_args__ = (Index("ix_record_deletions_zone_serial", "zone_id", "serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(253))
    rtype: Mapped[str] = mapped_column(String(10))
    serial: Mapped[int] = mapped_column(BigInteger)
