"""The profile: email change confirmed from the new address, language for pages and mails,
account deletion (hosts, DNS records, domains kept for others) and what it reports."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from pyramid.interfaces import ITranslationDirectories
from sqlalchemy import select

from nsupdate_pyramid import main
from nsupdate_pyramid.dns.zone import ZoneInfo
from nsupdate_pyramid.models import Domain, Host, User
from tests.conftest import PASSWORD, AppClient


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.netloc == "example.com", url
    return parts.path


def fresh(dbsession: Any, model: Any, ident: int) -> Any:
    dbsession.expire_all()
    return dbsession.get(model, ident)


# ---- email change -----------------------------------------------------------------------------

def ask_email_change(client: AppClient, email: str, password: str = PASSWORD) -> Any:
    form = client.get("/account/email").forms["email-form"]
    form["email"] = email
    form["password"] = password
    return form.submit()


def test_email_change_happens_when_the_link_is_followed(client: AppClient, mailbox: Any,
                                                        make_user: Any, dbsession: Any) -> None:
    user = make_user("alice")
    client.login("alice")
    response = ask_email_change(client, "alice@new.example")
    assert response.status_int == 303
    assert "We sent a link to alice@new.example" in response.follow().text
    assert fresh(dbsession, User, user.id).email == "alice@example.org"
    message = mailbox.only("alice@new.example")
    assert "Confirm your new email address" in message["Subject"]
    link = mailbox.link(message)
    page = client.get(path_of(link))
    assert "Use alice@new.example from now on?" in page.text
    assert fresh(dbsession, User, user.id).email == "alice@example.org"
    done = page.forms["confirm-form"].submit()
    assert "Your email address is now alice@new.example" in done.follow().text
    assert fresh(dbsession, User, user.id).email == "alice@new.example"
    assert client.get(path_of(link), expect_errors=True).status_int == 400  # used


def test_email_change_errors(client: AppClient, mailbox: Any, make_user: Any) -> None:
    make_user("alice")
    client.login("alice")
    assert "The password is wrong." in ask_email_change(client, "a@new.example", "nope").text
    assert "Enter a valid email address" in ask_email_change(client, "a@localhost").text
    assert "already your address" in ask_email_change(client, "ALICE@example.org").text
    assert client.post("/account/email", {"email": "a@new.example", "password": PASSWORD},
                       expect_errors=True).status_int == 400
    assert mailbox.messages() == []


def test_email_link_needs_the_same_login(app: Any, client: AppClient, mailbox: Any,
                                         make_user: Any, dbsession: Any) -> None:
    alice = make_user("alice")
    make_user("bob")
    client.login("alice")
    ask_email_change(client, "alice@new.example")
    link = path_of(mailbox.link(mailbox.only("alice@new.example")))
    anonymous = AppClient(app, extra_environ={"HTTP_HOST": "example.com"})
    response = anonymous.get(link)
    assert response.status_int == 303 and "/login?came_from=" in response.location
    bob = AppClient(app, extra_environ={"HTTP_HOST": "example.com"})
    bob.login("bob")
    assert bob.get(link, expect_errors=True).status_int == 400
    # logging in from the redirect comes back to the link
    form = anonymous.get(response.location).forms[0]
    form["username"], form["password"] = "alice", PASSWORD
    back = form.submit()
    assert back.location == "http://example.com" + link
    back.follow().forms["confirm-form"].submit()
    assert fresh(dbsession, User, alice.id).email == "alice@new.example"


# ---- language ---------------------------------------------------------------------------------

@pytest.fixture
def german_app(settings: dict[str, str], session_factory: Any, tmp_path: Path) -> Any:
    """The app with a tiny German catalog: enough to see which language pages and mails use."""
    catalog = Catalog(locale="de", domain="nsupdate_pyramid")
    catalog.add("Account", "Konto")
    catalog.add("Reset your password", "Passwort zurücksetzen")
    catalog.add("Hello %(name)s,", "Hallo %(name)s,")
    target = tmp_path / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "nsupdate_pyramid.mo").open("wb") as fileobj:
        write_mo(fileobj, catalog)
    app = main({}, **{**settings, "nsupdate.languages": "en de"})
    app.registry["dbsession_factory"] = session_factory
    app.registry.getUtility(ITranslationDirectories).insert(0, str(tmp_path))
    return app


def test_language_choice_is_used_for_pages_and_mails(german_app: Any, mailbox: Any,
                                                     make_user: Any, dbsession: Any) -> None:
    mailbox.attach(german_app)
    user = make_user("alice")
    browser = AppClient(german_app, extra_environ={"HTTP_HOST": "example.com",
                                                   "HTTP_ACCEPT_LANGUAGE": "en"})
    browser.login("alice")
    assert "<h1>Account</h1>" in browser.get("/account/").text
    form = browser.get("/account/").forms["language-form"]
    assert ("de", False, "Deutsch") in [(v, s, t) for v, s, t in form["language"].options]
    form["language"] = "de"
    form.submit()
    assert fresh(dbsession, User, user.id).language == "de"
    assert "<h1>Konto</h1>" in browser.get("/account/").text
    assert 'lang="de"' in browser.get("/account/").text
    browser.logout()
    # A browser asking for English still gets the user's German mail.
    form = browser.get("/password-reset").forms[0]
    form["email"] = "alice@example.org"
    form.submit()
    message = mailbox.only("alice@example.org")
    assert "Passwort zurücksetzen" in message["Subject"]
    assert "Hallo alice," in mailbox.parts(message)[0]
    bad = browser.post("/account/language", {"language": "xx"}, expect_errors=True)
    assert bad.status_int in (303, 400)


def test_unknown_language_is_refused(client: AppClient, make_user: Any, dbsession: Any) -> None:
    user = make_user("alice")
    client.login("alice")
    response = client.post("/account/language", {"language": "xx", "csrf_token": client.csrf_token()})
    assert "Unknown language." in response.follow().text
    assert fresh(dbsession, User, user.id).language == ""


# ---- deletion ---------------------------------------------------------------------------------

def delete_account(client: AppClient, password: str = PASSWORD, confirm: bool = True) -> Any:
    form = client.get("/account/delete").forms["delete-form"]
    form["password"] = password
    form["confirm"] = confirm
    return form.submit()


def test_delete_account_removes_hosts_records_and_lonely_domains(
        app: Any, client: AppClient, make_user: Any, make_domain: Any, make_host: Any,
        dbsession: Any) -> None:
    alice = make_user("alice")
    bob = make_user("bob")
    admin = make_user("root", admin=True)
    lonely = make_domain("lonely.example", alice)
    shared = make_domain("shared.example", alice, public=True)
    make_domain("bobs.example", bob, public=True)
    make_host("home.lonely.example", alice)
    office, _ = make_host("office.shared.example", alice)
    elsewhere, _ = make_host("away.bobs.example", alice)
    bobs_host, _ = make_host("bob.shared.example", bob)
    alice_id, admin_id, bob_id = alice.id, admin.id, bob.id
    lonely_id, shared_id = lonely.id, shared.id
    backend = app.registry["nsupdate.dns_backends"]["memory"]
    for host, zone in ((office, "shared.example"), (elsewhere, "bobs.example"),
                       (bobs_host, "shared.example")):
        backend.update(ZoneInfo(zone), host.name, "A", ["192.0.2.1"], 60)
    client.login("alice")
    page = client.get("/account/delete")
    assert "home.lonely.example" in page.text and "shared.example" in page.text

    response = delete_account(client)
    assert response.status_int == 303 and response.location == "http://example.com/"
    report = response.follow().text
    assert "The account alice is deleted." in report
    assert "Deleted hosts: away.bobs.example, home.lonely.example, office.shared.example." in report
    assert "Deleted domains: lonely.example." in report
    assert "The domain shared.example was kept because other users have hosts in it; " \
           "it now belongs to root." in report
    assert "Removed the DNS records of 3 names." in report
    dbsession.expire_all()
    assert dbsession.get(User, alice_id) is None
    assert dbsession.scalars(select(Host.fqdn).order_by(Host.fqdn)).all() == ["bob.shared.example"]
    assert {d.name: d.owner_id for d in dbsession.scalars(select(Domain))} == {
        "shared.example": admin_id, "bobs.example": bob_id}
    assert backend.query(ZoneInfo("shared.example"), "office", "A") == []
    assert backend.query(ZoneInfo("bobs.example"), "away", "A") == []
    assert backend.query(ZoneInfo("shared.example"), "bob", "A") == ["192.0.2.1"]
    assert client.get("/hosts/").status_int == 303  # logged out
    assert "Wrong user name or password" in client.login("alice").text
    assert dbsession.get(Domain, lonely_id) is None and dbsession.get(Domain, shared_id) is not None


def test_domain_goes_to_its_busiest_user_without_admins(client: AppClient, make_user: Any,
                                                       make_domain: Any, make_host: Any,
                                                       dbsession: Any) -> None:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    domain = make_domain("shared.example", alice, public=True)
    make_host("b1.shared.example", bob)
    make_host("c1.shared.example", carol)
    make_host("c2.shared.example", carol)
    client.login("alice")
    assert "it now belongs to carol" in delete_account(client).follow().text
    assert fresh(dbsession, Domain, domain.id).owner_id == carol.id
    assert bob and alice


def test_delete_account_errors(client: AppClient, make_user: Any, dbsession: Any) -> None:
    alice = make_user("alice")
    client.login("alice")
    assert "The password is wrong." in delete_account(client, "wrong").text
    assert "Tick the box to confirm." in delete_account(client, confirm=False).text
    forged = client.post("/account/delete", {"password": PASSWORD, "confirm": "y"},
                         expect_errors=True)
    assert forged.status_int == 400
    assert fresh(dbsession, User, alice.id) is not None


def test_dns_failures_are_reported(app: Any, client: AppClient, make_user: Any, make_domain: Any,
                                   make_host: Any, dbsession: Any) -> None:
    from nsupdate_pyramid.dns.errors import DNSTimeout

    alice, bob = make_user("alice"), make_user("bob")
    make_domain("bobs.example", bob, public=True)
    make_host("a.bobs.example", alice)
    make_host("b.bobs.example", alice)
    backend = app.registry["nsupdate.dns_backends"]["memory"]
    original = backend.delete

    def broken(*args: Any) -> None:
        raise DNSTimeout("the nameserver did not answer")

    backend.delete = broken
    try:
        client.login("alice")
        report = delete_account(client).follow().text
    finally:
        backend.delete = original
    assert "The DNS records of a.bobs.example could not be removed (the nameserver did not answer)" \
        in report
    assert "b.bobs.example could not be removed (skipped after an earlier error" in report
    dbsession.expire_all()
    assert dbsession.scalars(select(Host)).all() == []
