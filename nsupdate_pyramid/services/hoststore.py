"""Database access of the update API: cheap reads, short write transactions, buffered bookkeeping.

Most update requests change nothing that matters for DNS: ``nochg``, a wrong
secret, a bad agent only bump counters and store a message. Those requests
read the host without a write lock and hand their bookkeeping to a buffer that
writes every ``nsupdate.bookkeeping_interval`` seconds, merged per host into one
UPDATE (0 = write at once). Only a request that publishes something (DNS
update or delete, abuse flags, a new prefix) opens a write transaction, and
there it locks the host row and sees fresh values.

The API routes run without pyramid_tm: these connections are the only ones.
"""
from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, update
from sqlalchemy.orm import Session, sessionmaker

from ..models import Host, autocommit_engine
from ..models.meta import sqlite_begin
from .rawsql import Prepared, RawConnection, raw_connection

log = logging.getLogger(__name__)
HOSTS = Host.__table__

# A buffer that cannot be written (database down) is kept, but not without bound.
MAX_PENDING_HOSTS = 100_000
HOST_LOCK_STRIPES = 64


@dataclass
class Delta:
    """Column values (last wins) and counter increments for one host."""

    values: dict[str, Any] = field(default_factory=dict)
    increments: dict[str, int] = field(default_factory=dict)

    def merge(self, values: dict[str, Any], increments: dict[str, int]) -> None:
        for key, value in values.items():
            self.values[key] = value
            self.increments.pop(key, None)  # a set value replaces earlier increments
        for key, amount in increments.items():
            if key in self.values:
                self.values[key] += amount
            else:
                self.increments[key] = self.increments.get(key, 0) + amount



@functools.lru_cache(maxsize=256)
def _update_statement(set_keys: tuple[str, ...], add_keys: tuple[str, ...],
                      expect_keys: tuple[str, ...], async_commit: bool) -> Prepared:
    """One prepared UPDATE per combination of columns: building and caching a statement
    on every request cost more CPU than running it.

    ``async_commit`` (PostgreSQL): the statement itself switches off waiting for the WAL
    flush for its transaction. Counters and the last published address: losing the last
    fraction of a second of them in a crash only makes the next update be sent again. Being
    part of the UPDATE, it also works for a single statement in autocommit: one round trip.
    """
    columns = HOSTS.c
    values: dict[Any, Any] = {columns[key]: bindparam(f"set_{key}", type_=columns[key].type)
                              for key in set_keys}
    for key in add_keys:
        values[columns[key]] = columns[key] + bindparam(f"add_{key}", type_=columns[key].type)
    statement = update(HOSTS).where(columns.id == bindparam("host_id"))
    if async_commit:  # a filter on the one row the index finds: runs once, when there is a row
        statement = statement.where(func.set_config("synchronous_commit", "off", True).is_not(None))
    for key in expect_keys:
        statement = statement.where(columns[key] == bindparam(f"expect_{key}", type_=columns[key].type))
    return Prepared(statement.values(values or {columns.id: columns.id}))


def write_delta(connection: Connection | RawConnection, host_id: int, delta: Delta,
                expect: Mapping[str, Any] | None = None) -> bool:
    """One UPDATE of the host row; with ``expect``, only if those columns still hold those values."""
    if not delta.values and not delta.increments and expect is None:
        return True
    expect = expect or {}
    set_keys, add_keys, expect_keys = sorted(delta.values), sorted(delta.increments), sorted(expect)
    params: dict[str, Any] = {"host_id": host_id}
    params.update((f"set_{key}", delta.values[key]) for key in set_keys)
    params.update((f"add_{key}", delta.increments[key]) for key in add_keys)
    params.update((f"expect_{key}", expect[key]) for key in expect_keys)
    statement = _update_statement(tuple(set_keys), tuple(add_keys), tuple(expect_keys),
                                  connection.dialect.name == "postgresql")
    return statement.execute(connection, params).rowcount == 1


class Bookkeeper:
    """Per-host counters and messages, written later in batches (or at once with interval 0)."""

    def __init__(self, store: HostStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._pending: dict[int, Delta] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, host_id: int, values: dict[str, Any], increments: dict[str, int]) -> None:
        if not values and not increments:
            return
        if self.interval <= 0:
            delta = Delta()
            delta.merge(values, increments)
            with self.store.write() as connection:
                write_delta(connection, host_id, delta)
            return
        with self._lock:
            self._pending.setdefault(host_id, Delta()).merge(values, increments)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bookkeeping", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def take(self, host_id: int) -> Delta | None:
        """What is still pending for a host, for a write transaction to include (keeps order)."""
        with self._lock:
            return self._pending.pop(host_id, None)

    def effective(self, host_id: int, key: str, stored: Any) -> Any:
        """A column's value as it will be once the buffer is written."""
        if not self._pending:
            return stored
        with self._lock:
            delta = self._pending.get(host_id)
            if delta is None:
                return stored
            if key in delta.values:
                return delta.values[key]
            return stored + delta.increments[key] if key in delta.increments else stored

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return
        try:
            with self.store.write() as connection:
                for host_id, delta in batch.items():
                    write_delta(connection, host_id, delta)
        except Exception:
            log.exception("could not write the bookkeeping of %d hosts; will retry", len(batch))
            self.put_back(batch)

    def put_back(self, batch: dict[int, Delta]) -> None:
        """Deltas taken but not written go back in front of anything recorded since."""
        with self._lock:
            for host_id, delta in batch.items():
                if len(self._pending) < MAX_PENDING_HOSTS or host_id in self._pending:
                    newer = self._pending.pop(host_id, None)
                    if newer is not None:
                        delta.merge(newer.values, newer.increments)
                    self._pending[host_id] = delta


class HostStore:
    """Sessions for the API, from the registry's session factory (tests swap it per test)."""

    def __init__(self, factory_of: Callable[[], sessionmaker[Session]], interval: float) -> None:
        self.factory_of = factory_of
        self.bookkeeper = Bookkeeper(self, interval)
        # SQLite has one writer at a time; its busy handler polls with sleeps of up to 100 ms,
        # so this process's writers queue here instead (the bench's p99 at 8 threads: 0.6 s).
        self._sqlite_writer = threading.Lock()
        self._host_locks = [threading.Lock() for _ in range(HOST_LOCK_STRIPES)]

    @property
    def single_writer(self) -> bool:
        """SQLite: one writer for the whole database, so no lock may be held across DNS I/O."""
        return self.factory_of().kw["bind"].dialect.name == "sqlite"

    def host_lock(self, host_id: int) -> threading.Lock:
        """Serialises publishing requests of one host within this process."""
        return self._host_locks[host_id % HOST_LOCK_STRIPES]

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for one consistent read, without the write lock."""
        bind = self.factory_of().kw["bind"]
        if not isinstance(bind, Engine):  # tests bind sessions to their own open connection
            yield bind
            return
        if bind.dialect.name == "postgresql":
            # One statement is consistent on its own: without BEGIN and ROLLBACK around it,
            # a read is one round trip to the server instead of three.
            with autocommit_engine(bind).connect() as connection:
                yield connection
            return
        # SQLite likewise: a lone SELECT reads one snapshot; BEGIN and ROLLBACK around it were
        # two more statements, each a release and re-take of the GIL under load.
        with sqlite_begin(""), bind.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def read_raw(self) -> Iterator[Connection | RawConnection]:
        """For the hot read of the update API (rawsql.Prepared): the pool's DBAPI connection."""
        bind = self.factory_of().kw["bind"]
        if not isinstance(bind, Engine):
            yield bind
            return
        with raw_connection(bind) as connection:
            yield connection

    @contextlib.contextmanager
    def lazy_read(self) -> Iterator[LazyConnection]:
        """Like read(), but the connection is only taken from the pool if a statement runs."""
        with contextlib.ExitStack() as stack:
            yield LazyConnection(lambda: stack.enter_context(self.read()))

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A short transaction, committed on success and rolled back on any error.

        A plain connection, not an ORM session: nothing here loads objects, and the session's
        bookkeeping was a fifth of a good update's CPU time.
        """
        bind = self.factory_of().kw["bind"]
        if not isinstance(bind, Engine):  # tests: a savepoint in their own open transaction
            with bind.begin_nested():
                yield bind
            return
        with self._writer_queue(bind), bind.begin() as connection:
            yield connection

    @contextlib.contextmanager
    def write_one(self) -> Iterator[Connection | RawConnection]:
        """For a single statement (rawsql.Prepared), which is then its own transaction: one
        statement instead of BEGIN, statement, COMMIT (on PostgreSQL one round trip, not three)."""
        bind = self.factory_of().kw["bind"]
        if not isinstance(bind, Engine):
            with self.write() as connection:
                yield connection
            return
        with self._writer_queue(bind), raw_connection(bind) as connection:
            yield connection

    def _writer_queue(self, bind: Engine) -> contextlib.AbstractContextManager[Any]:
        """SQLite: this process's writers take turns here (see __init__); others need no turn."""
        return self._sqlite_writer if bind.dialect.name == "sqlite" else contextlib.nullcontext()


class LazyConnection:
    """Stands in for a Connection that is opened by the first ``execute``.

    A publishing request rarely reads anything besides its host row (only when it has
    related hosts or services); checking a connection out of the pool for nothing cost a
    good update a pool round trip and, on SQLite, a transaction.
    """

    def __init__(self, open_connection: Callable[[], Connection]) -> None:
        self._open = open_connection
        self._connection: Connection | None = None

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            self._connection = self._open()
        return self._connection.execute(*args, **kwargs)
