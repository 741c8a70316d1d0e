"""Reading zones from the database: blocking calls, made from a worker thread.

Two statements only: every zone's serial (the cheap poll, an index-only scan of a small
table), and one zone with its records in a single statement, so serial and records come
from the same moment on every database (no transaction isolation level to rely on).

Plain DB-API cursors, not SQLAlchemy: the rows are streamed into the compact zone builder
(no list of 100k row objects on the way), and ``nsupdate-nameserver`` talks to SQLite and
PostgreSQL through their own drivers, without loading SQLAlchemy (about 17 MiB) at all. In the
web process (embedded mode) the app's engine lends its pooled connections instead.
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .config import ServerConfig
from .zonedata import ZoneData, build_zone

log = logging.getLogger(__name__)

SERIALS = "SELECT name, id, serial FROM zones"
ZONE = ("SELECT z.serial, r.name, r.rtype, r.data, r.lan_data FROM zones z "
        "LEFT OUTER JOIN records r ON r.zone_id = z.id WHERE z.id = {param}")
#: How DB-API drivers spell the one parameter, by their ``paramstyle``.
PARAMETER = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":1", "named": ":id"}
FETCH = 2000


@dataclass(frozen=True)
class ZoneState:
    id: int
    serial: int


class ZoneSource:
    """The zones and records tables, through DB-API connections that ``connect()`` returns.

    ``keep``: hold one connection between calls (our own connection in ``nsupdate-nameserver``);
    otherwise each call borrows one and closes it (the app's pool, in embedded mode).
    """

    def __init__(self, connect: Callable[[], Any], paramstyle: str = "qmark", *, keep: bool = False,
                 close: Callable[[], None] | None = None) -> None:
        self._connect = connect
        self._zone_sql = ZONE.format(param=PARAMETER[paramstyle])
        self._named = paramstyle == "named"
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
        """Zone name -> (id, serial) for every zone."""
        with self._cursor() as cursor:
            cursor.execute(SERIALS)
            return {name: ZoneState(zone_id, serial) for name, zone_id, serial in cursor.fetchall()}

    def load(self, name: str, zone_id: int, config: ServerConfig) -> ZoneData | None:
        """The zone built straight from the streamed rows; None when the zone is gone."""
        with self._cursor() as cursor:
            cursor.execute(self._zone_sql, {"id": zone_id} if self._named else (zone_id,))
            rows = _stream(cursor)
            first = next(rows, None)
            if first is None:
                return None
            serial = first[0]
            return build_zone(name, serial, _records(first, rows), config)

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


def _records(first: tuple[Any, ...], rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[str, str, str, str]]:
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
