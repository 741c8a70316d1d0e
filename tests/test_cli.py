"""``nsupdate-admin``: the installed console script, run as operators and provisioning tools run it.

Its command lines, its "secret on the last line of stdout" and its "one line on stderr, no traceback"
are an interface other tooling parses, so every test runs the real script in a subprocess against a
real, migrated database (SQLite and PostgreSQL) and then looks at what ended up in the database.

A run costs most of a second (imports and app start-up). To stay fast, the database is migrated
once per engine and copied for each scenario, independent runs go side by side (the tests then check
their results), and what does not depend on the engine runs once, on SQLite.
"""
from __future__ import annotations

import base64
import os
import select
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from nsupdate_pyramid.models import Domain, Host, User, get_engine
from nsupdate_pyramid.security import passwords
from nsupdate_pyramid.security.secrets import verify_secret
from nsupdate_pyramid.services import domains as domain_service
from nsupdate_pyramid.services import hosts as host_service
from nsupdate_pyramid.services import users as user_service
from tests.conftest import migrate
from tests.fixtures.postgres import create_database

ADMIN = Path(sys.executable).with_name("nsupdate-admin")
ENGINES = ["sqlite", "postgresql"]
TEMPLATE_DB = "nsu_cli_template"
PASSWORD = "correct horse battery staple"
TSIG_SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
RUN_TIMEOUT = 60
# Runs are CPU-bound start-ups; one more than the CPUs covers the waits on the database.
WORKERS = max(2, (os.cpu_count() or 1) + 1)

Arranged = Literal["nothing", "user", "domain", "host"]


def ini_text(url: str) -> str:
    """The least an operator's ini needs; no logging sections, which must work too."""
    return (
        "[app:main]\n"
        "use = egg:nsupdate-pyramid\n"
        f"sqlalchemy.url = {url.replace('%', '%%')}\n"
        "session.secret = cli-test-secret-" + "x" * 40 + "\n"
        "dns.backends =\n"
        "    memory = nsupdate_pyramid.dns.memory:MemoryBackend\n"
        "    other = nsupdate_pyramid.dns.memory:MemoryBackend\n"
    )


def admin(ini: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the console script with stdin not a terminal, as in scripts and cron jobs."""
    return subprocess.run([str(ADMIN), str(ini), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)


def admin_batch(commands: dict[str, Sequence[str]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run independent invocations side by side: each is a full interpreter start-up."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {key: pool.submit(admin, *argv) for key, argv in commands.items()}
        return {key: future.result() for key, future in futures.items()}


def ok(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Assert success and return the stdout lines."""
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}")
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    """Tools show stderr to people: one ``nsupdate-admin:`` line, never a traceback, no stdout."""
    assert result.returncode == 1, f"exit {result.returncode}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("nsupdate-admin:"), lines[0]
    assert fragment in lines[0], lines[0]
    assert result.stdout == "", f"nothing (no secret!) belongs on stdout after a failure: {result.stdout!r}"


@dataclass
class CliDb:
    """A database of its own (a scenario's, a batch's or a test's) and an ini file pointing at it."""

    url: str
    ini: Path
    engine: Engine

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return admin(self.ini, *args)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def user(self, username: str) -> User | None:
        with self.session() as session:
            return session.scalars(sa_select(User).where(User.username == username)).one_or_none()

    def domain(self, name: str) -> Domain | None:
        with self.session() as session:
            return session.scalars(sa_select(Domain).where(Domain.name == name)).one_or_none()

    def host(self, fqdn: str) -> Host | None:
        with self.session() as session:
            return session.scalars(sa_select(Host).where(Host.fqdn == fqdn)).one_or_none()

    def count(self, model: Any) -> int:
        with self.session() as session:
            return session.scalar(sa_select(sa.func.count()).select_from(model))

    def arrange(self, upto: Arranged = "host") -> str:
        """Make alice, then her example.org, then home.example.org (``upto`` says how far) through
        the services: faster than the CLI. Returns the host's update secret ("" without a host)."""
        depth, secret = ("nothing", "user", "domain", "host").index(upto), ""
        with self.session() as session:
            if depth >= 1:
                alice = user_service.create_user(session, "alice", "alice@example.org", PASSWORD)
            if depth >= 2:
                domain_service.create_domain(session, "example.org", alice, backend="memory")
            if depth >= 3:
                _host, secret = host_service.create_host(session, "home.example.org", alice)
            session.commit()
        return secret


def _migrated(url: str) -> str:
    engine = sa.create_engine(url)
    migrate(engine)
    engine.dispose()  # PostgreSQL copies a template only while nobody is connected to it
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrated once; each test gets a file copy, as migrating per test is too slow."""
    return _migrated(f"sqlite:///{tmp_path_factory.mktemp('cli') / 'template.sqlite'}")


@pytest.fixture(scope="session")
def postgresql_template(request: pytest.FixtureRequest) -> str:
    """Migrated once; each test gets a ``CREATE DATABASE ... TEMPLATE`` copy."""
    # Asked for here, not as an argument, so that sqlite-only runs never start a server.
    server_url = request.getfixturevalue("postgresql_url")
    return _migrated(create_database(server_url, TEMPLATE_DB))


class Databases:
    """Makes fresh databases of one engine: copies of its migrated template, or empty ones."""

    def __init__(self, template_url: str, folder: Path) -> None:
        self.template_url = template_url
        self.folder = folder
        self.created: list[str] = []

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.template_url).get_backend_name() == "sqlite"

    def new_cli_db(self, *, migrated: bool = True) -> CliDb:
        name = f"nsu_cli_{uuid.uuid4().hex[:12]}"
        if self.is_sqlite:
            path = self.folder / f"{name}.sqlite"
            if migrated:
                shutil.copyfile(str(make_url(self.template_url).database), path)
            url = f"sqlite:///{path}"
        else:
            url = create_database(self.template_url, name, template=TEMPLATE_DB if migrated else None)
            self.created.append(url)
        ini = self.folder / f"{name}.ini"
        ini.write_text(ini_text(url))
        return CliDb(url=url, ini=ini, engine=get_engine({"sqlalchemy.url": url}))

    def drop_all(self) -> None:
        """Only matters on a server of one's own (NSUPDATE_TEST_POSTGRESQL_URL): ours is thrown away."""
        if not self.created:
            return
        server = sa.create_engine(make_url(self.template_url).set(database="postgres"),
                                  isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            for url in self.created:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        server.dispose()


@pytest.fixture(scope="session", params=ENGINES)
def databases(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Per engine: tests that use it run on SQLite and on PostgreSQL."""
    factory = Databases(request.getfixturevalue(f"{request.param}_template"),
                        tmp_path_factory.mktemp(f"cli-{request.param}"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def sqlite_databases(sqlite_template: str, tmp_path_factory: pytest.TempPathFactory) -> Databases:
    """For behaviour that does not depend on the engine: run once, on SQLite."""
    return Databases(sqlite_template, tmp_path_factory.mktemp("cli-sqlite-only"))


@pytest.fixture
def sqlite_cli_db(sqlite_databases: Databases) -> Iterator[CliDb]:
    """A fresh database for a test that runs once, on SQLite."""
    db = sqlite_databases.new_cli_db()
    yield db
    db.engine.dispose()


# --- what works -------------------------------------------------------------------------------

@dataclass
class Scenario:
    """Commands run one after the other, after ``CliDb.arrange(arrange)``."""

    arrange: Arranged
    commands: list[list[str]]


@dataclass
class Outcome:
    db: CliDb
    host_secret: str
    results: list[subprocess.CompletedProcess[str]]


GIVEN_SECRET = "router-secret-2024"
SCENARIOS: dict[str, Scenario] = {
    "user-add": Scenario("nothing", [
        ["user", "add", "alice", "--email", "alice@example.org", "--password", PASSWORD]]),
    "user-add-admin": Scenario("nothing", [
        ["user", "add", "root", "--email", "root@example.org", "--password", PASSWORD, "--admin"]]),
    "domain-add-defaults": Scenario("user", [["domain", "add", "example.org", "--owner", "alice"]]),
    "domain-add-options": Scenario("user", [[
        "domain", "add", "example.net", "--owner", "alice", "--public", "--backend", "other",
        "--tsig-key-name", "dyn-key.example.net", "--nameserver", "192.0.2.53",
        "--nameserver2", "2001:db8::53", "--nameserver-port", "5353", "--tsig-algorithm", "hmac-sha256",
        "--tsig-secret", TSIG_SECRET]]),
    "host-add-generated": Scenario("domain", [["host", "add", "home.example.org", "--owner", "alice"]]),
    "host-add-given": Scenario("domain", [
        ["host", "add", "home.example.org", "--owner", "alice", "--secret", GIVEN_SECRET]]),
    "host-set": Scenario("host", [
        ["host", "set", "home.example.org", "--available", "no", "--abuse", "YES", "--abuse-blocked", "yes"],
        ["host", "set", "home.example.org", "--abuse", "no"]]),
    "host-secret": Scenario("host", [["host", "secret", "home.example.org"]]),
    "host-set-lan": Scenario("host", [
        ["host", "set", "home.example.org", "--lan-ip", "192.168.1.20"],
        ["host", "set", "home.example.org", "--lan-ip", "fd00:0::20"],
        ["host", "set", "home.example.org", "--lan-ip", ""]]),
    "user-list": Scenario("user", [
        ["user", "add", "Root", "--email", "root@example.org", "--password", PASSWORD, "--admin"],
        ["user", "list"],
        ["user", "list", "--admins"]]),
}


@pytest.fixture(scope="session")
def outcomes(databases: Databases) -> Iterator[dict[str, Outcome]]:
    """Every scenario of one engine, side by side, each in a fresh database of its own.

    Each run is a whole interpreter start-up (most of a second): one after the other they would
    take most of this file's time. Own databases keep them independent, and keep SQLite from
    refusing concurrent writers.
    """

    def play(scenario: Scenario) -> Outcome:
        # Concurrent CREATE DATABASE ... TEMPLATE is fine: nobody is connected to the template.
        db = databases.new_cli_db()
        host_secret = db.arrange(scenario.arrange)
        results: list[subprocess.CompletedProcess[str]] = []
        for argv in scenario.commands:
            results.append(db.run(*argv))
            if results[-1].returncode != 0:
                break
        return Outcome(db=db, host_secret=host_secret, results=results)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        played = dict(zip(SCENARIOS, pool.map(play, SCENARIOS.values()), strict=True))
    yield played
    for outcome in played.values():
        outcome.db.engine.dispose()


def test_user_add_stores_only_a_password_hash(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["user-add"]
    assert ok(outcome.results[0]) == ["created user alice"]
    user = outcome.db.user("alice")
    assert user is not None
    assert (user.email, user.is_admin, user.is_active) == ("alice@example.org", False, True)
    assert PASSWORD not in user.password_hash
    assert passwords.verify_password(user.password_hash, PASSWORD)


def test_user_list(outcomes: dict[str, Outcome]) -> None:
    """The Makefile's "no admin yet" hint reads ``user list --admins``: one name per line."""
    _add, everyone, admins = outcomes["user-list"].results
    assert ok(everyone) == ["alice", "Root"]
    assert ok(admins) == ["Root"]


def test_user_add_admin(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["user-add-admin"]
    assert ok(outcome.results[0]) == ["created admin root"]
    user = outcome.db.user("root")
    assert user is not None and user.is_admin
    assert passwords.verify_password(user.password_hash, PASSWORD)


def test_domain_add_defaults_key_name_to_zone(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["domain-add-defaults"]
    assert ok(outcome.results[0]) == ["created domain example.org (backend memory, key example.org)"]
    domain, alice = outcome.db.domain("example.org"), outcome.db.user("alice")
    assert domain is not None and alice is not None
    assert domain.owner_id == alice.id
    assert domain.tsig_key_name == "example.org"
    assert domain.backend == "memory"  # the first of dns.backends, as no default_backend is set
    assert (domain.public, domain.nameserver_ip, domain.nameserver2_ip, domain.nameserver_port) == (
        False, "", "", 53)
    assert (domain.tsig_algorithm, domain.tsig_secret) == ("hmac-sha512", "")


def test_domain_add_with_every_option(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["domain-add-options"]
    assert ok(outcome.results[0]) == ["created domain example.net (backend other, key dyn-key.example.net)"]
    domain = outcome.db.domain("example.net")
    assert domain is not None
    assert domain.public is True
    assert domain.backend == "other"
    assert domain.tsig_key_name == "dyn-key.example.net"
    assert (domain.nameserver_ip, domain.nameserver2_ip, domain.nameserver_port) == (
        "192.0.2.53", "2001:db8::53", 5353)
    assert (domain.tsig_algorithm, domain.tsig_secret) == ("hmac-sha256", TSIG_SECRET)


def test_host_add_prints_a_generated_secret_last(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["host-add-generated"]
    secret = ok(outcome.results[0])[-1]
    assert len(secret) >= 16 and secret.isalnum()
    db = outcome.db
    host, alice, domain = db.host("home.example.org"), db.user("alice"), db.domain("example.org")
    assert host is not None and alice is not None and domain is not None
    assert (host.name, host.owner_id, host.domain_id) == ("home", alice.id, domain.id)
    assert secret not in host.update_secret_hash
    assert verify_secret(host.update_secret_hash, secret)


def test_host_add_with_given_secret(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["host-add-given"]
    assert ok(outcome.results[0])[-1] == GIVEN_SECRET
    host = outcome.db.host("home.example.org")
    assert host is not None
    assert GIVEN_SECRET not in host.update_secret_hash
    assert verify_secret(host.update_secret_hash, GIVEN_SECRET)


def test_host_set_changes_only_the_given_flags(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["host-set"]
    assert len(outcome.results) == 2, outcome.results[-1].stderr
    first, second = (ok(result) for result in outcome.results)
    assert first == ["home.example.org: available=no abuse=yes abuse_blocked=yes"]
    assert second == ["home.example.org: available=no abuse=no abuse_blocked=yes"]
    host = outcome.db.host("home.example.org")
    assert host is not None and (host.available, host.abuse, host.abuse_blocked) == (False, False, True)


def test_host_set_lan_ip(outcomes: dict[str, Outcome]) -> None:
    """The flags line stays as it was; the LAN address gets its own line, canonical."""
    outcome = outcomes["host-set-lan"]
    lines = [ok(result) for result in outcome.results]
    flags = "home.example.org: available=yes abuse=no abuse_blocked=no"
    assert lines == [[flags, "home.example.org: lan_ip=192.168.1.20"],
                     [flags, "home.example.org: lan_ip=fd00::20"],
                     [flags, "home.example.org: lan_ip=-"]]
    host = outcome.db.host("home.example.org")
    assert host is not None and host.lan_ip == ""


def test_host_secret_replaces_the_old_one(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["host-secret"]
    old, new = outcome.host_secret, ok(outcome.results[0])[-1]
    assert new and new != old
    host = outcome.db.host("home.example.org")
    assert host is not None
    assert new not in host.update_secret_hash
    assert verify_secret(host.update_secret_hash, new)
    assert not verify_secret(host.update_secret_hash, old)


# --- the password prompt (once: it does not depend on the engine) ------------------------------

def _run_on_terminal(argv: Sequence[str], answers: Sequence[str]) -> tuple[int, str]:
    """Run with a pseudo-terminal as stdin/stdout/stderr, typing ``answers`` at each password prompt.

    A new session has no controlling terminal, so getpass falls back to stdin (the pty) instead of
    the /dev/tty of whoever runs the tests. Answers are typed only after each prompt shows, because
    getpass flushes input typed earlier.
    """
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave,
                                start_new_session=True)
    finally:
        os.close(slave)
    output, typed = b"", 0
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"no prompt or exit; output so far: {output!r}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed its end of the terminal
                break
            if not chunk:
                break
            output += chunk
            if typed < len(answers) and output.count(b"Password") > typed and output.endswith(b": "):
                os.write(master, answers[typed].encode() + b"\n")
                typed += 1
        return proc.wait(timeout=RUN_TIMEOUT), output.decode().replace("\r\n", "\n")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_user_add_prompts_for_password_on_a_terminal(sqlite_cli_db: CliDb) -> None:
    argv = [str(ADMIN), str(sqlite_cli_db.ini), "user", "add", "carol", "--email", "carol@example.org"]
    returncode, output = _run_on_terminal(argv, [PASSWORD, PASSWORD])
    assert returncode == 0, output
    assert "Password (again): " in output
    assert output.rstrip().endswith("created user carol")
    assert PASSWORD not in output  # typed without echo
    user = sqlite_cli_db.user("carol")
    assert user is not None and passwords.verify_password(user.password_hash, PASSWORD)


def test_user_add_prompt_rejects_differing_passwords(sqlite_cli_db: CliDb) -> None:
    argv = [str(ADMIN), str(sqlite_cli_db.ini), "user", "add", "carol", "--email", "carol@example.org"]
    returncode, output = _run_on_terminal(argv, [PASSWORD, PASSWORD + "!"])
    assert returncode == 1
    assert "nsupdate-admin: error: the passwords differ" in output
    assert "Traceback" not in output
    assert sqlite_cli_db.user("carol") is None


# --- failures -------------------------------------------------------------------------------
#
# Each case: (arguments after INI, a fragment of the one error line).

LOOKUP_FAILURES: dict[str, tuple[list[str], str]] = {
    # Lookups and uniqueness, down to the database: run on every engine.
    "duplicate-user": (["user", "add", "alice", "--email", "a@example.org", "--password", "x"],
                       "already exists"),
    "duplicate-user-other-case": (["user", "add", "Alice", "--email", "a@example.org", "--password", "x"],
                                  "already exists"),
    "domain-unknown-owner": (["domain", "add", "example.net", "--owner", "nobody"],
                             "no user named 'nobody'"),
    "duplicate-domain": (["domain", "add", "example.org", "--owner", "alice"], "already exists"),
    "host-unknown-owner": (["host", "add", "new.example.org", "--owner", "nobody"], "no user named 'nobody'"),
    "duplicate-fqdn": (["host", "add", "home.example.org", "--owner", "alice"], "already exists"),
    "domain-not-found": (["host", "add", "home.example.net", "--owner", "alice"],
                         "There is no domain example.net."),
    "set-unknown-host": (["host", "set", "nope.example.org", "--abuse", "yes"], "no host named"),
    "secret-unknown-host": (["host", "secret", "nope.example.org"], "no host named"),
}

VALIDATION_FAILURES: dict[str, tuple[list[str], str]] = {
    # Checks of the input itself, the same whatever the engine: run once, on SQLite.
    "no-tty-no-password": (["user", "add", "bob", "--email", "bob@example.org"], "give --password"),
    "bad-domain-name": (["domain", "add", "ex!ample.net", "--owner", "alice"], "Invalid domain name"),
    "unknown-backend": (["domain", "add", "example.net", "--owner", "alice", "--backend", "nope"],
                        "unknown backend 'nope' (dns.backends declares: memory, other)"),
    "bad-tsig-secret": (["domain", "add", "example.net", "--owner", "alice", "--tsig-secret", "no base64!"],
                        "base64"),
    "bad-nameserver": (["domain", "add", "example.net", "--owner", "alice", "--nameserver", "192.0.2.300"],
                       "Invalid nameserver address"),
    "bad-nameserver2": (["domain", "add", "example.net", "--owner", "alice", "--nameserver2",
                         "ns.example.net"], "Invalid nameserver address"),
    "bad-host-name": (["host", "add", "bad_name.example.org", "--owner", "alice"], "Invalid host name"),
    "bad-lan-ip": (["host", "set", "home.example.org", "--lan-ip", "192.168.1.300"],
                   "Not a usable IP address"),
}

BROKEN_INIS: dict[str, tuple[str | None, str]] = {
    # case: (ini content, None = no such file; fragment of the error line)
    "missing-ini": (None, "cannot load"),
    "not-an-ini": ("this is not an ini file\n", "cannot load"),
    "no-app-section": ("[app:other]\nuse = egg:nsupdate-pyramid\n", "cannot load"),
    "bad-setting": (ini_text("sqlite://").replace("x" * 40, ""), "session.secret"),
    "bad-database-url": (ini_text("not a url"), "SQLAlchemy URL"),
    "unknown-egg": (ini_text("sqlite://").replace("egg:nsupdate-pyramid", "egg:no-such-package"),
                    "cannot load"),
}

USAGE_ERRORS: dict[str, list[str]] = {
    # argparse's own errors: exit 2, usage plus message, before the ini is read.
    "usage-bad-yes-no": ["host", "set", "home.example.org", "--abuse", "maybe"],
    "usage-missing-owner": ["host", "add", "home.example.org"],
}


def _assert_unchanged(db: CliDb, host_secret: str) -> None:
    """After failed commands: exactly what ``CliDb.arrange`` made, untouched."""
    assert (db.count(User), db.count(Domain), db.count(Host)) == (1, 1, 1)
    domain = db.domain("example.org")
    assert domain is not None
    assert (domain.backend, domain.tsig_secret, domain.nameserver_ip) == ("memory", "", "")
    host = db.host("home.example.org")
    assert host is not None
    assert (host.available, host.abuse, host.abuse_blocked) == (True, False, False)
    assert verify_secret(host.update_secret_hash, host_secret)


@dataclass
class Batch:
    """Failure cases run side by side (each run is an interpreter start-up) against one database.

    Sharing the database is sound because a failed command must not change it, which the
    ``..._change_nothing`` tests check afterwards.
    """

    db: CliDb
    host_secret: str
    results: dict[str, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def lookup_batch(databases: Databases) -> Iterator[Batch]:
    """The lookup failures on one engine, plus a command against an empty (unmigrated) database."""
    db, empty = databases.new_cli_db(), databases.new_cli_db(migrated=False)
    secret = db.arrange()
    commands = {case: [str(db.ini), *argv] for case, (argv, _fragment) in LOOKUP_FAILURES.items()}
    commands["not-migrated"] = [str(empty.ini), "user", "add", "bob", "--email", "bob@example.org",
                                "--password", "x"]
    yield Batch(db=db, host_secret=secret, results=admin_batch(commands))
    db.engine.dispose()
    empty.engine.dispose()


@pytest.fixture(scope="session")
def once_batch(sqlite_databases: Databases) -> Iterator[Batch]:
    """Validation failures, broken ini files and usage errors: the same on every engine."""
    db = sqlite_databases.new_cli_db()
    secret = db.arrange()
    commands = {case: [str(db.ini), *argv] for case, (argv, _fragment) in VALIDATION_FAILURES.items()}
    for case, (text, _fragment) in BROKEN_INIS.items():
        ini = sqlite_databases.folder / f"{case}.ini"
        if text is not None:
            ini.write_text(text)
        commands[case] = [str(ini), "user", "add", "bob", "--email", "bob@example.org", "--password", "x"]
    commands.update({case: [str(db.ini), *argv] for case, argv in USAGE_ERRORS.items()})
    yield Batch(db=db, host_secret=secret, results=admin_batch(commands))
    db.engine.dispose()


@pytest.mark.parametrize("case", LOOKUP_FAILURES)
def test_lookup_failure_is_one_line(lookup_batch: Batch, case: str) -> None:
    assert_one_line_error(lookup_batch.results[case], LOOKUP_FAILURES[case][1])


def test_unmigrated_database_is_one_line(lookup_batch: Batch) -> None:
    """PostgreSQL's message spans lines (LINE 2: ..., a caret): still one line on stderr."""
    result = lookup_batch.results["not-migrated"]
    assert_one_line_error(result, "nsupdate-admin: database error:")
    assert "users" in result.stderr  # the missing table ...
    assert "upgrade head" in result.stderr  # ... and what to do about it


def test_failed_lookups_change_nothing(lookup_batch: Batch) -> None:
    _assert_unchanged(lookup_batch.db, lookup_batch.host_secret)


@pytest.mark.parametrize("case", VALIDATION_FAILURES)
def test_invalid_input_is_one_line(once_batch: Batch, case: str) -> None:
    assert_one_line_error(once_batch.results[case], VALIDATION_FAILURES[case][1])


def test_invalid_input_changes_nothing(once_batch: Batch) -> None:
    _assert_unchanged(once_batch.db, once_batch.host_secret)


@pytest.mark.parametrize("case", BROKEN_INIS)
def test_broken_ini_is_one_line(once_batch: Batch, case: str) -> None:
    assert_one_line_error(once_batch.results[case], BROKEN_INIS[case][1])


@pytest.mark.parametrize("case", USAGE_ERRORS)
def test_usage_error_exits_2_without_traceback(once_batch: Batch, case: str) -> None:
    result = once_batch.results[case]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("nsupdate-admin"), result.stderr
    assert result.stdout == ""
