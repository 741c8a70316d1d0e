"""``nsupdate-admin INI faults|domains|hosts|users|testuser``: nsupdate.info's maintenance commands,
run as cron runs them (a subprocess, stdin not a terminal) against a populated database on SQLite
and PostgreSQL, with their mails received by a real SMTP server (aiosmtpd).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from nsupdate_pyramid.models import AuditEntry, Domain, User, utcnow
from nsupdate_pyramid.security import passwords
from nsupdate_pyramid.services import domains as domain_service
from nsupdate_pyramid.services import hosts as host_service
from nsupdate_pyramid.services import users as user_service
from tests.fixtures.net import free_port
from tests.fixtures.smtp import Inbox, Mailbox
from tests.test_cli import (
    PASSWORD,
    CliDb,
    Databases,
    admin_batch,
    databases,
    ok,
    postgresql_template,
    sqlite_template,
)

__all__ = ["databases", "postgresql_template", "sqlite_template"]  # fixtures used here

BASE_URL = "https://dyn.example.test"


def maintenance_ini(url: str, smtp_port: int) -> str:
    """An operator's ini: mail through the test server, and an rfc2136 domain whose nameserver
    is a closed loopback port (so its check fails at once)."""
    return (
        "[app:main]\n"
        "use = egg:nsupdate-pyramid\n"
        f"sqlalchemy.url = {url.replace('%', '%%')}\n"
        "session.secret = cli-test-secret-" + "x" * 40 + "\n"
        f"nsupdate.base_url = {BASE_URL}\n"
        "dns.backends =\n"
        "    memory = nsupdate_pyramid.dns.memory:MemoryBackend\n"
        "    rfc2136 = nsupdate_pyramid.dns.rfc2136:RFC2136Backend\n"
        "dns.backend.rfc2136.timeout = 1\n"
        "mail.host = 127.0.0.1\n"
        f"mail.port = {smtp_port}\n"
        "mail.default_sender = nsupdate test <noreply@example.com>\n"
    )


_HASH: list[str] = []


def _fast_users(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 on purpose costs time: hash the test password once for every user made here."""
    if not _HASH:
        _HASH.append(passwords.hash_password(PASSWORD))
    monkeypatch.setattr(user_service.passwords, "hash_password", lambda _password: _HASH[0])


def populate(db: CliDb) -> None:
    """alice (language en) owns example.org with hosts in every state; bob owns a domain whose
    nameserver does not answer; root is an admin; stale and fresh accounts."""
    now = utcnow()
    with db.session() as session:
        alice = user_service.create_user(session, "alice", "alice@example.org", PASSWORD, language="en")
        bob = user_service.create_user(session, "bob", "bob@example.org", PASSWORD)
        user_service.create_user(session, "root", "root@example.org", PASSWORD, is_admin=True)
        ghost = user_service.create_user(session, "ghost", "ghost@example.org", PASSWORD)
        keeper = user_service.create_user(session, "keeper", "keeper@example.org", PASSWORD)
        domain_service.create_domain(session, "example.org", alice, backend="memory", public=True)
        domain_service.create_domain(session, "broken.example", bob, backend="rfc2136",
                                     nameserver_ip="127.0.0.1", nameserver_port=free_port())
        domain_service.create_domain(session, "gone.example", bob, backend="memory")
        hosts = {}
        for name, owner in (("noisy", alice), ("quiet", alice), ("warn", alice), ("old", bob),
                            ("fresh", bob), ("kept", keeper)):
            hosts[name], _secret = host_service.create_host(session, f"{name}.example.org", owner)
        hosts["noisy"].client_faults = 200
        hosts["noisy"].comment = "my router"
        hosts["quiet"].client_faults, hosts["quiet"].server_faults = 3, 2
        hosts["quiet"].api_auth_faults = 1
        hosts["quiet"].abuse_blocked = True
        hosts["fresh"].available = False
        hosts["fresh"].last_update_ipv4 = now - timedelta(days=1)
        hosts["kept"].last_update_ipv6 = now - timedelta(days=10)
        # never updated, never warned: first warning
        hosts["warn"].staleness = 0
        # staleness 4 and warned 9 days ago: this run deletes it
        hosts["old"].staleness = 4
        hosts["old"].staleness_notified = now - timedelta(days=9)
        hosts["old"].last_update_ipv4 = now - timedelta(days=400)
        for user in (ghost, keeper):
            user.date_joined = now - timedelta(days=800)
            user.last_login = now - timedelta(days=400)
        session.commit()


@pytest.fixture
def smtp(smtp_server: tuple[int, Inbox]) -> Iterator[tuple[int, Inbox]]:
    smtp_server[1].clear()
    yield smtp_server


@pytest.fixture
def db(databases: Databases, smtp: tuple[int, Inbox],
       monkeypatch: pytest.MonkeyPatch) -> Iterator[CliDb]:
    cli_db = databases.new_cli_db()
    cli_db.ini.write_text(maintenance_ini(cli_db.url, smtp[0]))
    with monkeypatch.context() as patch:
        _fast_users(patch)
        populate(cli_db)
    yield cli_db
    cli_db.engine.dispose()


def mails(inbox: Inbox) -> dict[str, Any]:
    return {message["To"]: message for message in inbox.messages}


def audit_actions(db: CliDb) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_faults_show_flag_reset_and_mail(db: CliDb, smtp: tuple[int, Inbox]) -> None:
    lines = ok(db.run("faults", "--show-client", "--show-server", "--show-api-auth"))
    assert "3      2      1      alice quiet.example.org" in lines
    assert "200    0      0      alice noisy.example.org" in lines
    assert lines[-1].startswith("faults: 6 hosts, 0 flagged")

    dry = ok(db.run("faults", "--flag-abuse=150", "--reset-client", "--notify-user", "--dry-run"))
    assert dry[0] == "Setting abuse flag for host noisy.example.org (created by alice, client faults: 200)"
    assert dry[-1].endswith("(dry run: nothing changed)")
    assert "client reset on 2" in dry[-1]
    assert db.host("noisy.example.org").abuse is False
    assert db.host("noisy.example.org").client_faults == 200
    assert smtp[1].messages == []

    lines = ok(db.run("faults", "--flag-abuse=150", "--reset-client", "--notify-user", "--progress"))
    assert lines[0].startswith("Setting abuse flag for host noisy.example.org")
    assert lines[-1] == "faults: 6 hosts, 1 flagged for abuse, 1 mails, client reset on 1"
    noisy, quiet = db.host("noisy.example.org"), db.host("quiet.example.org")
    assert noisy.abuse and noisy.client_faults == 0
    assert quiet.client_faults == 0 and quiet.server_faults == 2 and not quiet.abuse
    # The owner is told, in a plain-text and an HTML part, naming the host.
    message = mails(smtp[1])["alice@example.org"]
    assert message["Subject"] == "[nsupdate-pyramid] Issue with your host noisy.example.org"
    text, html = Mailbox.parts(message)
    assert "noisy.example.org" in text and "200 faults" in text and "my router" in text
    assert f"{BASE_URL}/hosts/noisy.example.org/" in text
    assert f'href="{BASE_URL}/hosts/noisy.example.org/"' in html
    assert len(smtp[1].messages) == 1
    assert "faults" in audit_actions(db)

    lines = ok(db.run("faults", "--reset-abuse", "--reset-abuse-blocked", "--reset-available",
                      "--reset-server", "--reset-api-auth"))
    assert lines[-1] == ("faults: 6 hosts, 0 flagged for abuse, 0 mails, server reset on 1, "
                         "api-auth reset on 1, abuse reset on 1, abuse-blocked reset on 1, "
                         "available reset on 1")
    quiet, fresh = db.host("quiet.example.org"), db.host("fresh.example.org")
    assert not quiet.abuse_blocked and quiet.server_faults == quiet.api_auth_faults == 0
    assert fresh.available


def test_domains_check_flags_the_broken_nameserver(db: CliDb, smtp: tuple[int, Inbox]) -> None:
    dry = db.run("domains", "--check", "--dry-run")
    assert dry.returncode == 3, dry.stderr
    assert db.domain("broken.example").available is True
    result = db.run("domains", "--check", "--notify-user")
    assert result.returncode == 3, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Setting unavailable flag for domain broken.example (created by bob)")
    assert lines[-1] == ("domains: 3 checked, 2 answered, 1 failed, 1 flagged unavailable, "
                         "0 deleted, 1 mails")
    broken, good = db.domain("broken.example"), db.domain("example.org")
    assert broken.available is False and broken.public is False and broken.check_ok is False
    assert broken.check_result and broken.last_check is not None
    assert good.available and good.check_ok is True
    message = mails(smtp[1])["bob@example.org"]
    assert "broken.example" in message["Subject"]
    text, html = Mailbox.parts(message)
    assert "broken.example" in text and "broken.example" in html
    # The next run checks only available domains: all answer now.
    assert ok(db.run("domains", "--check"))[-1].startswith("domains: 2 checked, 2 answered, 0 failed")


def test_domains_stale_check(db: CliDb) -> None:
    with db.session() as session:
        for name in ("gone.example", "example.org"):
            session.scalars(select(Domain).where(Domain.name == name)).one().available = False
        session.commit()
    lines = ok(db.run("domains", "--stale-check"))
    assert "Domain broken.example is available." in lines
    assert "Domain example.org is not available, but has 6 hosts." in lines
    assert "Domain gone.example is not available and has no hosts -> deleted domain." in lines
    assert db.domain("gone.example") is None and db.domain("example.org") is not None


def test_hosts_stale_check_warns_disables_deletes(db: CliDb, smtp: tuple[int, Inbox]) -> None:
    lines = ok(db.run("hosts", "--stale-check", "--notify-user", "--dry-run"))
    assert lines[-1].endswith("(dry run: nothing changed)")
    assert db.host("old.example.org") is not None
    lines = ok(db.run("hosts", "--stale-check", "--notify-user"))
    assert "old.example.org has not seen IP updates for a long time; staleness: 5 -> deleted host." in lines
    assert "warn.example.org has not seen IP updates for a long time; staleness: 1 -> please fix!" in lines
    assert not any("fresh.example.org" in line or "kept.example.org" in line for line in lines)
    assert db.host("old.example.org") is None
    warn = db.host("warn.example.org")
    assert warn.staleness == 1 and warn.staleness_notified is not None and warn.available
    received = mails(smtp[1])
    assert "old.example.org" in received["bob@example.org"]["Subject"]
    text, _html = Mailbox.parts(received["bob@example.org"])
    assert "deleted" in text
    # A second run within 8 days warns nobody again.
    again = ok(db.run("hosts", "--stale-check"))
    assert again[-1].startswith("hosts: ") and ", 0 warned, 0 made unavailable, 0 deleted" in again[-1]


def test_hosts_list_filter_and_csv(db: CliDb) -> None:
    result = db.run("hosts", "--csv")
    rows = list(csv.DictReader(io.StringIO(ok(result) and result.stdout)))
    assert [row["fqdn"] for row in rows][:3] == ["fresh.example.org", "kept.example.org",
                                                 "noisy.example.org"]
    assert result.stderr.strip() == "hosts: 6 listed"
    noisy = next(row for row in rows if row["fqdn"] == "noisy.example.org")
    assert noisy["client_faults"] == "200" and noisy["owner"] == "alice"
    assert ok(db.run("hosts", "--owner", "BOB")) == [
        "fresh.example.org bob no no no 0      0      0",
        "old.example.org bob yes no no 0      0      0"]
    assert [line.split()[0] for line in ok(db.run("hosts", "--faults"))] == [
        "noisy.example.org", "quiet.example.org"]
    assert [line.split()[0] for line in ok(db.run("hosts", "--abuse-blocked"))] == ["quiet.example.org"]
    assert ok(db.run("hosts", "--stale-days", "5", "--domain", "example.org", "--unavailable")) == []


def test_users_stale_check(db: CliDb) -> None:
    dry = ok(db.run("users", "--stale-check", "--dry-run"))
    assert dry[0] == "before: users: 5, hosts: 6, domains: 3"
    assert db.user("ghost") is not None
    lines = ok(db.run("users", "--stale-check"))
    assert any(line.startswith("'ghost ghost@example.org' hasn't logged in for 1.0") and
               line.endswith("has no hosts and no domains -> deleted user.") for line in lines)
    assert any(line.startswith("'keeper keeper@example.org'") and line.endswith("-> kept.")
               for line in lines)
    assert "'alice alice@example.org' kept, was used recently." in lines
    assert lines[-2] == "after: users: 4, hosts: 6, domains: 3"
    assert lines[-1].startswith("users: 1 stale deleted, 1 stale kept")
    assert db.user("ghost") is None and db.user("keeper") is not None and db.user("root") is not None
    assert "user deleted (stale)" in audit_actions(db)


def test_testuser_creates_then_resets(db: CliDb) -> None:
    lines = ok(db.run("testuser"))
    assert lines[0] == "Successfully reinitialized the test user"
    assert lines[-1] == "testuser: test created, 0 hosts and 0 domains removed"
    with db.session() as session:
        test = session.scalars(select(User).where(User.username == "test")).one()
        domain_service.create_domain(session, "test.example", test, backend="memory")
        host_service.create_host(session, "mine.test.example", test)
        host_service.create_host(session, "shared.example.org", test)
        test.language, test.email = "en", "changed@example.org"
        test.password_hash = passwords.hash_password("changed by a visitor")
        session.commit()
    dry = ok(db.run("testuser", "--dry-run"))
    assert dry == ["testuser: test reset, 2 hosts and 1 domains removed (dry run: nothing changed)"]
    assert db.host("mine.test.example") is not None
    lines = ok(db.run("testuser"))
    assert lines[-1] == "testuser: test reset, 2 hosts and 1 domains removed"
    test = db.user("test")
    assert passwords.verify_password(test.password_hash, "test")
    assert test.email == "noreply@example.com" and test.language == ""
    assert db.host("shared.example.org") is None and db.domain("test.example") is None
    assert db.domain("example.org") is not None


USAGE_ERRORS = {"faults-nothing": ["faults"], "domains-nothing": ["domains"],
                "users-nothing": ["users"], "hosts-notify-alone": ["hosts", "--notify-user"],
                "flag-abuse-not-a-number": ["faults", "--flag-abuse", "x"]}
COMMANDS = ("faults", "domains", "hosts", "users", "testuser")


def test_help_and_usage_errors() -> None:
    """Both end before the ini is read: once, side by side, without a database."""
    runs = admin_batch({**{name: ["unused.ini", *argv] for name, argv in USAGE_ERRORS.items()},
                        **{f"help-{c}": ["unused.ini", c, "--help"] for c in COMMANDS}})
    for name in USAGE_ERRORS:
        result = runs[name]
        assert result.returncode == 2, (name, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
    for command in COMMANDS:
        text = "\n".join(ok(runs[f"help-{command}"]))
        assert "--dry-run" in text and "--progress" in text


def test_audit_log_of_a_run_names_the_command(db: CliDb) -> None:
    ok(db.run("faults", "--reset-client"))
    with db.session() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.actor == "nsupdate-admin" and entry.action == "faults"
    assert "client reset on 2" in entry.detail
