"""Reading zones from the database: blocking calls, made from a worker thread.

Three statements only: every zone's serial (the cheap poll, a scan of a small table); one
zone with all its records; and one zone with the records of the names changed since a serial
(records stamped with a later serial, plus logged deletions: two indexed range scans, then the
names' rows by the (zone, name) index). Serial and records always come from one statement, so
from the same moment on every database (no transaction isolation level to rely on).

Plain DB-API cursors, not SQLAlchemy: the rows are streamed into the compact zone builder
(no list of 100k row objects on the way), and ``nsupdate-nameserver`` talks to SQLite and
PostgreSQL through their own drivers, without loading SQLAlchemy (about 17 MiB) at all. In the
web process (embedded mode) the app's engine lends its pooled connections instead.
"""
from __future__ import annotations

import importlib.util
import itertools
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..settings import missing_driver
from .config import ServerConfig
from .zonedata import Row, ZoneData, ZoneDelta, build_delta, build_zone

log = logging.getLogger(__name__)

SERIALS = "SELECT name, id, serial, pruned_serial, generation FROM zones"
ZONE = ("SELECT z.serial, r.name, r.rtype, r.data, r.lan_data FROM zones z "
        "LEFT OUTER JOIN records r ON r.zone_id = z.id WHERE z.id = {zone}")
#: The zone's serial with the rows of every name changed since {since}; a changed name without
#: rows (all removed) comes as one row of NULLs after its name, a zone without changes as one
#: row of NULLs after the serial.
CHANGES = ("SELECT z.serial, c.name, r.rtype, r.data, r.lan_data FROM zones z "
           "LEFT OUTER JOIN (SELECT name FROM records WHERE zone_id = {zone} AND serial > {since} "
           "UNION SELECT name FROM record_deletions WHERE zone_id = {zone} AND serial > {since}) c "
           "ON 1 = 1 "
           "LEFT OUTER JOIN records r ON r.zone_id = z.id AND r.name = c.name "
           "WHERE z.id = {zone}")
FETCH = 2000


@dataclass(frozen=True)
class ZoneState:
    id: int
    serial: int
    #: Copies older than this serial cannot be patched (their deletions were pruned).
    pruned: int = 0
    #: When the zone was made: a copy of another zone of the same name cannot be patched.
    generation: int = 0

    @property
    def identity(self) -> tuple[int, int]:
        return self.id, self.generation


class Statement:
    """SQL with ``{name}`` parameters, spelt in a DB-API driver's ``paramstyle``."""

    def __init__(self, template: str, paramstyle: str) -> None:
        order = re.findall(r"\{(\w+)\}", template)
        unique = list(dict.fromkeys(order))
        if paramstyle == "named":
            marks = {name: f":{name}" for name in unique}
        elif paramstyle == "pyformat":
            marks = {name: f"%({name})s" for name in unique}
        elif paramstyle == "numeric":
            marks = {name: f":{index}" for index, name in enumerate(unique, 1)}
        else:  # qmark, format: one positional mark per occurrence
            marks = dict.fromkeys(unique, "?" if paramstyle == "qmark" else "%s")
        self.sql = template.format(**marks)
        self._by_name = paramstyle in ("named", "pyformat")
        self._order = unique if paramstyle == "numeric" else order

    def args(self, **values: Any) -> Any:
        return values if self._by_name else tuple(values[name] for name in self._order)


class ZoneSource:
    """The zones and records tables, through DB-API connections that ``connect()`` returns.

    ``keep``: hold one connection between calls (our own connection in ``nsupdate-nameserver``);
    otherwise each call borrows one and closes it (the app's pool, in embedded mode).
    """

    def __init__(self, connect: Callable[[], Any], paramstyle: str = "qmark", *, keep: bool = False,
                 close: Callable[[], None] | None = None) -> None:
        self._connect = connect
        self._zone = Statement(ZONE, paramstyle)
        self._changes = Statement(CHANGES, paramstyle)
        self._keep = keep
        self._close = close
        self._connection: Any = None

    @classmethod
    def from_engine(cls, engine: Any) -> ZoneSource:
        """Borrow the pooled connections of an SQLAlchemy engine (the web app's, embedded)."""
        return cls(engine.raw_connection, engine.dialect.paramstyle)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ZoneSource:
        """Our own connection for ``sqlalchemy.url``: SQLite and PostgreSQL (psycopg) directly,
        any other database through an SQLAlchemy engine built from the ``sqlalchemy.*`` keys."""
        url = str(settings["sqlalchemy.url"])
        parts = urlsplit(url)
        scheme = parts.scheme.split("+", 1)
        if scheme[0] == "sqlite" and url.startswith("sqlite:///") and ":memory:" not in url:
            path = unquote(url[len("sqlite:///"):].split("?", 1)[0])
            return cls(lambda: _sqlite(path), "qmark", keep=True)
        if scheme[0] in ("postgresql", "postgres") and scheme[1:] in ([], ["psycopg"]):
            if importlib.util.find_spec("psycopg") is None:  # refuse to start, not fail later
                raise missing_driver("psycopg")
            params = {key: value for key, value in {
                "host": parts.hostname, "port": parts.port, "dbname": unquote(parts.path.lstrip("/")),
                "user": unquote(parts.username) if parts.username else None,
                "password": unquote(parts.password) if parts.password else None}.items() if value}
            params.update(parse_qsl(parts.query))
            return cls(lambda: _psycopg(params), "format", keep=True)
        from sqlalchemy import engine_from_config  # only for other databases

        engine = engine_from_config(dict(settings), "sqlalchemy.")
        return cls(engine.raw_connection, engine.dialect.paramstyle, close=engine.dispose)

    def serials(self) -> dict[str, ZoneState]:
        """Zone name -> (id, serial, pruned serial, generation) for every zone."""
        with self._cursor() as cursor:
            cursor.execute(SERIALS)
            return {name: ZoneState(*row) for name, *row in cursor.fetchall()}

    def load(self, name: str, zone_id: int, config: ServerConfig) -> ZoneData | None:
        """The zone built straight from the streamed rows; None when the zone is gone."""
        with self._cursor() as cursor:
            cursor.execute(self._zone.sql, self._zone.args(zone=zone_id))
            rows = _stream(cursor)
            first = next(rows, None)
            if first is None:
                return None
            serial = first[0]
            return build_zone(name, serial, _records(first, rows), config)

    def changes(self, name: str, zone_id: int, since: int, config: ServerConfig,
                limit: int) -> ZoneDelta | None:
        """What changed in the zone after serial ``since``; None when the zone is gone or more
        than ``limit`` names changed (then a whole load is cheaper than patching)."""
        with self._cursor() as cursor:
            cursor.execute(self._changes.sql, self._changes.args(zone=zone_id, since=since))
            rows = _stream(cursor)
            first = next(rows, None)
            if first is None:
                return None
            changed: set[str] = set()
            records: list[Row] = []
            for _serial, owner, rtype, data, lan in itertools.chain((first,), rows):
                if owner is None:
                    continue
                changed.add(owner)
                if len(changed) > limit:
                    return None
                if rtype is not None:
                    records.append((owner, rtype, data, lan or ""))
            return build_delta(name, first[0], changed, records, config)

    def close(self) -> None:
        self._drop()
        if self._close is not None:
            self._close()

    def _cursor(self) -> _Cursor:
        if self._connection is None:
            self._connection = self._connect()
        return _Cursor(self)

    def _done(self, failed: bool) -> None:
        if failed or not self._keep:
            self._drop()
        else:
            self._connection.rollback()  # end the read transaction a driver may have begun

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception as exc:  # a broken connection: nothing left to do with it
                log.debug("closing the database connection: %s", exc)


class _Cursor:
    """A cursor of the source's connection; afterwards the connection is kept or dropped."""

    def __init__(self, source: ZoneSource) -> None:
        self.source = source
        self.cursor: Any = None

    def __enter__(self) -> Any:
        try:
            self.cursor = self.source._connection.cursor()
        except Exception:
            self.source._drop()
            raise
        return self.cursor

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            self.cursor.close()
        except Exception:
            kind = kind or Exception
        self.source._done(kind is not None)


def _stream(cursor: Any) -> Iterator[tuple[Any, ...]]:
    while True:
        rows = cursor.fetchmany(FETCH)
        if not rows:
            return
        yield from rows


def _records(first: tuple[Any, ...], rows: Iterator[tuple[Any, ...]]) -> Iterator[Row]:
    """(name, type, data, LAN data) of the joined rows; a zone without records has one row of NULLs."""
    for _serial, name, rtype, data, lan in itertools.chain((first,), rows):
        if name is not None:
            yield name, rtype, data, lan or ""


def _sqlite(path: str) -> Any:
    import sqlite3

    # Autocommit: each SELECT is its own consistent read, and no lock outlives it. mode=rw: a
    # missing file is an error (an outage to report), not a new empty database.
    connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=5.0,
                                 isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA query_only = ON")
    return connection


def _psycopg(params: dict[str, Any]) -> Any:
    import psycopg

    return psycopg.connect(autocommit=True, connect_timeout=10, **params)
