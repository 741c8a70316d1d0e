"""Passwords: change, reset by mail (single-use expiring links), the well-known URL, hashing, and
login answers that take as long for unknown accounts as for known ones."""
from __future__ import annotations

import statistics
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from nsupdate_pyramid.models import User
from nsupdate_pyramid.security import passwords
from tests.conftest import PASSWORD, AppClient

NEW_PASSWORD = "a much better passphrase"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.netloc == "example.com", url
    return parts.path


def fresh(dbsession: Any, user: User) -> User:
    dbsession.expire_all()
    return dbsession.get(User, user.id)


def ask_for_reset(client: AppClient, email: str) -> Any:
    form = client.get("/password-reset").forms[0]
    form["email"] = email
    return form.submit()


def set_new_password(page: Any, password: str = NEW_PASSWORD, again: str | None = None) -> Any:
    form = page.forms[0]
    form["new_password"] = password
    form["new_password_again"] = password if again is None else again
    return form.submit()


# ---- change ---------------------------------------------------------------------------------

def change(client: AppClient, current: str, new: str, again: str | None = None) -> Any:
    form = client.get("/account/password").forms["password-form"]
    form["current_password"] = current
    form["new_password"] = new
    form["new_password_again"] = new if again is None else again
    return form.submit()


def test_change_password_keeps_this_login_and_ends_the_others(app: Any, client: AppClient,
                                                              make_user: Any, dbsession: Any) -> None:
    user = make_user("alice")
    other_browser = AppClient(app, extra_environ={"HTTP_HOST": "example.com"})
    other_browser.login("alice")
    client.login("alice")
    response = change(client, PASSWORD, NEW_PASSWORD)
    assert response.status_int == 303 and response.location == "http://example.com/account/"
    assert "Your password was changed" in response.follow().text
    assert client.get("/hosts/").status_int == 200
    assert other_browser.get("/hosts/").status_int == 303
    assert passwords.verify_password(fresh(dbsession, user).password_hash, NEW_PASSWORD)


def test_change_password_errors(client: AppClient, make_user: Any, dbsession: Any) -> None:
    user = make_user("alice")
    before = user.password_hash
    client.login("alice")
    assert "The current password is wrong." in change(client, "not it", NEW_PASSWORD).text
    assert "The passwords differ." in change(client, PASSWORD, NEW_PASSWORD, "other").text
    assert "at least 10 characters" in change(client, PASSWORD, "short").text
    assert "too easy to guess" in change(client, PASSWORD, "alice-rules-1").text
    assert fresh(dbsession, user).password_hash == before
    forged = client.post("/account/password", {"current_password": PASSWORD,
                                               "new_password": NEW_PASSWORD,
                                               "new_password_again": NEW_PASSWORD},
                         expect_errors=True)
    assert forged.status_int == 400
    assert fresh(dbsession, user).password_hash == before


def test_change_password_needs_a_login(client: AppClient) -> None:
    response = client.get("/account/password")
    assert response.status_int == 303
    assert response.location == "http://example.com/login?came_from=%2Faccount%2Fpassword"


def test_well_known_change_password(client: AppClient) -> None:
    response = client.get("/.well-known/change-password")
    assert response.status_int == 302
    assert response.location == "http://example.com/account/password"


# ---- reset ------------------------------------------------------------------------------------

def test_reset_by_mail(client: AppClient, mailbox: Any, make_user: Any, dbsession: Any) -> None:
    user = make_user("alice")
    response = ask_for_reset(client, "ALICE@example.org")
    assert response.status_int == 303 and response.location == "http://example.com/login"
    assert "If an account uses this address" in response.follow().text
    message = mailbox.only("alice@example.org")
    assert "Reset your password" in message["Subject"]
    text, html = mailbox.parts(message)
    assert "Hello alice" in text and "Hello alice" in html
    link = mailbox.link(message)
    page = client.get(path_of(link))
    assert "For the account alice." in page.text
    assert "The passwords differ." in set_new_password(page, again="something else").text
    assert "at least 10 characters" in set_new_password(page, "short").text
    done = set_new_password(page)
    assert done.status_int == 303 and done.location == "http://example.com/login"
    assert "Your new password is set" in done.follow().text
    assert passwords.verify_password(fresh(dbsession, user).password_hash, NEW_PASSWORD)
    # single use: the link was signed over the old password hash
    again = client.get(path_of(link), expect_errors=True)
    assert again.status_int == 400 and "This link is invalid" in again.text
    assert client.login("alice", NEW_PASSWORD).status_int == 303


def test_reset_answers_the_same_for_unknown_addresses(client: AppClient, mailbox: Any,
                                                     make_user: Any) -> None:
    make_user("alice")
    pages = []
    for address in ("alice@example.org", "nobody@example.org", "not an address"):
        response = ask_for_reset(client, address)
        assert response.status_int == 303 and response.location == "http://example.com/login"
        pages.append(response.follow().text)
    assert pages[0] == pages[1] == pages[2]
    assert "If an account uses this address" in pages[0]
    assert [m["To"] for m in mailbox.messages(expected=1)] == ["alice@example.org"]


def test_reset_link_dies_when_the_password_changes_otherwise(client: AppClient, mailbox: Any,
                                                            make_user: Any, dbsession: Any) -> None:
    user = make_user("alice")
    ask_for_reset(client, "alice@example.org")
    link = mailbox.link(mailbox.only("alice@example.org"))
    user.password_hash = passwords.hash_password("changed elsewhere 123")
    dbsession.commit()
    assert client.get(path_of(link), expect_errors=True).status_int == 400


def test_reset_links_expire_and_are_bound_to_their_purpose(client: AppClient, app: Any,
                                                          make_user: Any) -> None:
    user = make_user("alice")
    signer = app.registry["nsupdate.tokens"]
    expired = signer.make("reset", user.id, 60, user.password_hash, now=0)
    wrong_purpose = signer.make("activate", user.id, 3600, user.password_hash)
    forged = signer.make("reset", user.id, 3600, "another hash")
    for token in (expired, wrong_purpose, forged, "garbage", "x.y"):
        assert client.get(f"/password-reset/{token}", expect_errors=True).status_int == 400
    good = signer.make("reset", user.id, 3600, user.password_hash)
    assert client.get(f"/password-reset/{good}").status_int == 200


def test_reset_is_refused_for_inactive_accounts(client: AppClient, mailbox: Any,
                                               make_user: Any, app: Any) -> None:
    user = make_user("sleeper", active=False)
    ask_for_reset(client, "sleeper@example.org")
    assert mailbox.messages() == []
    token = app.registry["nsupdate.tokens"].make("reset", user.id, 3600, user.password_hash)
    assert client.get(f"/password-reset/{token}", expect_errors=True).status_int == 400


def test_reset_needs_csrf(client: AppClient, mailbox: Any, make_user: Any, dbsession: Any) -> None:
    user = make_user("alice")
    assert client.post("/password-reset", {"email": "alice@example.org"},
                       expect_errors=True).status_int == 400
    token = client.app.registry["nsupdate.tokens"].make("reset", user.id, 3600, user.password_hash)
    response = client.post(f"/password-reset/{token}", {"new_password": NEW_PASSWORD,
                                                        "new_password_again": NEW_PASSWORD},
                           expect_errors=True)
    assert response.status_int == 400
    assert passwords.verify_password(fresh(dbsession, user).password_hash, PASSWORD)
    assert mailbox.messages() == []


def test_reset_lifts_a_login_lockout(client: AppClient, mailbox: Any, make_user: Any) -> None:
    make_user("alice")
    for _ in range(10):
        client.login("alice", "wrong password")
    form = client.get("/login").forms[0]
    form["username"], form["password"] = "alice", PASSWORD
    assert form.submit(expect_errors=True).status_int == 429
    ask_for_reset(client, "alice@example.org")
    set_new_password(client.get(path_of(mailbox.link(mailbox.only("alice@example.org")))))
    assert client.login("alice", NEW_PASSWORD).status_int == 303


# ---- hashes and timing ------------------------------------------------------------------------

def test_legacy_pbkdf2_hash_is_upgraded_on_login(client: AppClient, make_user: Any,
                                                 dbsession: Any) -> None:
    import base64
    import hashlib

    user = make_user("alice")
    digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), b"saltsalt", 1000)
    user.password_hash = f"pbkdf2_sha256$1000$saltsalt${base64.b64encode(digest).decode()}"
    dbsession.commit()
    assert client.login("alice", "wrong password").status_int == 200
    assert fresh(dbsession, user).password_hash.startswith("pbkdf2_sha256$")
    assert client.login("alice").status_int == 303
    assert fresh(dbsession, user).password_hash.startswith("$argon2id$")


def test_unknown_accounts_take_as_long_as_wrong_passwords(client: AppClient, make_user: Any,
                                                         dbsession: Any) -> None:
    """The answer's time must not tell which user names exist: an unknown name costs a hash check."""
    make_user("alice")
    hash_time = statistics.median(_timed(lambda: passwords.verify_password(
        fresh(dbsession, dbsession.scalars(select(User)).first()).password_hash, "x"))
        for _ in range(5))

    def attempt(name: str) -> float:
        form = client.get("/login").forms[0]
        form["username"], form["password"] = name, "wrong password"
        return _timed(form.submit)

    rounds = 8  # below the per-account limit of 10
    known = [attempt("alice") for _ in range(rounds)]
    unknown = [attempt(f"nobody{n}") for n in range(rounds)]
    difference = abs(statistics.median(known) - statistics.median(unknown))
    assert statistics.median(unknown) > 0.5 * hash_time, "unknown names skip the hash work"
    assert difference < 0.5 * hash_time, (known, unknown, hash_time)


def _timed(action: Any) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start
