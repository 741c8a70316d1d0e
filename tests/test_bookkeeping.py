"""Buffered bookkeeping: counters and messages of requests that publish nothing are written
in batches, merged per host, and never lost or reordered against a publishing request."""
from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import webtest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from nsupdate_pyramid import main
from nsupdate_pyramid.models import Host, autocommit_engine, get_engine
from nsupdate_pyramid.services.hoststore import HostStore
from tests.conftest import BASE_SETTINGS, seed_home_host
from tests.fixtures.postgres import create_database


@pytest.fixture
def committed_db(db_url: str, tmp_path: Any) -> Iterator[tuple[str, Engine, str]]:
    """A migrated database of its own (these tests really commit) with one host; its secret."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'bookkeeping.sqlite'}"
    else:
        url = create_database(db_url, "nsu_bk_" + uuid.uuid4().hex[:8])
    engine = get_engine({"sqlalchemy.url": url})
    secret = seed_home_host(engine)
    yield url, engine, secret
    engine.dispose()


def _host(engine: Engine) -> Host:
    with Session(engine) as session:
        return session.scalars(select(Host)).one()


def test_deltas_merge_and_flush(committed_db: tuple[str, Engine, str]) -> None:
    _url, engine, _secret = committed_db
    host_id = _host(engine).id
    store = HostStore(lambda: sessionmaker(bind=engine), interval=60)  # flushed by hand here
    keeper = store.bookkeeper
    keeper.record(host_id, {"client_result_msg": "first"}, {"client_faults": 1})
    keeper.record(host_id, {"client_result_msg": "second"}, {"client_faults": 2})
    keeper.record(host_id, {"recent_auth_failures": 1}, {})
    keeper.record(host_id, {}, {"recent_auth_failures": 1, "api_auth_faults": 1})
    assert keeper.effective(host_id, "client_faults", 10) == 13
    assert keeper.effective(host_id, "recent_auth_failures", 7) == 2  # a set value, then +1
    assert _host(engine).client_faults == 0  # nothing written yet
    keeper.flush()
    host = _host(engine)
    assert (host.client_faults, host.client_result_msg) == (3, "second")
    assert (host.recent_auth_failures, host.api_auth_faults) == (2, 1)
    assert keeper.effective(host_id, "client_faults", 3) == 3


def test_the_app_answers_before_the_counters_are_written(
        committed_db: tuple[str, Engine, str]) -> None:
    url, engine, secret = committed_db
    live = main({}, **{**BASE_SETTINGS, "sqlalchemy.url": url, "nsupdate.bookkeeping_interval": "0.2"})
    client = webtest.TestApp(live, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "192.0.2.7"})
    auth = {"Authorization": "Basic " + base64.b64encode(f"home.example.org:{secret}".encode()).decode()}
    assert client.get("/nic/update", params={"myip": "192.0.2.1"}, headers=auth).text == "good 192.0.2.1"
    assert _host(engine).published_ipv4 == "192.0.2.1"  # publishing is written at once
    for _ in range(3):
        assert client.get("/nic/update", params={"myip": "192.0.2.1"}, headers=auth).text == \
            "nochg 192.0.2.1"
    wrong = {"Authorization": "Basic " + base64.b64encode(b"home.example.org:wrong").decode()}
    assert client.get("/nic/update", headers=wrong, expect_errors=True).status_int == 401
    deadline = time.monotonic() + 5
    while _host(engine).client_faults < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    host = _host(engine)
    assert (host.client_faults, host.api_auth_faults) == (3, 1)
    assert "no-change update" in host.client_result_msg
    assert host.last_seen is not None
    # A publishing request writes what is still buffered first, so messages stay in order.
    assert client.get("/nic/update", params={"myip": "192.0.2.1"}, headers=auth).text == "nochg 192.0.2.1"
    assert client.get("/nic/update", params={"myip": "192.0.2.2"}, headers=auth).text == "good 192.0.2.2"
    host = _host(engine)
    assert host.client_faults == 4
    assert "good update -> ip: 192.0.2.2" in host.client_result_msg
    live.registry["nsupdate.hoststore"].bookkeeper.flush()
    assert _host(engine).client_faults == 4


def test_api_writes_do_not_wait_for_the_wal_flush(committed_db: tuple[str, Engine, str]) -> None:
    """On PostgreSQL every UPDATE of a host switches synchronous_commit off for its own
    transaction (as part of the statement, so it also holds for one statement in autocommit);
    SQLite gets the plain statement."""
    from sqlalchemy import text

    from nsupdate_pyramid.services.hoststore import Delta, write_delta

    _url, engine, _secret = committed_db
    host_id = _host(engine).id
    with engine.begin() as connection:
        postgresql = connection.dialect.name == "postgresql"
        if postgresql:
            connection.execute(text("SET LOCAL synchronous_commit = on"))
        assert write_delta(connection, host_id, Delta(values={"comment": "async"}),
                           expect={"published_ipv4": ""})
        if postgresql:
            assert connection.execute(text("SHOW synchronous_commit")).scalar() == "off"
        assert not write_delta(connection, host_id, Delta(values={"comment": "no"}),
                               expect={"published_ipv4": "192.0.2.1"})
    store = HostStore(lambda: sessionmaker(bind=engine), interval=0)
    with store.write_one() as connection:
        assert write_delta(connection, host_id, Delta(increments={"client_faults": 2}))
    host = _host(engine)
    assert (host.comment, host.client_faults) == ("async", 2)


def test_api_reads_and_single_writes_send_one_statement(committed_db: tuple[str, Engine, str]) -> None:
    """The update API's host read and a publishing request's conditional UPDATE are each one
    statement on the wire, no BEGIN/ROLLBACK/COMMIT around them (SQLite traces every statement
    it runs; on PostgreSQL the same code runs in autocommit); a lazy read that runs nothing
    takes no connection from the pool; the write lands, a stale expectation loses, and the
    row read raw equals the one SQLAlchemy reads."""
    from sqlalchemy import event

    from nsupdate_pyramid.services.dyndns import load_host
    from nsupdate_pyramid.services.hoststore import Delta, write_delta

    _url, engine, _secret = committed_db
    host_id = _host(engine).id
    store = HostStore(lambda: sessionmaker(bind=engine), interval=0)
    sqlite = engine.dialect.name == "sqlite"
    sent: list[str] = []
    checkouts: list[object] = []
    traced: list[Any] = []

    def checkout(dbapi_connection: Any, *args: Any) -> None:
        checkouts.append(dbapi_connection)
        if sqlite:
            traced.append(dbapi_connection)
            dbapi_connection.set_trace_callback(lambda text: sent.append(text.split()[0].upper()))

    event.listen(autocommit_engine(engine), "checkout", checkout)
    try:
        with store.read_raw() as connection:
            raw = load_host(connection, "home.example.org")
        assert raw.id == host_id
        assert not sqlite or sent == ["SELECT"]
        sent.clear()
        with store.write_one() as connection:
            assert write_delta(connection, host_id, Delta(values={"comment": "one"}),
                               expect={"published_ipv4": ""})
        with store.write_one() as connection:
            assert not write_delta(connection, host_id, Delta(values={"comment": "lost"}),
                                   expect={"published_ipv4": "192.0.2.9"})
        assert not sqlite or sent == ["UPDATE", "UPDATE"]
        checkouts.clear()
        with store.lazy_read():
            pass
        assert checkouts == []
        with store.lazy_read() as lazy:
            orm = load_host(lazy, "home.example.org")
        assert len(checkouts) == 1
    finally:
        event.remove(autocommit_engine(engine), "checkout", checkout)
        for dbapi_connection in traced:
            dbapi_connection.set_trace_callback(None)
    assert tuple(orm) == tuple(raw)
    assert raw._fields == tuple(orm._fields)
    assert _host(engine).comment == "one"
    # Types through both ways: a datetime written raw, read raw and by SQLAlchemy.
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    with store.write_one() as connection:
        assert write_delta(connection, host_id, Delta(values={"last_auth_failure": when},
                                                      increments={"recent_auth_failures": 2}))
    with store.read_raw() as connection:
        raw = load_host(connection, "home.example.org")
    with store.read() as connection:
        orm = load_host(connection, "home.example.org")
    assert (raw.last_auth_failure, raw.recent_auth_failures) == (when, 2)
    assert tuple(orm) == tuple(raw)


def test_single_statements_use_connections_that_stay_in_autocommit(
        committed_db: tuple[str, Engine, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: the API's single statements come from a pool of their own, in autocommit from
    the start and not rolled back when returned; the app's transactions keep theirs, and disposing
    the app's engine closes both. SQLite's connections are in autocommit anyway: one pool."""
    from nsupdate_pyramid.services.hoststore import Delta, write_delta
    from nsupdate_pyramid.services.rawsql import raw_connection

    _url, engine, _secret = committed_db
    twin = autocommit_engine(engine)
    host_id = _host(engine).id
    if engine.dialect.name == "sqlite":
        assert twin is engine
        with raw_connection(engine) as connection:
            assert connection.dbapi_connection.driver_connection.isolation_level is None
        return
    assert twin is not engine and twin.pool.size() == engine.pool.size()
    with raw_connection(engine):  # the first connect: SQLAlchemy's dialect setup rolls back once
        pass
    rollbacks: list[object] = []
    monkeypatch.setattr(twin.dialect, "do_rollback", rollbacks.append)
    with raw_connection(engine) as connection:
        assert connection.engine is twin
        assert connection.dbapi_connection.driver_connection.autocommit is True
        assert write_delta(connection, host_id, Delta(values={"comment": "at once"}))
        # Committed by the statement itself: another connection sees it while this one is lent out.
        assert _host(engine).comment == "at once"
    assert rollbacks == []
    assert twin.pool.checkedin() == 1
    with engine.connect() as connection:  # the app's own connections still open transactions
        assert connection.connection.driver_connection.autocommit is False
    engine.dispose()
    assert twin.pool.checkedin() == 0


def test_the_api_recovers_when_postgresql_drops_its_connections(postgresql_url: str) -> None:
    """The update API's raw statements see a dropped server connection as SQLAlchemy would:
    that request answers 911, the pool is renewed, the next request works."""
    from sqlalchemy import text

    url = create_database(postgresql_url, "nsu_drop_" + uuid.uuid4().hex[:8])
    engine = get_engine({"sqlalchemy.url": url})
    try:
        secret = seed_home_host(engine)
        live = main({}, **{**BASE_SETTINGS, "sqlalchemy.url": url})
        client = webtest.TestApp(live, extra_environ={"HTTP_HOST": "example.com",
                                                      "REMOTE_ADDR": "192.0.2.7"})
        auth = {"Authorization": "Basic " + base64.b64encode(f"home.example.org:{secret}".encode()).decode()}
        assert client.get("/nic/update", params={"myip": "192.0.2.1"}, headers=auth).text == "good 192.0.2.1"
        with engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        answers = [client.get("/nic/update", params={"myip": "192.0.2.2"}, headers=auth,
                              expect_errors=True).text for _ in range(3)]
        # The first request meets a dead connection (911, logged with a request id), at most
        # that one: the pool's idle connections were all thrown away with it.
        assert answers in (["911", "good 192.0.2.2", "nochg 192.0.2.2"],
                           ["good 192.0.2.2", "nochg 192.0.2.2", "nochg 192.0.2.2"])
        assert _host(engine).published_ipv4 == "192.0.2.2"
        live.registry["nsupdate.hoststore"].bookkeeper.flush()
    finally:
        engine.dispose()
