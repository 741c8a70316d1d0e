"""Declarative base with a naming convention, so alembic names constraints stably."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every engine (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use utcnow()")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


#: SQLite only: how the next transaction begins. BEGIN IMMEDIATE (the default) takes the write
#: lock at once; "BEGIN" defers it to the first write; "" opens no transaction at all, so that
#: each statement is its own (the update API's single-statement reads and writes).
SQLITE_BEGIN: ContextVar[str] = ContextVar("sqlite_begin", default="BEGIN IMMEDIATE")


@contextmanager
def sqlite_begin(statement: str) -> Iterator[None]:
    """Transactions that SQLite connections begin within this block begin with ``statement``."""
    token = SQLITE_BEGIN.set(statement)
    try:
        yield
    finally:
        SQLITE_BEGIN.reset(token)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
