"""Remote login through velruse, end to end against a local fake of GitHub, Google and Bitbucket.

Every login here runs the whole flow: the app's login form (POST with the CSRF token) redirects
to the provider's authorize URL; ``requests`` follows it to the fake over HTTPS (the provider's
real host name, pinned to the fake, with the test CA) and gets the redirect back; the browser
(webtest) brings that to the callback, where the app exchanges the code and reads the profile
from the fake, both over verified TLS. See tests/fixtures/oauth.py for what the fake copies.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pyramid.security import NO_PERMISSION_REQUIRED
from sqlalchemy import select

from nsupdate_pyramid import main
from nsupdate_pyramid.models import RemoteLogin, User
from nsupdate_pyramid.remote import OAuth2Provider
from tests.conftest import PASSWORD, AppClient
from tests.fixtures.oauth import (
    GITHUB_SECRET,
    REMOTE_SETTINGS,
    FakeOAuth,
    Person,
    callback_target,
)
from tests.fixtures.providers import Reply

OCTOCAT = Person(583231, "octocat", "The Octocat", [("octocat@mail.example", True, True),
                                                     ("old@mail.example", False, True)])
GOOGLER = Person("108577777777777777777", "", "Gina Google", [("gina.g@gmail.example", True, True)])
BUCKETEER = Person("{d301aafa-d676-4ee0-88be-962be7417567}", "bucketeer", "Bucket Eer",
                   [("other@mail.example", False, True), ("bucket@mail.example", True, True)])
#: provider -> (person, remote id we must store, user name we must pick, address we must keep)
CASES = {
    "github": (OCTOCAT, "583231", "octocat", "octocat@mail.example"),
    "google": (GOOGLER, "108577777777777777777", "gina.g", "gina.g@gmail.example"),
    "bitbucket": (BUCKETEER, "{d301aafa-d676-4ee0-88be-962be7417567}", "bucketeer",
                  "bucket@mail.example"),
}


@pytest.fixture(scope="session")
def remote_app(settings: dict[str, str], dbengine: Any) -> Any:
    return main({}, **{**settings, **REMOTE_SETTINGS})


@pytest.fixture
def browser(remote_app: Any, session_factory: Any) -> Iterator[AppClient]:
    previous = remote_app.registry["dbsession_factory"]
    remote_app.registry["dbsession_factory"] = session_factory
    yield AppClient(remote_app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "192.0.2.7"})
    remote_app.registry["dbsession_factory"] = previous


def start(browser: AppClient, provider: str, page: str = "/login") -> Any:
    """Press the provider's button on ``page``: the app answers with a redirect to it."""
    form_id = f"remote-{provider}" if page.startswith("/login") else f"add-{provider}"
    response = browser.get(page).forms[form_id].submit()
    assert response.status_int == 302, response
    return response


def at_provider(location: str) -> str:
    """The browser at the provider: returns where the provider sends it back to."""
    answer = requests.get(location, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    back = answer.headers["Location"]
    assert back.startswith("http://example.com/login/"), back
    return back


def remote_login(browser: AppClient, provider: str, page: str = "/login", **kw: Any) -> Any:
    back = at_provider(start(browser, provider, page).location)
    return browser.get(callback_target(back), **kw)


def user_named(dbsession: Any, name: str) -> User | None:
    dbsession.expire_all()
    return dbsession.scalars(select(User).where(User.username == name)).one_or_none()


def logins(dbsession: Any, user_id: int) -> list[tuple[str, str]]:
    dbsession.expire_all()
    return sorted(tuple(row) for row in dbsession.execute(
        select(RemoteLogin.provider, RemoteLogin.provider_user_id).where(RemoteLogin.user_id == user_id)))


def logged_in_as(browser: AppClient) -> str | None:
    page = browser.get("/account/", expect_errors=True)
    if page.status_int != 200:
        return None
    return re.search(r"<dt>User name</dt><dd>([^<]*)</dd>", page.text).group(1)


# ---- first login, the protocol on the wire ----------------------------------------------------

@pytest.mark.parametrize("provider", list(CASES))
def test_first_login_creates_an_active_account(browser: AppClient, oauth_provider: FakeOAuth,
                                                dbsession: Any, provider: str) -> None:
    person, remote_id, username, email = CASES[provider]
    oauth_provider.sign_in(provider, person)
    done = remote_login(browser, provider)
    assert done.status_int == 303 and done.location == "http://example.com/hosts/"
    assert "your account is ready" in done.follow().text
    user = user_named(dbsession, username)
    assert user is not None and user.is_active and user.activated is not None
    assert user.email == email  # the provider's verified primary address
    assert user.password_hash == ""  # no password: it logs in remotely
    assert logins(dbsession, user.id) == [(provider, remote_id)]
    assert logged_in_as(browser) == username


def test_the_wire_github(browser: AppClient, oauth_provider: FakeOAuth) -> None:
    oauth_provider.sign_in("github", OCTOCAT)
    location = start(browser, "github").location
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "github.com", "/login/oauth/authorize")
    assert query["client_id"] == [REMOTE_SETTINGS["velruse.github.consumer_key"]]
    assert query["redirect_uri"] == ["http://example.com/login/github/callback"]
    assert query["scope"] == ["read:user user:email"]
    assert len(query["state"][0]) >= 40
    assert "client_secret" not in query
    browser.get(callback_target(at_provider(location)))
    token, = oauth_provider.requests("/login/oauth/access_token")
    assert token.method == "POST" and token.query == {}  # the secret travels in the body
    assert token.form["client_secret"] == [GITHUB_SECRET]
    assert "application/json" in token.headers["Accept"]
    for call in oauth_provider.requests("api.github.com"):
        assert call.headers["Authorization"].startswith("Bearer ") and call.query == {}
    assert [c.path for c in oauth_provider.requests("api.github.com")] == ["/user", "/user/emails"]


def test_the_wire_google_and_bitbucket(browser: AppClient, oauth_provider: FakeOAuth) -> None:
    oauth_provider.sign_in("google", GOOGLER)
    oauth_provider.sign_in("bitbucket", BUCKETEER)
    location = start(browser, "google").location
    query = parse_qs(urlsplit(location).query)
    assert location.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert query["response_type"] == ["code"] and query["scope"] == ["openid email profile"]
    browser.get(callback_target(at_provider(location)))
    token, = oauth_provider.requests("oauth2.googleapis.com/token")
    assert token.form["grant_type"] == ["authorization_code"]
    assert token.form["redirect_uri"] == ["http://example.com/login/google/callback"]
    userinfo, = oauth_provider.requests("/v1/userinfo")
    assert userinfo.headers["Authorization"].startswith("Bearer ")
    browser.logout()
    location = start(browser, "bitbucket").location
    assert location.startswith("https://bitbucket.org/site/oauth2/authorize?")
    browser.get(callback_target(at_provider(location)))
    token, = oauth_provider.requests("bitbucket.org/site/oauth2/access_token")
    assert token.headers["Authorization"].startswith("Basic ")  # client credentials
    assert "client_secret" not in token.form
    assert [c.path for c in oauth_provider.requests("api.bitbucket.org")] == \
        ["/2.0/user", "/2.0/user/emails"]


def test_an_unverified_address_is_not_taken(browser: AppClient, oauth_provider: FakeOAuth,
                                            dbsession: Any) -> None:
    oauth_provider.sign_in("github", Person(99, "nomail", "", [("claimed@mail.example", True, False)]))
    remote_login(browser, "github")
    user = user_named(dbsession, "nomail")
    assert user is not None and user.email == ""
    assert "none" in browser.get("/account/").text


def test_second_login_logs_into_the_same_account_with_a_new_session(
        browser: AppClient, oauth_provider: FakeOAuth, dbsession: Any) -> None:
    oauth_provider.sign_in("github", OCTOCAT)
    remote_login(browser, "github")
    browser.logout()
    before = browser.cookies.get("nsu_session")
    token_before = browser.csrf_token()
    done = remote_login(browser, "github")
    assert done.status_int == 303
    assert logged_in_as(browser) == "octocat"
    assert browser.cookies.get("nsu_session") != before
    assert browser.csrf_token() != token_before  # session fixation: nothing carries over
    assert len(list(dbsession.scalars(select(User)))) == 1
    login = dbsession.scalars(select(RemoteLogin)).one()
    assert login.last_used is not None


def test_came_from_is_followed_within_the_site(browser: AppClient, oauth_provider: FakeOAuth) -> None:
    oauth_provider.sign_in("github", OCTOCAT)
    done = remote_login(browser, "github", page="/login?came_from=/account/")
    assert done.location == "http://example.com/account/"
    browser.logout()
    done = remote_login(browser, "github", page="/login?came_from=https://evil.example/")
    assert done.location == "http://example.com/hosts/"


def test_starting_needs_the_csrf_token(browser: AppClient, oauth_provider: FakeOAuth) -> None:
    assert browser.post("/login/github", expect_errors=True).status_int == 400
    assert browser.get("/login/github", expect_errors=True).status_int == 404
    assert oauth_provider.requests() == []


# ---- user name taken: the form -----------------------------------------------------------------

def test_taken_user_name_asks_for_another(browser: AppClient, oauth_provider: FakeOAuth,
                                          make_user: Any, dbsession: Any) -> None:
    make_user("octocat")
    make_user("octo2")
    oauth_provider.sign_in("github", OCTOCAT)
    done = remote_login(browser, "github")
    assert done.status_int == 303 and done.location == "http://example.com/remote-login"
    page = done.follow()
    assert "Choose a user name" in page.text and "octocat@mail.example" in page.text
    form = page.forms["remote-username-form"]
    assert form["username"].value == "octocat"
    form["username"] = "OCTO2"
    again = form.submit()
    assert "This user name is taken" in again.text
    form = again.forms["remote-username-form"]
    form["username"] = "bad name!"
    again = form.submit()
    assert "Invalid user name" in again.text
    form = again.forms["remote-username-form"]
    form["username"] = "octo-cat"
    created = form.submit()
    assert created.status_int == 303 and logged_in_as(browser) == "octo-cat"
    user = user_named(dbsession, "octo-cat")
    assert logins(dbsession, user.id) == [("github", "583231")]
    # done: the pending identity is gone with the old session
    assert browser.get("/remote-login", expect_errors=True).status_int == 400


def test_username_form_needs_csrf_and_a_pending_login(browser: AppClient, oauth_provider: FakeOAuth,
                                                      make_user: Any, app: Any) -> None:
    assert browser.get("/remote-login", expect_errors=True).status_int == 400
    make_user("octocat")
    oauth_provider.sign_in("github", OCTOCAT)
    remote_login(browser, "github")
    assert browser.post("/remote-login", {"username": "x1"}, expect_errors=True).status_int == 400


def test_closed_registration_creates_no_account(settings: dict[str, str], session_factory: Any,
                                                oauth_provider: FakeOAuth, dbsession: Any) -> None:
    closed = main({}, **{**settings, **REMOTE_SETTINGS, "nsupdate.registration_open": "false"})
    closed.registry["dbsession_factory"] = session_factory
    visitor = AppClient(closed, extra_environ={"HTTP_HOST": "example.com"})
    oauth_provider.sign_in("github", OCTOCAT)
    done = remote_login(visitor, "github")
    assert done.location == "http://example.com/login"
    assert "registration is closed" in done.follow().text
    assert user_named(dbsession, "octocat") is None


# ---- refusals and failures ---------------------------------------------------------------------

@pytest.mark.parametrize("provider", list(CASES))
def test_denied_consent_changes_nothing(browser: AppClient, oauth_provider: FakeOAuth,
                                        dbsession: Any, provider: str) -> None:
    oauth_provider.sign_in(provider, CASES[provider][0])
    oauth_provider.deny_next(provider)
    back = at_provider(start(browser, provider).location)
    assert "error=access_denied" in back
    done = browser.get(callback_target(back))
    assert done.status_int == 303 and done.location == "http://example.com/login"
    assert "cancelled or refused" in done.follow().text
    assert list(dbsession.scalars(select(User))) == []
    assert oauth_provider.requests("token") == [] and oauth_provider.requests("access_token") == []


def test_forged_missing_and_foreign_state_are_refused(browser: AppClient, oauth_provider: FakeOAuth,
                                                      remote_app: Any, dbsession: Any) -> None:
    oauth_provider.sign_in("github", OCTOCAT)
    back = at_provider(start(browser, "github").location)
    code = parse_qs(urlsplit(back).query)["code"][0]
    forged = browser.get(f"/login/github/callback?code={code}&state=forged", expect_errors=True)
    assert forged.status_int == 400 and "Login not finished" in forged.text
    # the forged try used up the state: even the right one fails now
    assert browser.get(callback_target(back), expect_errors=True).status_int == 400
    back = at_provider(start(browser, "github").location)
    code = parse_qs(urlsplit(back).query)["code"][0]
    assert browser.get(f"/login/github/callback?code={code}", expect_errors=True).status_int == 400
    # another browser (no session, or its own) cannot use this browser's callback
    back = at_provider(start(browser, "github").location)
    other = AppClient(remote_app, extra_environ={"HTTP_HOST": "example.com"})
    assert other.get(callback_target(back), expect_errors=True).status_int == 400
    start(other, "github")
    assert other.get(callback_target(back), expect_errors=True).status_int == 400
    # a state made for GitHub does not finish a Google login
    back = at_provider(start(browser, "github").location)
    assert browser.get(callback_target(back).replace("/login/github/", "/login/google/"),
                       expect_errors=True).status_int == 400
    assert list(dbsession.scalars(select(User))) == []
    assert oauth_provider.requests("access_token") == []  # no code was ever exchanged


def test_a_replayed_callback_is_refused(browser: AppClient, oauth_provider: FakeOAuth,
                                        dbsession: Any) -> None:
    oauth_provider.sign_in("github", OCTOCAT)
    back = at_provider(start(browser, "github").location)
    assert browser.get(callback_target(back)).status_int == 303
    replay = browser.get(callback_target(back), expect_errors=True)
    assert replay.status_int == 400
    browser.logout()
    assert browser.get(callback_target(back), expect_errors=True).status_int == 400
    assert len(oauth_provider.requests("access_token")) == 1


def test_a_database_conflict_retry_does_not_spend_the_code_twice(
        settings: dict[str, str], session_factory: Any, oauth_provider: FakeOAuth, dbsession: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """pyramid_retry runs the callback again after a retryable database error (SQLite's lock,
    a PostgreSQL serialization failure); the single-use code must not be exchanged again."""
    from pyramid_retry import mark_error_retryable

    from nsupdate_pyramid.services import remote_logins

    app = main({}, **{**settings, **REMOTE_SETTINGS, "retry.attempts": "3"})
    app.registry["dbsession_factory"] = session_factory
    real_create = remote_logins.create_account
    attempts: list[str] = []

    def conflict_once(*args: Any, **kw: Any) -> User:
        attempts.append("create")
        if len(attempts) == 1:
            error = RuntimeError("database is locked (injected)")
            mark_error_retryable(error)
            raise error
        return real_create(*args, **kw)

    monkeypatch.setattr(remote_logins, "create_account", conflict_once)
    browser = AppClient(app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "192.0.2.7"})
    oauth_provider.sign_in("github", OCTOCAT)
    done = remote_login(browser, "github")
    assert done.status_int == 303 and done.location == "http://example.com/hosts/"
    assert attempts == ["create", "create"]
    assert len(oauth_provider.requests("access_token")) == 1
    user = user_named(dbsession, "octocat")
    assert user is not None and logins(dbsession, user.id) == [("github", "583231")]
    assert logged_in_as(browser) == "octocat"


@pytest.mark.parametrize(("provider", "fragment", "reply"), [
    # GitHub: errors come as 200 with an error body
    ("github", "/login/oauth/access_token",
     Reply(200, {"error": "bad_verification_code", "error_description": "The code passed is "
                 "incorrect or expired."})),
    ("github", "api.github.com/user", Reply(500, {"message": "Server Error"})),
    ("github", "api.github.com/user", Reply(200, raw=b"<html>portal</html>", content_type="text/html")),
    ("google", "oauth2.googleapis.com/token",
     Reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})),
    # velruse's own Google provider logs in with an empty profile here; ours refuses
    ("google", "/v1/userinfo", Reply(401, {"error": "invalid_request",
                                            "error_description": "Invalid Credentials"})),
    ("google", "/v1/userinfo", Reply(200, {"name": "no sub"})),
    ("bitbucket", "bitbucket.org/site/oauth2/access_token",
     Reply(400, {"error": "invalid_grant", "error_description": "The specified code is not valid"})),
    ("bitbucket", "api.bitbucket.org/2.0/user/emails", Reply(503, raw=b"", content_type="text/plain")),
])
def test_provider_failures_give_a_502_and_no_login(browser: AppClient, oauth_provider: FakeOAuth,
                                                   dbsession: Any, provider: str, fragment: str,
                                                   reply: Reply) -> None:
    oauth_provider.sign_in(provider, CASES[provider][0])
    oauth_provider.fail_next(fragment, reply)
    done = remote_login(browser, provider, expect_errors=True)
    assert done.status_int == 502 and "Login provider not answering" in done.text
    assert list(dbsession.scalars(select(User))) == []
    assert logged_in_as(browser) is None


def test_tls_is_verified(browser: AppClient, oauth_provider: FakeOAuth,
                         monkeypatch: pytest.MonkeyPatch, dbsession: Any) -> None:
    oauth_provider.sign_in("github", OCTOCAT)
    back = at_provider(start(browser, "github").location)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # the app trusts only the system CAs now
    assert browser.get(callback_target(back), expect_errors=True).status_int == 502
    assert list(dbsession.scalars(select(User))) == []


def test_an_unreachable_provider_gives_a_502(browser: AppClient, oauth_provider: FakeOAuth,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    oauth_provider.sign_in("google", GOOGLER)
    back = at_provider(start(browser, "google").location)
    from tests.fixtures import oauth
    from tests.fixtures.net import free_port

    with oauth.pinned(monkeypatch, free_port()):  # nothing listens there
        assert browser.get(callback_target(back), expect_errors=True).status_int == 502


# ---- linking to the logged-in account, listing and removing ------------------------------------

def test_logged_in_user_adds_and_uses_a_remote_login(browser: AppClient, oauth_provider: FakeOAuth,
                                                     make_user: Any, dbsession: Any) -> None:
    alice = make_user("alice")
    browser.login("alice")
    oauth_provider.sign_in("github", OCTOCAT)
    done = remote_login(browser, "github", page="/account/")
    assert done.location == "http://example.com/account/"
    page = done.follow()
    assert "You can now log in with your GitHub login octocat" in page.text
    assert "GitHub</strong>" in page.text and "octocat" in page.text
    assert logins(dbsession, alice.id) == [("github", "583231")]
    assert user_named(dbsession, "octocat") is None  # linked, no new account
    browser.logout()
    remote_login(browser, "github")
    assert logged_in_as(browser) == "alice"


def test_a_remote_login_of_another_account_is_not_moved(browser: AppClient, remote_app: Any,
                                                        oauth_provider: FakeOAuth, make_user: Any,
                                                        dbsession: Any) -> None:
    make_user("alice")
    oauth_provider.sign_in("github", OCTOCAT)
    other = AppClient(remote_app, extra_environ={"HTTP_HOST": "example.com"})
    remote_login(other, "github")  # octocat's own account
    octocat = user_named(dbsession, "octocat")
    browser.login("alice")
    done = remote_login(browser, "github", page="/account/")
    assert "belongs to another account" in done.follow().text
    assert logins(dbsession, octocat.id) == [("github", "583231")]


def test_logging_out_at_the_provider_round_trip_does_not_link(
        browser: AppClient, oauth_provider: FakeOAuth, make_user: Any, dbsession: Any) -> None:
    """A link started by alice is not finished for whoever is logged in when it comes back."""
    alice = make_user("alice")
    browser.login("alice")
    oauth_provider.sign_in("github", OCTOCAT)
    back = at_provider(start(browser, "github", page="/account/").location)
    for cookie in list(browser.cookiejar):  # the login ended meanwhile; the session did not
        if cookie.name == "nsu_auth":
            browser.cookiejar.clear(cookie.domain, cookie.path, cookie.name)
    done = browser.get(callback_target(back))
    assert done.location == "http://example.com/login"
    assert logins(dbsession, alice.id) == []
    assert user_named(dbsession, "octocat") is None


def remove(browser: AppClient, login_id: int, **kw: Any) -> Any:
    form = browser.get("/account/").forms[f"remove-{login_id}"]
    return form.submit(**kw)


def test_removal_rules(browser: AppClient, oauth_provider: FakeOAuth, make_user: Any,
                       dbsession: Any) -> None:
    oauth_provider.sign_in("github", OCTOCAT)
    oauth_provider.sign_in("google", GOOGLER)
    remote_login(browser, "github")  # a password-less account
    octocat = user_named(dbsession, "octocat")
    only = dbsession.scalars(select(RemoteLogin)).one()
    page = browser.get("/account/")
    assert f"remove-{only.id}" in page.forms and "only way to log in" in page.text
    # the button is hidden; a crafted POST is refused too
    refused = browser.post("/account/remote-logins", {"remove": str(only.id),
                                                      "csrf_token": browser.csrf_token()})
    assert "This is the only way to log in" in refused.follow().text
    assert logins(dbsession, octocat.id) == [("github", "583231")]
    remote_login(browser, "google", page="/account/")
    assert len(logins(dbsession, octocat.id)) == 2
    assert browser.post("/account/remote-logins", {"remove": str(only.id)},
                        expect_errors=True).status_int == 400  # CSRF
    done = remove(browser, only.id)
    assert "The GitHub login octocat is removed" in done.follow().text
    assert logins(dbsession, octocat.id) == [("google", "108577777777777777777")]
    # someone else's login, or none, is "no such remote login"
    alice = make_user("alice")
    dbsession.add(RemoteLogin(user_id=alice.id, provider="github", provider_user_id="1"))
    dbsession.commit()
    alices = dbsession.scalars(select(RemoteLogin).where(RemoteLogin.user_id == alice.id)).one()
    for bad in (str(alices.id), "abc"):
        answer = browser.post("/account/remote-logins", {"remove": bad,
                                                         "csrf_token": browser.csrf_token()})
        assert "No such remote login" in answer.follow().text
    assert logins(dbsession, alice.id) == [("github", "1")]


def test_with_a_password_the_last_remote_login_can_go(browser: AppClient, oauth_provider: FakeOAuth,
                                                      make_user: Any, dbsession: Any) -> None:
    alice = make_user("alice")
    browser.login("alice")
    oauth_provider.sign_in("bitbucket", BUCKETEER)
    remote_login(browser, "bitbucket", page="/account/")
    login = dbsession.scalars(select(RemoteLogin)).one()
    remove(browser, login.id)
    assert logins(dbsession, alice.id) == []
    browser.logout()
    done = remote_login(browser, "bitbucket")  # now a stranger: a new account
    assert logged_in_as(browser) == "bucketeer" and done.status_int == 303


# ---- accounts without a password ----------------------------------------------------------------

def test_remote_only_account_deletes_itself_by_typing_its_name(
        browser: AppClient, oauth_provider: FakeOAuth, dbsession: Any) -> None:
    oauth_provider.sign_in("github", OCTOCAT)
    remote_login(browser, "github")
    page = browser.get("/account/delete")
    assert "type your user name" in page.text
    form = page.forms["delete-form"]
    form["username"] = "someone"
    form["confirm"] = True
    assert "Type your user name exactly" in form.submit().text
    form = browser.get("/account/delete").forms["delete-form"]
    form["username"] = "OctoCat"
    form["confirm"] = True
    done = form.submit()
    assert done.status_int == 303 and "The account octocat is deleted" in done.follow().text
    assert user_named(dbsession, "octocat") is None
    assert list(dbsession.scalars(select(RemoteLogin))) == []


def test_remote_only_account_sets_a_password_and_an_address(
        browser: AppClient, oauth_provider: FakeOAuth, dbsession: Any, remote_app: Any,
        mailbox: Any) -> None:
    mailbox.attach(remote_app)
    oauth_provider.sign_in("github", Person(7, "quiet", "", []))
    remote_login(browser, "github")
    form = browser.get("/account/email").forms["email-form"]
    assert "password" not in form.fields  # no password to ask for: the login is the proof
    form["email"] = "quiet@mail.example"
    assert form.submit().status_int == 303
    assert "/account/confirm-email/" in mailbox.link(mailbox.only("quiet@mail.example"))
    form = browser.get("/account/password").forms["password-form"]
    assert "current_password" not in form.fields
    form["new_password"] = form["new_password_again"] = PASSWORD
    assert form.submit().status_int == 303
    assert "current_password" in browser.get("/account/password").forms["password-form"].fields
    browser.logout()
    assert browser.login("quiet").status_int == 303  # the password works now
    assert logged_in_as(browser) == "quiet"


# ---- wiring ----------------------------------------------------------------------------------------

def test_every_remote_view_declares_a_permission(remote_app: Any) -> None:
    names = []
    for entry in remote_app.registry.introspector.get_category("views"):
        view = entry["introspectable"]
        if view["route_name"] and view["route_name"].startswith("velruse."):
            permissions = [r["value"] for r in entry["related"] if r.category_name == "permissions"]
            assert permissions and permissions[0] not in (None, NO_PERMISSION_REQUIRED), view.title
            names.append(view["route_name"])
    assert sorted(names) == ["velruse.bitbucket-login", "velruse.github-login", "velruse.google-login"]
    providers = remote_app.registry.velruse_providers
    assert sorted(providers) == ["bitbucket", "github", "google"]
    assert all(isinstance(p, OAuth2Provider) for p in providers.values())


def test_buttons_only_for_configured_providers(client: AppClient, browser: AppClient) -> None:
    page = client.get("/login")
    assert "remote-github" not in page.forms
    assert "form-action 'self';" in page.headers["Content-Security-Policy"]
    page = browser.get("/login")
    assert {"remote-github", "remote-google", "remote-bitbucket"} <= set(page.forms)
    # the buttons' POST is redirected to the provider: the CSP lets exactly those through
    assert "form-action 'self' https://accounts.google.com https://bitbucket.org https://github.com;" \
        in page.headers["Content-Security-Policy"]


def test_provider_settings_are_checked() -> None:
    from nsupdate_pyramid.settings import SettingsError, parse_settings

    base = {"session.secret": "s" * 40,
            "dns.backends": "memory = nsupdate_pyramid.dns.memory:MemoryBackend"}
    assert parse_settings(base).remote_providers() == ()
    assert parse_settings({**base, **REMOTE_SETTINGS}).remote_providers() == \
        ("github", "google", "bitbucket")
    with pytest.raises(SettingsError, match=r"set both velruse\.google\.consumer_key"):
        parse_settings({**base, "velruse.google.consumer_key": "id-only"})
    with pytest.raises(SettingsError, match=r"unknown setting velruse\.github\.secret"):
        parse_settings({**base, "velruse.github.secret": "typo"})
    with pytest.raises(SettingsError, match=r"bad setting velruse\.github\.api_url"):
        parse_settings({**base, "velruse.github.api_url": "api.github.com"})
