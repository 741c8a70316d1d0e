"""``nsupdate-admin INI cleanupregistration [--dry-run]``, run as cron runs it."""
from __future__ import annotations

from datetime import timedelta

from nsupdate_pyramid.models import User, utcnow
from nsupdate_pyramid.services import users as user_service
from tests.test_cli import PASSWORD, CliDb, ok, sqlite_cli_db, sqlite_databases, sqlite_template

__all__ = ["sqlite_cli_db", "sqlite_databases", "sqlite_template"]  # fixtures used here


def _arrange(db: CliDb) -> None:
    old = utcnow() - timedelta(days=8)
    with db.session() as session:
        expired = user_service.create_user(session, "expired", "e@example.org", PASSWORD,
                                           is_active=False)
        user_service.create_user(session, "recent", "r@example.org", PASSWORD, is_active=False)
        off = user_service.create_user(session, "switched-off", "s@example.org", PASSWORD)
        expired.date_joined = off.date_joined = old
        off.is_active = False
        session.commit()


def test_cleanupregistration(sqlite_cli_db: CliDb) -> None:
    _arrange(sqlite_cli_db)
    assert ok(sqlite_cli_db.run("cleanupregistration", "--dry-run")) == [
        "expired", "would delete 1 unactivated registrations (dry run)"]
    assert sqlite_cli_db.user("expired") is not None
    lines = ok(sqlite_cli_db.run("cleanupregistration"))
    assert lines[0] == "expired"
    assert lines[1].startswith("deleted 1 unactivated registrations whose links expired")
    assert sqlite_cli_db.user("expired") is None
    assert sqlite_cli_db.user("recent") is not None
    assert sqlite_cli_db.user("switched-off") is not None
    assert sqlite_cli_db.count(User) == 2
    assert ok(sqlite_cli_db.run("cleanupregistration"))[0].startswith("deleted 0 ")
