"""Reading zones from the database: blocking calls, made from a worker thread.

Two statements only: every zone's serial (the cheap poll, an index-only scan of a small
table), and one zone with its records in a single statement, so serial and records come
from the same moment on every database (no transaction isolation level to rely on).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from ..models import Record, Zone
from ..models.meta import SQLITE_BEGIN
from .zonedata import RecordRow

ZONES = Zone.__table__
RECORDS = Record.__table__


@dataclass(frozen=True)
class ZoneState:
    id: int
    serial: int


class ZoneSource:
    """The zones and records tables of the app's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def serials(self) -> dict[str, ZoneState]:
        """Zone name -> (id, serial) for every zone."""
        with self._connection() as connection:
            rows = connection.execute(select(ZONES.c.name, ZONES.c.id, ZONES.c.serial))
            return {name: ZoneState(zone_id, serial) for name, zone_id, serial in rows}

    def zone(self, zone_id: int) -> tuple[int, list[RecordRow]] | None:
        """(serial, records) of one zone, read together; None when the zone is gone."""
        statement = (
            select(ZONES.c.serial, RECORDS.c.name, RECORDS.c.rtype, RECORDS.c.data, RECORDS.c.lan_data)
            .select_from(ZONES.outerjoin(RECORDS, RECORDS.c.zone_id == ZONES.c.id))
            .where(ZONES.c.id == zone_id))
        with self._connection() as connection:
            rows = connection.execute(statement).all()
        if not rows:
            return None
        records = [RecordRow(name, rtype, data, lan or "")
                   for _, name, rtype, data, lan in rows if name is not None]
        return rows[0][0], records

    def _connection(self) -> Connection:
        # SQLite: a plain BEGIN (no write lock) for these reads, in whichever thread runs them.
        SQLITE_BEGIN.set("BEGIN")
        return self.engine.connect()
