"""Database models, the engine and the request's transaction-bound session."""
from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from typing import Any

import transaction
import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid_retry import mark_error_retryable
from sqlalchemy import engine_from_config, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from ..settings import missing_driver
from .audit import AuditEntry
from .blacklist import BlacklistedHost
from .domain import TSIG_ALGORITHMS, Domain
from .host import Host, RelatedHost
from .meta import SQLITE_BEGIN, Base, utcnow
from .service import Service, ServiceConfig
from .user import LoginThrottle, RemoteLogin, User
from .zone import Record, Zone

__all__ = [
    "TSIG_ALGORITHMS", "AuditEntry", "Base", "BlacklistedHost", "Domain", "Host", "LoginThrottle",
    "Record", "RelatedHost", "RemoteLogin", "Service", "ServiceConfig", "User", "Zone", "autocommit_engine",
    "get_engine", "get_session_factory", "get_tm_session", "utcnow",
]

configure_mappers()


def _prepare_sqlite(engine: Engine) -> None:
    """Make SQLite behave like the server databases we also support.

    Foreign keys (and so ON DELETE) are off by default; pysqlite's own transaction
    handling breaks SAVEPOINTs, so we issue BEGIN ourselves (SQLAlchemy's recipe).
    BEGIN IMMEDIATE takes the write lock up front: a transaction that reads a host
    and then updates it would otherwise fail at once with "database is locked" when
    another request wrote in between (WAL snapshots cannot be upgraded); this way it
    waits (busy_timeout) instead. WAL with synchronous=NORMAL does not fsync on every
    commit, which is what makes an update per request affordable.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 5000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        statement = SQLITE_BEGIN.get()
        if statement:  # "": each statement commits on its own (pysqlite in autocommit)
            connection.exec_driver_sql(statement)

    @event.listens_for(engine, "handle_error")
    def on_error(context: Any) -> None:
        # Should the lock still not come within busy_timeout, let pyramid_retry run the
        # request again rather than answer with an error.
        if context.sqlalchemy_exception is not None and \
                "database is locked" in str(context.original_exception):
            mark_error_retryable(context.sqlalchemy_exception)


#: Connections the pool keeps open. SQLAlchemy's default of 5 is below what 8 waitress threads
#: (a read and a write each) and the background writers use at once: every connection over it
#: was closed when returned and opened again for the next burst, on PostgreSQL a new server
#: process each time (good updates at 32 connections: 650/s with 5, 920/s with 20).
DEFAULT_POOL_SIZE = 20

#: PostgreSQL engines and their autocommit twins (see autocommit_engine).
_AUTOCOMMIT_TWINS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def get_engine(settings: Mapping[str, Any], prefix: str = "sqlalchemy.") -> Engine:
    url = settings[prefix + "url"]
    memory = url.startswith("sqlite://") and url[len("sqlite://"):] in ("", "/:memory:")
    if url.startswith("sqlite:///") and not memory:
        folder = os.path.dirname(url[len("sqlite:///"):])
        if folder:
            os.makedirs(folder, exist_ok=True)
    if not memory and prefix + "poolclass" not in settings:
        settings = {prefix + "pool_size": DEFAULT_POOL_SIZE, **settings}
    try:
        engine = engine_from_config(settings, prefix)
    except ModuleNotFoundError as error:  # SQLAlchemy imports the DBAPI module here
        raise missing_driver(error.name or str(error)) from None
    if engine.dialect.name == "sqlite":
        _prepare_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        twin = engine_from_config(settings, prefix, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
        event.listen(engine, "engine_disposed", lambda _engine: twin.dispose())
        _AUTOCOMMIT_TWINS[engine] = twin
    return engine


def autocommit_engine(engine: Engine) -> Engine:
    """Where statements that are their own transaction run (the update API's hot path).

    On PostgreSQL a second pool, whose connections are in autocommit from the start and are
    not rolled back when returned: switching a shared connection to autocommit and back, and
    the pool's rollback on return, cost a third of the CPU of each such statement (112 µs
    against 85 µs per statement). Same settings as ``engine``, so up to twice
    ``pool_size + max_overflow`` connections in all. SQLite's connections are in autocommit
    already (``_prepare_sqlite``): there, and for any other engine, ``engine`` itself.
    """
    return _AUTOCOMMIT_TWINS.get(engine, engine)


def get_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_tm_session(session_factory: sessionmaker[Session],
                   transaction_manager: transaction.TransactionManager,
                   request: Request | None = None) -> Session:
    """A session whose commit and rollback follow ``transaction_manager``."""
    dbsession = session_factory(info={"request": request})
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


def _request_dbsession(request: Request) -> Session:
    injected = request.environ.get("app.dbsession")
    if injected is not None:
        return injected
    dbsession = get_tm_session(request.registry["dbsession_factory"], request.tm, request)
    request.add_finished_callback(lambda _request: dbsession.close())
    return dbsession


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    settings.setdefault("tm.manager_hook", "pyramid_tm.explicit_manager")
    # Otherwise pyramid_tm loads the identity on every request, /nic/update included.
    settings.setdefault("tm.annotate_user", "false")
    settings.setdefault("tm.activate_hook", "nsupdate_pyramid.api.tm_activate")
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    engine = get_engine(settings)
    config.registry["dbsession_factory"] = get_session_factory(engine)
    config.add_request_method(_request_dbsession, "dbsession", reify=True)
