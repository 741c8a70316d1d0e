"""How long a login lasts: the browser session (and at most session_max_age without a visit), or
with "keep me logged in" a cookie that outlives the browser for remember_max_age; and the notice
to the old address when the email address changes."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from pyramid.interfaces import ISecurityPolicy

from nsupdate_pyramid.security.policy import AUTH_COOKIE
from tests.conftest import AppClient

SESSION_MAX_AGE = 36000  # the defaults
REMEMBER_MAX_AGE = 30 * 86400


@pytest.fixture
def clock(app: Any) -> Iterator[list[float]]:
    """Move the policy's clock: ``clock[0]`` seconds are added to the real time."""
    policy = app.registry.getUtility(ISecurityPolicy)
    offset = [0.0]
    real = policy.now
    policy.now = lambda: real() + offset[0]
    yield offset
    policy.now = real


def auth_cookie_header(response: Any) -> str:
    headers = [value for name, value in response.headerlist
               if name == "Set-Cookie" and value.startswith(AUTH_COOKIE + "=")]
    assert headers, response.headerlist
    return headers[0]


def is_logged_in(client: AppClient) -> bool:
    return client.get("/account/", expect_errors=True).status_int == 200


def test_a_normal_login_is_a_browser_session_cookie(client: AppClient, make_user: Any) -> None:
    make_user("alice")
    header = auth_cookie_header(client.login("alice"))
    assert "Max-Age" not in header and "expires" not in header.lower()
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_keep_me_logged_in_is_a_lasting_cookie(client: AppClient, make_user: Any) -> None:
    make_user("alice")
    header = auth_cookie_header(client.login("alice", remember="1"))
    assert f"Max-Age={REMEMBER_MAX_AGE}" in header
    assert "expires=" in header.lower()


def test_a_normal_login_ends_after_session_max_age(client: AppClient, make_user: Any,
                                                   clock: list[float]) -> None:
    make_user("alice")
    client.login("alice")
    clock[0] = SESSION_MAX_AGE - 60
    assert is_logged_in(client)
    clock[0] = SESSION_MAX_AGE + 60
    assert not is_logged_in(client)


def test_a_visit_renews_the_login_of_the_same_kind(client: AppClient, make_user: Any,
                                                   clock: list[float], app: Any) -> None:
    make_user("alice")
    client.login("alice")
    clock[0] = SESSION_MAX_AGE // 10 + 60  # old enough to be renewed
    header = auth_cookie_header(client.get("/account/"))
    assert "Max-Age" not in header  # still a browser-session cookie
    persistent = AppClient(app, extra_environ={"HTTP_HOST": "example.com"})
    clock[0] = 0
    persistent.login("alice", remember="1")
    clock[0] = REMEMBER_MAX_AGE // 10 + 60
    header = auth_cookie_header(persistent.get("/account/"))
    assert f"Max-Age={REMEMBER_MAX_AGE}" in header  # keeps outliving the browser


def test_keep_me_logged_in_lasts_remember_max_age(client: AppClient, make_user: Any,
                                                  clock: list[float]) -> None:
    make_user("alice")
    client.login("alice", remember="1")
    clock[0] = SESSION_MAX_AGE * 3  # far past an ordinary login
    assert is_logged_in(client)
    clock[0] = REMEMBER_MAX_AGE + 60
    assert not is_logged_in(client)


def test_renewal_does_not_undo_a_logout(client: AppClient, make_user: Any, clock: list[float]) -> None:
    make_user("alice")
    client.login("alice")
    clock[0] = SESSION_MAX_AGE // 10 + 60
    response = client.logout()
    cookies = [v for n, v in response.headerlist if n == "Set-Cookie" and v.startswith(AUTH_COOKIE)]
    assert cookies and all("Max-Age=0" in v for v in cookies)
    assert not is_logged_in(client)


def test_the_setting_is_read(settings: dict[str, str], session_factory: Any, make_user: Any) -> None:
    from nsupdate_pyramid import main

    short = main({}, **{**settings, "nsupdate.remember_max_age": "3600"})
    short.registry["dbsession_factory"] = session_factory
    browser = AppClient(short, extra_environ={"HTTP_HOST": "example.com"})
    make_user("alice")
    assert "Max-Age=3600" in auth_cookie_header(browser.login("alice", remember="1"))


# ---- the old address hears about an email change ------------------------------------------------

def test_the_old_address_is_told_of_the_change(client: AppClient, mailbox: Any,
                                               make_user: Any) -> None:
    make_user("alice")
    client.login("alice")
    form = client.get("/account/email").forms["email-form"]
    form["email"] = "alice@new.example"
    form["password"] = "correct horse battery staple"
    form.submit()
    link = urlsplit(mailbox.link(mailbox.only("alice@new.example"))).path
    assert [m["To"] for m in mailbox.messages()] == ["alice@new.example"]  # nothing yet
    client.get(link).forms["confirm-form"].submit()
    notice = mailbox.only("alice@example.org")
    assert "Your email address was changed" in notice["Subject"]
    text, html = mailbox.parts(notice)
    assert "alice@new.example" in text and "alice@new.example" in html
    assert "/password-reset" in text
    assert len(mailbox.messages(expected=2)) == 2
