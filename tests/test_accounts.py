"""Registration, activation, login throttling and the clean-up of unactivated accounts.

Mails go through a real SMTP server (tests/fixtures/smtp.py); the tests follow their links.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from nsupdate_pyramid.models import LoginThrottle, User, utcnow
from nsupdate_pyramid.services import accounts
from nsupdate_pyramid.services.errors import InvalidValue
from tests.conftest import PASSWORD, AppClient

NEW_PASSWORD = "a much better passphrase"


def register(client: AppClient, username: str = "newbie", email: str = "newbie@example.net",
             password: str = NEW_PASSWORD, again: str | None = None) -> Any:
    form = client.get("/register").forms[0]
    form["username"] = username
    form["email"] = email
    form["new_password"] = password
    form["new_password_again"] = password if again is None else again
    return form.submit()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.netloc == "example.com", url  # links point at this site
    return parts.path


def strip_tokens(text: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", text)


def user_named(dbsession: Any, name: str) -> User | None:
    dbsession.expire_all()
    return dbsession.scalars(select(User).where(User.username == name)).one_or_none()


# ---- registration and activation ------------------------------------------------------------

def test_register_activate_and_log_in(client: AppClient, mailbox: Any, dbsession: Any) -> None:
    response = register(client)
    assert response.status_int == 303
    assert response.location == "http://example.com/register/sent"
    assert "Check your mail" in response.follow().text
    user = user_named(dbsession, "newbie")
    assert user is not None and not user.is_active and user.activated is None
    assert user.password_hash.startswith("$argon2id$")

    # Not yet activated: the same answer as a wrong password.
    assert "Wrong user name or password" in client.login("newbie", NEW_PASSWORD).text

    message = mailbox.only("newbie@example.net")
    assert "Activate your account" in message["Subject"]
    assert message["From"] == "nsupdate test <noreply@example.com>"
    text, html = mailbox.parts(message)
    link = mailbox.link(message)
    assert link in text and link in html
    page = client.get(path_of(link))
    assert "Activate the account newbie?" in page.text
    assert not user_named(dbsession, "newbie").is_active  # GET changes nothing
    activated = page.forms[0].submit()
    assert activated.status_int == 303 and activated.location == "http://example.com/login"
    assert "Your account newbie is active" in activated.follow().text
    user = user_named(dbsession, "newbie")
    assert user.is_active and user.activated is not None

    # The link works once.
    again = client.get(path_of(link), expect_errors=True)
    assert again.status_int == 400 and "This link is invalid" in again.text
    assert client.login("newbie", NEW_PASSWORD).status_int == 303


def test_activation_needs_csrf(client: AppClient, mailbox: Any, dbsession: Any) -> None:
    register(client)
    link = mailbox.link(mailbox.only("newbie@example.net"))
    response = client.post(path_of(link), {}, expect_errors=True)
    assert response.status_int == 400 and "Form expired" in response.text
    assert not user_named(dbsession, "newbie").is_active


@pytest.mark.parametrize("token", ["", "nonsense", "a.b", "eyJ1IjoxfQ.forged"])
def test_bad_activation_links(client: AppClient, token: str) -> None:
    response = client.get(f"/register/activate/{token}", expect_errors=True)
    assert response.status_int in (400, 404)
    if response.status_int == 400:
        assert "This link is invalid" in response.text


def test_expired_and_tampered_activation_links(client: AppClient, make_user: Any, app: Any,
                                               dbsession: Any) -> None:
    user = make_user("late", active=False)
    user.activated = None
    dbsession.commit()
    signer = app.registry["nsupdate.tokens"]
    bound = f"{user.is_active}:{user.activated}"
    expired = signer.make("activate", user.id, 60, bound, now=0)
    other_purpose = signer.make("reset", user.id, 3600, bound)
    good = signer.make("activate", user.id, 3600, bound)
    _payload, mac = good.split(".")
    tampered = signer.make("activate", user.id + 1, 3600, bound).split(".")[0] + "." + mac
    for token in (expired, other_purpose, tampered):
        assert client.get(f"/register/activate/{token}", expect_errors=True).status_int == 400
    assert client.get(f"/register/activate/{good}").status_int == 200


@pytest.mark.parametrize(("field", "value", "message"), [
    ("username", "has space", "Invalid user name"),
    ("username", "-dash", "Invalid user name"),
    ("email", "not-an-address", "Enter a valid email address"),
    ("email", "someone@localhost", "Enter a valid email address"),
    ("email", "someone@exa_mple.org", "Enter a valid email address"),
    ("email", "someone@example.123", "Enter a valid email address"),
    ("email", "a b@example.org", "Enter a valid email address"),
    ("password", "short", "at least 10 characters"),
    ("password", "password123", "too easy to guess"),
    ("password", "newbie-is-my-name", "too easy to guess"),
    ("password", "aaaaaaaaaaaa", "too easy to guess"),
])
def test_registration_validation(client: AppClient, mailbox: Any, dbsession: Any, field: str,
                                 value: str, message: str) -> None:
    values = {"username": "newbie", "email": "newbie@example.net", "password": NEW_PASSWORD}
    values[field] = value
    page = register(client, **values)
    assert page.status_int == 200
    assert message in page.text
    assert user_named(dbsession, "newbie") is None
    assert mailbox.messages() == []


def test_registration_passwords_must_match_and_fields_are_required(client: AppClient,
                                                                   dbsession: Any) -> None:
    page = register(client, again=NEW_PASSWORD + "!")
    assert "The passwords differ." in page.text
    page = register(client, username="", email="", password="")
    assert page.text.count("Please fill in this field.") == 4
    assert user_named(dbsession, "newbie") is None


def test_registration_needs_csrf(client: AppClient, dbsession: Any) -> None:
    response = client.post("/register", {"username": "newbie", "email": "n@example.net",
                                         "new_password": NEW_PASSWORD,
                                         "new_password_again": NEW_PASSWORD}, expect_errors=True)
    assert response.status_int == 400
    assert user_named(dbsession, "newbie") is None


def test_taken_names_and_addresses_answer_like_a_new_account(client: AppClient, mailbox: Any,
                                                             make_user: Any, dbsession: Any) -> None:
    make_user("alice")  # alice@example.org
    fresh = register(client, "newbie", "newbie@example.net")
    taken_address = register(client, "someone", "alice@example.org")
    taken_name = register(client, "ALICE", "other@example.net")
    for response in (fresh, taken_address, taken_name):
        assert response.status_int == 303
        assert response.location == "http://example.com/register/sent"
    assert user_named(dbsession, "someone") is None
    assert len(list(dbsession.scalars(select(User)))) == 2  # alice and newbie

    messages = {m["To"]: m for m in mailbox.messages(expected=3)}
    assert set(messages) == {"newbie@example.net", "alice@example.org", "other@example.net"}
    owner_text, _html = mailbox.parts(messages["alice@example.org"])
    assert "already belongs to your account: alice" in owner_text
    assert "http://example.com/password-reset" in owner_text
    taken_text, _html = mailbox.parts(messages["other@example.net"])
    assert "ALICE" in taken_text and "is taken" in taken_text


def test_registering_again_resends_the_activation(client: AppClient, mailbox: Any,
                                                  dbsession: Any) -> None:
    register(client)
    register(client, "newbie2", "newbie@example.net")
    first, second = mailbox.messages(expected=2)
    assert "Activate" in first["Subject"] and "Activate" in second["Subject"]
    assert user_named(dbsession, "newbie2") is None
    page = client.get(path_of(mailbox.link(second)))
    assert "Activate the account newbie?" in page.text


def test_registration_closed(client: AppClient, app: Any, settings: dict[str, str],
                             session_factory: Any) -> None:
    from nsupdate_pyramid import main

    closed = main({}, **{**settings, "nsupdate.registration_open": "false",
                         "nsupdate.service_contact": "hostmaster@example.org"})
    closed.registry["dbsession_factory"] = session_factory
    browser = AppClient(closed, extra_environ={"HTTP_HOST": "example.com"})
    page = browser.get("/register")
    assert "Registration is closed" in page.text and "hostmaster@example.org" in page.text
    assert not page.forms or "username" not in page.forms[0].fields
    assert "/register" not in browser.get("/login").text
    token = browser.csrf_token()
    response = browser.post("/register", {"csrf_token": token, "username": "x",
                                          "email": "x@example.net", "new_password": NEW_PASSWORD,
                                          "new_password_again": NEW_PASSWORD})
    assert "Registration is closed" in response.text


def test_logged_in_users_are_sent_to_their_hosts(client: AppClient, make_user: Any) -> None:
    make_user("alice")
    client.login("alice")
    assert client.get("/register").location == "http://example.com/hosts/"


def test_email_validation_accepts_real_addresses() -> None:
    assert accounts.check_email(" First.Last+tag@Example.ORG ") == "First.Last+tag@example.org"
    assert accounts.check_email("x@bücher.example") == "x@bücher.example"
    assert accounts.check_email("x@xn--bcher-kva.example")
    for bad in ("@example.org", "x@", "x@.org", "x@example.org.", "x..y@example.org",
                "x@-example.org", "x@example", "x@" + "a" * 64 + ".org"):
        with pytest.raises(InvalidValue):
            accounts.check_email(bad)


# ---- cleanupregistration ----------------------------------------------------------------------

def test_cleanup_removes_only_expired_unactivated_accounts(make_user: Any, dbsession: Any) -> None:
    old = utcnow() - timedelta(days=30)
    expired = make_user("expired", active=False)
    fresh = make_user("fresh", active=False)
    switched_off = make_user("switched-off")
    expired.activated = fresh.activated = None
    expired.date_joined = switched_off.date_joined = old
    switched_off.is_active = False
    dbsession.commit()
    max_age = 7 * 86400
    assert accounts.cleanup_registrations(dbsession, max_age, dry_run=True) == ["expired"]
    assert user_named(dbsession, "expired") is not None
    assert accounts.cleanup_registrations(dbsession, max_age) == ["expired"]
    dbsession.commit()
    assert user_named(dbsession, "expired") is None
    assert user_named(dbsession, "fresh") is not None
    assert user_named(dbsession, "switched-off") is not None


# ---- login throttling -------------------------------------------------------------------------

def login(client: AppClient, username: str, password: str = PASSWORD) -> Any:
    """Like AppClient.login, but a 429 is an answer to look at, not an error."""
    form = client.get("/login").forms[0]
    form["username"] = username
    form["password"] = password
    return form.submit(expect_errors=True)


def _fail(client: AppClient, username: str, times: int) -> list[Any]:
    return [client.login(username, "wrong password") for _ in range(times)]


def test_failed_logins_lock_the_name_whether_or_not_it_exists(client: AppClient, make_user: Any,
                                                             dbsession: Any) -> None:
    make_user("alice")
    for name in ("alice", "nobody"):
        pages = _fail(client, name, 10)
        assert all(page.status_int == 200 for page in pages)
        blocked = login(client, name, PASSWORD if name == "alice" else "x")
        assert blocked.status_int == 429
        assert "Too many failed logins" in blocked.text
        assert "nsu_auth" not in blocked.headers.get("Set-Cookie", "")
    # the counters were committed even though every one of those requests failed
    dbsession.expire_all()
    rows = {row.key: row.failures for row in dbsession.scalars(select(LoginThrottle))}
    assert rows["account:alice"] == 10 and rows["account:nobody"] == 10
    assert rows["address:192.0.2.7"] == 20


def test_a_lockout_ends_and_a_success_clears_the_count(client: AppClient, make_user: Any,
                                                        dbsession: Any) -> None:
    make_user("alice")
    _fail(client, "alice", 9)
    assert client.login("alice").status_int == 303
    client.logout()
    dbsession.expire_all()
    assert dbsession.scalars(select(LoginThrottle).where(
        LoginThrottle.key == "account:alice")).one_or_none() is None
    _fail(client, "alice", 10)
    assert login(client, "alice").status_int == 429
    for row in dbsession.scalars(select(LoginThrottle)):
        row.last_failure = utcnow() - timedelta(seconds=901)
    dbsession.commit()
    assert client.login("alice").status_int == 303


def test_failed_logins_from_one_network_are_limited(client: AppClient, make_user: Any,
                                                    dbsession: Any) -> None:
    make_user("alice")
    for n in range(50):
        client.login(f"user{n}", "wrong password")
    assert login(client, "alice").status_int == 429
    elsewhere = AppClient(client.app, extra_environ={"HTTP_HOST": "example.com",
                                                     "REMOTE_ADDR": "198.51.100.9"})
    assert login(elsewhere, "alice").status_int == 303


def test_ipv6_clients_are_counted_by_their_64() -> None:
    from nsupdate_pyramid.services.throttle import address_key

    assert address_key("2001:db8:1:2::5") == address_key("2001:db8:1:2:ffff::1")
    assert address_key("2001:db8:1:3::5") != address_key("2001:db8:1:2::5")
    assert address_key("192.0.2.1") == "address:192.0.2.1"


def test_failure_is_counted_when_the_request_transaction_aborts(app: Any, session_factory: Any,
                                                               dbsession: Any) -> None:
    """A commit veto or an error must not erase the failure."""
    import transaction

    from nsupdate_pyramid.services.throttle import count_failure_after

    manager = transaction.TransactionManager(explicit=True)
    txn = manager.begin()
    count_failure_after(txn, session_factory, ["account:vetoed"], 900)
    manager.abort()
    dbsession.expire_all()
    row = dbsession.scalars(select(LoginThrottle).where(LoginThrottle.key == "account:vetoed")).one()
    assert row.failures == 1


# ---- the mailer ---------------------------------------------------------------------------------

def test_mails_leave_only_after_commit_and_development_writes_files(app: Any, tmp_path: Any) -> None:
    import email
    import email.policy

    import transaction
    from pyramid_mailer.interfaces import IMailer
    from pyramid_mailer.mailer import DebugMailer

    from nsupdate_pyramid.i18n import _
    from nsupdate_pyramid.mail import Postman, make_mailer
    from nsupdate_pyramid.settings import parse_settings

    folder = tmp_path / "mail"
    mailer = make_mailer(parse_settings({"session.secret": "x" * 40,
                                         "mail.top_level_directory": str(folder),
                                         "mail.default_sender": "dev <noreply@localhost>"}))
    assert isinstance(mailer, DebugMailer)
    previous = app.registry.getUtility(IMailer)
    app.registry.registerUtility(mailer, IMailer)
    try:
        manager = transaction.TransactionManager(explicit=True)
        postman = Postman(app.registry, manager, "http://example.com/")
        for commit in (False, True):
            manager.begin()
            postman.send("x@example.net", "password_reset", _("Reset your password"), "en",
                         username="x", url=postman.url("/password-reset/t"), minutes=5)
            manager.commit() if commit else manager.abort()
            app.registry["nsupdate.outbox"].flush()
            assert len(list(folder.glob("*.eml"))) == int(commit)
    finally:
        app.registry.registerUtility(previous, IMailer)
    (eml,) = folder.glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert "http://example.com/password-reset/t" in message.get_body(("plain",)).get_content()
    assert "http://example.com/password-reset/t" in message.get_body(("html",)).get_content()
    assert message["Date"] and message["Message-ID"]


def test_mail_settings() -> None:
    from nsupdate_pyramid.mail import make_mailer
    from nsupdate_pyramid.settings import SettingsError, parse_settings

    base = {"session.secret": "x" * 40}
    smtp = make_mailer(parse_settings({**base, "mail.host": "smtp.example.org", "mail.port": "587",
                                       "mail.tls": "true", "mail.username": "u",
                                       "mail.password": "p"})).smtp_mailer
    assert (smtp.hostname, smtp.port, smtp.force_tls, smtp.no_tls) == ("smtp.example.org", 587,
                                                                        True, False)
    plain = make_mailer(parse_settings(base)).smtp_mailer
    assert plain.no_tls and plain.username is None
    for key, value, message in [("mail.tls", "maybe", "bad setting mail.tls"),
                                ("mail.hots", "x", "unknown setting mail.hots"),
                                ("mail.port", "0", "bad setting mail.port"),
                                ("mail.default_sender", "nobody", "bad setting mail.default_sender")]:
        with pytest.raises(SettingsError, match=message):
            parse_settings({**base, key: value})
    with pytest.raises(SettingsError, match=r"either mail\.tls"):
        parse_settings({**base, "mail.tls": "true", "mail.ssl": "true"})
