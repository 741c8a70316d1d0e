"""Login throttling: failed logins counted per account name and per client network.

The counters must outlive the failed request, whatever becomes of its transaction (a
``tm.commit_veto`` or an error aborts it), so a failure is written after the request's
transaction has ended, in a short transaction of its own. Account counters are kept for any
name that was tried, taken or not, so the lockout says nothing about which accounts exist.
"""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

import transaction
from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..models import LoginThrottle, utcnow

log = logging.getLogger(__name__)


def account_key(username: str) -> str:
    return "account:" + username.strip().lower()[:150]


def address_key(address: str) -> str:
    """IPv6 clients own a whole /64, so they are counted by it."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "address:" + address[:100]
    if parsed.version == 6:
        return "address:" + str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return "address:" + str(parsed)


def is_blocked(dbsession: Session, keys: Sequence[tuple[str, int]], lockout: int) -> bool:
    """Whether any ``(key, limit)`` has ``limit`` failures within the last ``lockout`` seconds.

    A limit of 0 switches that check off.
    """
    limits = {key: limit for key, limit in keys if limit > 0}
    if not limits:
        return False
    cutoff = utcnow() - timedelta(seconds=lockout)
    rows = dbsession.execute(select(LoginThrottle.key, LoginThrottle.failures).where(
        LoginThrottle.key.in_(limits), LoginThrottle.last_failure >= cutoff)).all()
    return any(row.failures >= limits[row.key] for row in rows)


def count_failure(dbsession: Session, keys: Sequence[str], lockout: int) -> None:
    """One more failure for each key; a key quiet for ``lockout`` seconds starts again at 1.

    One atomic upsert per key, so concurrent failures all count.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=lockout)
    insert = pg_insert if dbsession.get_bind().dialect.name == "postgresql" else sqlite_insert
    for key in keys:
        statement = insert(LoginThrottle).values(key=key, failures=1, last_failure=now)
        statement = statement.on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={"failures": case((LoginThrottle.last_failure < cutoff, 1),
                                   else_=LoginThrottle.failures + 1),
                  "last_failure": now})
        dbsession.execute(statement)


def forget_failures(dbsession: Session, keys: Sequence[str]) -> None:
    """After a successful login (or a password reset) the account starts with a clean slate."""
    dbsession.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))


def purge(dbsession: Session, lockout: int) -> int:
    """Drop counters that no longer block anything; returns how many."""
    cutoff = utcnow() - timedelta(seconds=lockout)
    result = dbsession.execute(delete(LoginThrottle).where(LoginThrottle.last_failure < cutoff))
    return result.rowcount or 0


def count_failure_after(txn: transaction.interfaces.ITransaction,
                        session_factory: Callable[[], Session], keys: Sequence[str],
                        lockout: int) -> None:
    """Count the failure once ``txn`` has ended, committed or aborted, in its own transaction."""
    done = False

    def record(*_status: object) -> None:
        nonlocal done
        if done:
            return
        done = True
        try:
            with session_factory() as session, session.begin():
                count_failure(session, keys, lockout)
        except Exception:
            log.exception("could not count a failed login for %s", ", ".join(keys))

    txn.addAfterCommitHook(record)
    txn.addAfterAbortHook(record)
