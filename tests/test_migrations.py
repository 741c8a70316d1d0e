"""The migrations build exactly the models' schema, on SQLite and PostgreSQL, and the
constraints hold there (not only in the ORM)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nsupdate_pyramid.models import Base, Domain, Host, RelatedHost, User, get_engine
from tests.conftest import migrate
from tests.fixtures.postgres import create_database

EXPRESSION_INDEXES = {"uq_users_username_lower", "ix_users_email_lower"}
# SQLite cannot reflect expression indexes; test_expression_indexes_exist covers them.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based"),
]


@pytest.fixture
def fresh_engine(db_url: str, tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An empty database of the same engine, for tests that migrate up and down."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    else:
        url = create_database(db_url, "nsu_fresh_" + uuid.uuid4().hex[:8])
    engine = get_engine({"sqlalchemy.url": url})
    yield engine
    engine.dispose()


def _diff(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_no_drift_between_models_and_migrations(dbengine: Engine) -> None:
    assert _diff(dbengine) == []


def test_expression_indexes_exist(dbengine: Engine) -> None:
    """Autogenerate cannot compare these on SQLite, so check them by name."""
    if dbengine.dialect.name == "sqlite":
        with dbengine.connect() as connection:
            names = set(connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users'").scalars())
    else:
        names = {index["name"] for index in inspect(dbengine).get_indexes("users")}
    assert names >= EXPRESSION_INDEXES


def test_downgrade_and_upgrade_again(fresh_engine: Engine) -> None:
    migrate(fresh_engine)
    assert set(inspect(fresh_engine).get_table_names()) >= set(Base.metadata.tables)
    migrate(fresh_engine, "base", down=True)
    assert set(inspect(fresh_engine).get_table_names()) <= {"alembic_version"}
    migrate(fresh_engine)
    assert _diff(fresh_engine) == []


def _user(dbsession: Session, name: str) -> User:
    user = User(username=name, email=f"{name}@example.org")
    dbsession.add(user)
    dbsession.flush()
    return user


def test_usernames_are_unique_regardless_of_case(dbsession: Session) -> None:
    _user(dbsession, "Alice")
    with pytest.raises(IntegrityError):
        _user(dbsession, "aLICE")


def test_fqdn_is_unique(dbsession: Session) -> None:
    owner = _user(dbsession, "owner")
    domain = Domain(name="example.org", owner_id=owner.id, backend="memory")
    dbsession.add(domain)
    dbsession.flush()
    dbsession.add(Host(name="a", domain_id=domain.id, fqdn="a.example.org", owner_id=owner.id))
    dbsession.flush()
    with pytest.raises(IntegrityError):
        dbsession.add(Host(name="a", domain_id=domain.id, fqdn="a.example.org", owner_id=owner.id))
        dbsession.flush()


def test_on_delete_rules(dbsession: Session) -> None:
    """Deleting a user removes their hosts; a user who owns a domain cannot vanish silently."""
    alice, bob = _user(dbsession, "alice"), _user(dbsession, "bob")
    domain = Domain(name="example.net", owner_id=alice.id, backend="memory")
    dbsession.add(domain)
    dbsession.flush()
    host = Host(name="b", domain_id=domain.id, fqdn="b.example.net", owner_id=bob.id)
    dbsession.add(host)
    dbsession.flush()
    dbsession.add(RelatedHost(host_id=host.id, name="nas"))
    dbsession.flush()
    # Raw SQL, so the database (not the ORM) does the work.
    dbsession.execute(text("DELETE FROM users WHERE id = :id"), {"id": bob.id})
    dbsession.expire_all()
    assert dbsession.scalar(select(Host).where(Host.fqdn == "b.example.net")) is None
    assert dbsession.scalars(select(RelatedHost)).all() == []
    with pytest.raises(IntegrityError), dbsession.begin_nested():
        dbsession.execute(text("DELETE FROM users WHERE id = :id"), {"id": alice.id})


def test_sqlite_has_foreign_keys_on(tmp_path: Any) -> None:
    engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'fk.sqlite'}"})
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    plain = create_engine(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    with plain.connect() as connection:  # what we guard against
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
