"""The update API's two hot statements, run on the pool's DBAPI connection.

A host read through a SQLAlchemy Connection cost 64 µs of CPU, the same SELECT on the
DBAPI cursor 15 µs: the Connection object, its events, the autobegin bookkeeping and the
result machinery are most of a nochg answer. ``Prepared`` keeps what SQLAlchemy computes
per statement (SQL text for the dialect, the order of its parameters, the type processors
of the binds and of the result columns) and runs it on a DBAPI connection checked out of
the engine's autocommit pool (``models.autocommit_engine``: on SQLite the engine's own).
Errors become SQLAlchemy's DBAPIError, and a dropped server connection is invalidated, as
SQLAlchemy does. Given a SQLAlchemy Connection (tests, transactions of the slow path), it
simply executes there.
"""
from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

from ..models import autocommit_engine


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # parameter names for positional paramstyles, else None
    defaults: dict[str, Any]  # values compiled into the statement (function arguments)
    computed: tuple[tuple[str, Any], ...]  # columns' Python-side defaults (onupdate=utcnow)
    binds: dict[str, Callable[[Any], Any]]  # bind processors, where the type has one
    row: type | None  # a named tuple of the result columns (None: no rows)
    results: tuple[Callable[[Any], Any] | None, ...]


class RawConnection:
    """A DBAPI connection from the engine's pool, for ``Prepared.execute``."""

    def __init__(self, engine: Engine, dbapi_connection: Any) -> None:
        self.engine = engine
        self.dialect: Dialect = engine.dialect
        self.dbapi_connection = dbapi_connection


@dataclass
class RawResult:
    """What the callers use of a CursorResult."""

    rowcount: int
    row: Any = None

    def one_or_none(self) -> Any:
        return self.row


@contextlib.contextmanager
def raw_connection(engine: Engine) -> Iterator[RawConnection]:
    """A pooled DBAPI connection in autocommit: each statement is its own transaction."""
    own = autocommit_engine(engine)
    pooled = own.raw_connection()
    try:
        yield RawConnection(own, pooled)
    finally:
        pooled.close()


class Prepared:
    """A Core statement, compiled once per dialect, that runs on either kind of connection."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def execute(self, connection: Connection | RawConnection, params: Mapping[str, Any]) -> Any:
        if not isinstance(connection, RawConnection):
            return connection.execute(self.statement, params)
        compiled = self._compiled.get(connection.dialect.name) or self._compile(connection.dialect)
        values = dict(compiled.defaults)
        for key, default in compiled.computed:
            values[key] = default.arg(None) if default.is_callable else default.arg
        values.update(params)
        for key, process in compiled.binds.items():
            values[key] = process(values[key])
        arguments: Any = values if compiled.order is None else tuple(values[key] for key in compiled.order)
        dbapi_connection = connection.dbapi_connection
        cursor = dbapi_connection.cursor()
        try:
            try:
                cursor.execute(compiled.sql, arguments)
                row = cursor.fetchone() if compiled.row is not None else None
            except connection.dialect.loaded_dbapi.Error as error:
                gone = connection.dialect.is_disconnect(error, dbapi_connection, cursor)
                if gone:  # as SQLAlchemy does: this connection, and the idle ones of the pool
                    dbapi_connection.invalidate(error)
                    connection.engine.pool.dispose()
                raise DBAPIError.instance(compiled.sql, arguments, error,
                                          connection.dialect.loaded_dbapi.Error,
                                          connection_invalidated=gone,
                                          dialect=connection.dialect) from error
            rowcount = cursor.rowcount
        finally:
            if dbapi_connection.is_valid:
                cursor.close()
        if row is not None:
            row = compiled.row(*[value if process is None else process(value)
                                 for process, value in zip(compiled.results, row, strict=True)])
        return RawResult(rowcount, row)

    def _compile(self, dialect: Dialect) -> _Compiled:
        with self._lock:
            done = self._compiled.get(dialect.name)
            if done is not None:  # another thread was first
                return done
            compiled = self.statement.compile(dialect=dialect)
            names = tuple(compiled.positiontup) if compiled.positional else None
            computed = tuple((column.key, column.onupdate) for column in compiled.update_prefetch)
            defaults = {key: bind.value for key, bind in compiled.binds.items()
                        if not bind.required and bind.callable is None}
            binds = {}
            for key, bind in compiled.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    binds[key] = process
            columns = list(getattr(self.statement, "selected_columns", ()))
            row = collections.namedtuple("PreparedRow", [c.key for c in columns]) if columns else None
            results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                            for column in columns)
            if compiled.insert_prefetch or any(default.is_sequence for _, default in computed):
                raise ValueError("Prepared runs SELECT and UPDATE statements with Python-side defaults only")
            entry = _Compiled(compiled.string, names, defaults, computed, binds, row, results)
            self._compiled[dialect.name] = entry
            return entry
