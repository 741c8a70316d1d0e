"""One journey in a real browser (Playwright + Debian's Chromium, headless) against the app served
by waitress on loopback: register, activate with the link from the mail the SMTP server got, log
in, add a GitHub login at the fake provider, log out, and log in again with GitHub.

Screenshots of every step go to ``$NSU_TEST_ARTIFACTS`` (default: ``test-artifacts/`` in the
checkout, ignored by git), for CI to keep. The browser resolves nothing but loopback, and the fake
GitHub is reached the way GitHub Enterprise Server is (``velruse.github.url``/``api_url`` at
``https://localhost:PORT``); the browser accepts its test certificate, the app verifies it
against the test CA.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.fixtures.live_app import LiveApp, serve_live_app
from tests.fixtures.oauth import GITHUB_ID, GITHUB_SECRET, FakeOAuth, Person
from tests.fixtures.smtp import LINK, Inbox

sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("NSU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# From dnslab.md: no background traffic, and no name resolution but loopback.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-domain-reliability", "--no-pings", "--disable-default-apps", "--disable-extensions",
    "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter,Translate",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
]
USERNAME, EMAIL = "journey", "journey@mail.example"
GITHUB_PERSON = Person(4242, "journey-gh", "Journey Tester", [("journey-gh@mail.example", True, True)])


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("NSU_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "browser-journey"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def journey_app(tmp_path: Path, smtp_server: tuple[int, Inbox], oauth_server: FakeOAuth,
                provider_ca: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApp]:
    """The live app with mail to the test SMTP server and GitHub logins at the fake."""
    port, _inbox = smtp_server
    oauth_server.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", provider_ca.ca_file)  # the app's calls to the fake
    with serve_live_app(f"sqlite:///{tmp_path / 'journey.sqlite'}", **{
            "mail.host": "127.0.0.1", "mail.port": str(port),
            "mail.default_sender": "nsupdate test <noreply@example.com>",
            "velruse.github.consumer_key": GITHUB_ID, "velruse.github.consumer_secret": GITHUB_SECRET,
            "velruse.github.url": oauth_server.url,
            "velruse.github.api_url": f"{oauth_server.url}/api/v3"}) as live:
        yield live


@pytest.fixture
def page(artifacts: Path) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        # CI installs it (.ci/run, make install-test): there a missing browser is a failure.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            f"no Chromium at {CHROMIUM} (Debian package 'chromium', or set NSU_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        context = browser.new_context(ignore_https_errors=True, locale="en-US")
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def mail_link(inbox: Inbox, to: str, fragment: str, timeout: float = 10.0) -> str:
    """The link containing ``fragment`` in the newest mail to ``to`` (waits for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(inbox.messages):
            if message["To"] == to:
                text = message.get_body(("plain",)).get_content()
                links = [url for url in LINK.findall(text) if fragment in url]
                if links:
                    return links[0]
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} with a {fragment} link")


def test_register_activate_login_add_github_logout(page: Any, journey_app: LiveApp,
                                                    oauth_server: FakeOAuth, artifacts: Path,
                                                    smtp_server: tuple[int, Inbox]) -> None:
    _port, inbox = smtp_server
    expect = sync_api.expect
    step = iter(range(1, 100))

    def shot(name: str) -> None:
        page.screenshot(path=str(artifacts / f"{next(step):02d}-{name}.png"), full_page=True)

    # register
    page.goto(f"{journey_app.url}/register")
    page.fill("#username", USERNAME)
    page.fill("#email", EMAIL)
    page.fill("#new_password", PASSWORD)
    page.fill("#new_password_again", PASSWORD)
    shot("register-form")
    page.click("button[type=submit]:has-text('Create the account')")
    expect(page).to_have_url(re.compile(r"/register/sent$"))
    shot("register-sent")

    # activate with the mailed link
    link = mail_link(inbox, EMAIL, "/register/activate/")
    assert link.startswith(journey_app.url)
    page.goto(link)
    shot("activate")
    page.click("#confirm-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".alert-success")).to_contain_text("is active")

    # log in with the password
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    shot("login")
    page.click("main form button[type=submit]:has-text('Log in')")
    expect(page).to_have_url(re.compile(r"/hosts/$"))
    shot("logged-in")

    # add a GitHub login: to the fake provider and back
    oauth_server.sign_in("github", GITHUB_PERSON)
    page.goto(f"{journey_app.url}/account/")
    page.click("#add-github button")
    expect(page.locator(".alert-success")).to_contain_text("GitHub login journey-gh")
    expect(page).to_have_url(re.compile(r"/account/$"))
    expect(page.locator("#remote-logins")).to_contain_text("journey-gh")
    shot("github-added")
    authorize = oauth_server.requests("/login/oauth/authorize")
    assert len(authorize) == 1 and authorize[0].query["state"][0]
    assert oauth_server.requests("/api/v3/user")  # the app read the profile

    # log out
    page.click("header button:has-text('Log out')")
    expect(page.locator(".alert-info")).to_contain_text("You are logged out")
    shot("logged-out")

    # and back in with GitHub alone
    page.goto(f"{journey_app.url}/login")
    page.click("#remote-github button")
    expect(page).to_have_url(re.compile(r"/hosts/$"))
    expect(page.locator(".alert-success")).to_contain_text(f"logged in as {USERNAME}")
    shot("github-login")
    assert len(list(artifacts.glob("*.png"))) == 8
