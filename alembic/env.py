"""Alembic environment: the database URL comes from the same ini file as the app's."""
from __future__ import annotations

from pyramid.paster import get_appsettings, setup_logging

from alembic import context
from nsupdate_pyramid.models import Base, get_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    settings = get_appsettings(config.config_file_name)
    context.configure(url=settings["sqlalchemy.url"], target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # Tests hand in an open connection; the CLI builds an engine from the ini.
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name:
        setup_logging(config.config_file_name)
    engine = get_engine(get_appsettings(config.config_file_name))
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
