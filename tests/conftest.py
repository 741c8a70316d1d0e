"""Fixtures shared by the whole suite.

The app runs on SQLite and on a real PostgreSQL server (started by
``tests.fixtures.postgres``): every test that uses the database runs once per
engine. Migrations are applied once per engine; each test runs inside an outer
transaction that is rolled back, while the app's own commits inside it become
savepoint releases, so commit/abort behaviour is real.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import webtest
from alembic.config import Config
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from alembic import command
from nsupdate_pyramid import main
from nsupdate_pyramid.models import get_engine
from nsupdate_pyramid.services import domains as domain_service
from nsupdate_pyramid.services import hosts as host_service
from nsupdate_pyramid.services import users as user_service

pytest_plugins = ["tests.fixtures.bind", "tests.fixtures.postgres"]
pytest_plugins += ["tests.fixtures.dyndns2"]
pytest_plugins += ["tests.fixtures.pdns", "tests.fixtures.knot"]
pytest_plugins += ["tests.fixtures.live_app"]
pytest_plugins += ["tests.fixtures.nameserver"]
pytest_plugins += ["tests.fixtures.smtp"]
pytest_plugins += ["tests.fixtures.providers", "tests.fixtures.oauth"]

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ["sqlite", "postgresql"]
PASSWORD = "correct horse battery staple"

BASE_SETTINGS: dict[str, str] = {
    "session.secret": "test-secret-" + "x" * 40,
    "nsupdate.service_name": "nsupdate test",
    "dns.backends": "memory = nsupdate_pyramid.dns.memory:MemoryBackend\n"
                    "rfc2136 = nsupdate_pyramid.dns.rfc2136:RFC2136Backend",
    "dns.backend.rfc2136.timeout": "2",
    "nsupdate.default_backend": "memory",
    "retry.attempts": "1",
    # Protection lists the API tests exercise; harmless for everything else.
    "nsupdate.bad_hosts": "bad.example.org",
    "nsupdate.bad_agents": "EvilAgent/1.0",
    "nsupdate.bad_ips": "198.18.0.0/15",
    "nsupdate.trusted_proxies": "10.9.9.9/32",
    # Bookkeeping written at once, inside the test's transaction (test_bookkeeping covers batches).
    "nsupdate.bookkeeping_interval": "0",
    # No reverse lookups leave the machine; tests that want them point an app at their own server.
    "nsupdate.resolvers": "none",
}


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def seed_home_host(engine: Engine) -> str:
    """Migrate ``engine``'s database and commit alice, example.org (memory backend) and
    home.example.org in it, for tests that run the app on a database of their own; the
    host's update secret."""
    from sqlalchemy.orm import Session

    from nsupdate_pyramid.services import domains, hosts, users

    migrate(engine)
    with Session(engine) as session, session.begin():
        owner = users.create_user(session, "alice", "alice@example.org", PASSWORD)
        domains.create_domain(session, "example.org", owner, backend="memory")
        _host, secret = hosts.create_host(session, "home.example.org", owner)
    return secret


def migrate(engine: Engine, revision: str = "head", *, down: bool = False) -> None:
    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)


@pytest.fixture(scope="session", params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite'}"
    return request.getfixturevalue("postgresql_url")


@pytest.fixture(scope="session")
def settings(db_url: str) -> dict[str, str]:
    return {**BASE_SETTINGS, "sqlalchemy.url": db_url}


@pytest.fixture(scope="session")
def dbengine(settings: dict[str, str]) -> Iterator[Engine]:
    engine = get_engine(settings)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(settings: dict[str, str], dbengine: Engine) -> Any:
    return main({}, **settings)


@pytest.fixture
def connection(dbengine: Engine) -> Iterator[Connection]:
    connection = dbengine.connect()
    outer = connection.begin()
    yield connection
    outer.rollback()
    connection.close()


@pytest.fixture
def session_factory(app: Any, connection: Connection) -> Iterator[sessionmaker[Session]]:
    """Point the app's sessions at the test's connection for the length of one test."""
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                           expire_on_commit=False)
    previous = app.registry["dbsession_factory"]
    app.registry["dbsession_factory"] = factory
    yield factory
    app.registry["dbsession_factory"] = previous


@pytest.fixture
def dbsession(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """The test's own session; commit() after arranging data so requests can see it."""
    session = session_factory()
    yield session
    session.close()


class AppClient(webtest.TestApp):
    """A browser: keeps cookies, knows how to log in and where the CSRF token is."""

    def login(self, username: str, password: str = PASSWORD, **extra: str) -> webtest.TestResponse:
        form = self.get("/login").forms[0]
        form["username"] = username
        form["password"] = password
        for name, value in extra.items():
            form[name] = value
        return form.submit()

    def csrf_token(self) -> str:
        page = self.get("/")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if match is None:
            page = self.get("/login")
            match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def logout(self) -> webtest.TestResponse:
        return self.post("/logout", {"csrf_token": self.csrf_token()})


@pytest.fixture
def client(app: Any, session_factory: sessionmaker[Session]) -> AppClient:
    return AppClient(app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "192.0.2.7"})


@pytest.fixture
def make_user(dbsession: Session):
    def make(username: str, *, admin: bool = False, password: str = PASSWORD,
             active: bool = True) -> Any:
        user = user_service.create_user(dbsession, username, f"{username}@example.org", password,
                                        is_admin=admin, is_active=active)
        dbsession.commit()
        return user

    return make


@pytest.fixture
def make_domain(dbsession: Session):
    def make(name: str, owner: Any, **kw: Any) -> Any:
        domain = domain_service.create_domain(dbsession, name, owner, backend="memory", **kw)
        dbsession.commit()
        return domain

    return make


@pytest.fixture
def make_host(dbsession: Session):
    def make(fqdn: str, owner: Any, **kw: Any) -> tuple[Any, str]:
        host, secret = host_service.create_host(dbsession, fqdn, owner, **kw)
        dbsession.commit()
        return host, secret

    return make
