"""The JavaScript pages in a real browser (Playwright + Debian's Chromium, headless) against the
app served by waitress on 127.0.0.1 *and* ::1: the overview's address detection, the browser
updater doing real updates, the copy button, screenshots of every main page at desktop and phone
width, and a crawl of every internal link as a user and as an admin.

The app listens on two ports, one per address family, named in the ini as ``ipv4_host`` and
``ipv6_host`` (``www_host`` is the IPv4 one, where the pages come from): just like a service with
``ipv4.`` and ``ipv6.`` names. Screenshots go to ``$NSU_TEST_ARTIFACTS/ui-pages``.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
import waitress

from nsupdate_pyramid import main
from nsupdate_pyramid.models import get_engine, get_session_factory
from nsupdate_pyramid.services import domains as domain_service
from nsupdate_pyramid.services import hosts as host_service
from nsupdate_pyramid.services import users as user_service
from tests.conftest import BASE_SETTINGS, PASSWORD, migrate
from tests.fixtures.live_app import _close_server, wait_for_tcp
from tests.test_browser_journey import CHROMIUM, CHROMIUM_ARGS, ROOT

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

OWNER, ADMIN = "ui-owner", "ui-admin"
DOMAIN = "ui.test"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
TIMEOUT_MS = 10_000
CRAWL_LIMIT = 400
# The journey's flags, with the IPv6 loopback literal let through like 127.0.0.1.
ARGS = [arg + " , EXCLUDE ::1 , EXCLUDE [::1]" if arg.startswith("--host-resolver-rules=") else arg
        for arg in CHROMIUM_ARGS]


class DualStackApp:
    def __init__(self, tmp: Path) -> None:
        self.sockets = []
        for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, 0))
            sock.listen(64)
            self.sockets.append(sock)
        self.port4 = self.sockets[0].getsockname()[1]
        self.port6 = self.sockets[1].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port4}"
        self.settings = {**BASE_SETTINGS, "sqlalchemy.url": f"sqlite:///{tmp / 'ui.sqlite'}",
                         "nsupdate.www_host": f"127.0.0.1:{self.port4}",
                         "nsupdate.ipv4_host": f"127.0.0.1:{self.port4}",
                         "nsupdate.ipv6_host": f"[::1]:{self.port6}"}
        self.engine = get_engine(self.settings)
        migrate(self.engine)
        self.session = get_session_factory(self.engine)
        self.app: Any = main({}, **self.settings)
        self.servers = [waitress.create_server(self.app, sockets=[sock], threads=4)
                        for sock in self.sockets]
        self.threads = [threading.Thread(target=server.run, daemon=True) for server in self.servers]
        for thread in self.threads:
            thread.start()
        wait_for_tcp("127.0.0.1", self.port4)

    def stop(self) -> None:
        for server, thread in zip(self.servers, self.threads, strict=True):
            server.trigger.pull_trigger(lambda server=server: _close_server(server))
            thread.join(timeout=5)
            server.task_dispatcher.shutdown()
        self.engine.dispose()
        self.app.registry["dbsession_factory"].kw["bind"].dispose()

    def host(self, fqdn: str) -> Any:
        with self.session() as session:
            return host_service.get_host_by_fqdn(session, fqdn)


@pytest.fixture(scope="module")
def ui_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DualStackApp]:
    live = DualStackApp(tmp_path_factory.mktemp("ui"))
    with live.session() as session:
        owner = user_service.create_user(session, OWNER, "owner@example.org", PASSWORD)
        user_service.create_user(session, ADMIN, "admin@example.org", PASSWORD, is_admin=True)
        domain_service.create_domain(session, DOMAIN, owner, backend="memory", public=True)
        for label in ("web", "blocked", "copy", "nochange"):
            host_service.create_host(session, f"{label}.{DOMAIN}", owner)
        host_service.get_host_by_fqdn(session, f"blocked.{DOMAIN}").available = False
        nochange = host_service.get_host_by_fqdn(session, f"nochange.{DOMAIN}")
        nochange.published_ipv4, nochange.published_ipv6 = "127.0.0.1", "::1"
        session.commit()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("NSU_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "ui-pages"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"no Chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def new_page(browser: Any, app: DualStackApp, username: str | None, **context_args: Any) -> Any:
    """A page in a fresh context, logged in as ``username``. ``page.errors`` collects script
    errors, console errors (CSP violations among them) and failed requests (but the favicon)."""
    context = browser.new_context(locale="en-US", **context_args)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda message: message.type == "error"
            and not message.text.startswith("Failed to load resource")
            and page.errors.append(message.text))
    page.on("response", lambda response: response.status >= 400
            and not response.url.endswith("/favicon.ico")
            and page.errors.append(f"{response.status} {response.url}"))
    page.on("requestfailed", lambda request: page.errors.append(
        f"failed: {request.url} {request.failure}"))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    if username:
        page.goto(f"{app.url}/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("main form button[type=submit]:has-text('Log in')")
        expect(page.locator("header")).to_contain_text("Log out")
    return page


@pytest.fixture
def owner_page(browser: Any, ui_app: DualStackApp) -> Iterator[Any]:
    page = new_page(browser, ui_app, OWNER)
    yield page
    page.context.close()


def test_overview_detects_ipv4_and_ipv6(owner_page: Any, ui_app: DualStackApp) -> None:
    page = owner_page
    page.goto(f"{ui_app.url}/")
    expect(page.locator("#addresses")).to_have_attribute("data-state", "done")
    expect(page.locator("#ipv4-address")).to_have_text("127.0.0.1")
    expect(page.locator("#ipv6-address")).to_have_text("::1")  # only JavaScript can know this
    expect(page.locator("#overview-hosts")).to_contain_text(f"web.{DOMAIN}")
    assert page.errors == []


def test_overview_without_javascript_shows_the_connection_address(browser: Any,
                                                                   ui_app: DualStackApp) -> None:
    page = new_page(browser, ui_app, None, java_script_enabled=False)
    page.goto(f"{ui_app.url}/")
    expect(page.locator("#ipv4-address")).to_have_text("127.0.0.1")
    expect(page.locator("#ipv6-address")).to_have_text("\u2013")
    page.context.close()


def test_browser_updater_publishes_changes_only(owner_page: Any, ui_app: DualStackApp) -> None:
    page, fqdn = owner_page, f"web.{DOMAIN}"
    page.goto(f"{ui_app.url}/hosts/{fqdn}/browser-updater")
    expect(page.locator("#updater")).to_have_attribute("data-state", "running")
    expect(page.locator("#updater-log .log-success")).to_contain_text("good 127.0.0.1,::1")
    expect(page.locator("#updater-log time").first).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    host = ui_app.host(fqdn)
    assert (host.published_ipv4, host.published_ipv6) == ("127.0.0.1", "::1")
    memory = ui_app.app.registry["nsupdate.dns_backends"]["memory"]
    assert memory.records[(DOMAIN, "web", "A")] == ["127.0.0.1"]
    assert memory.records[(DOMAIN, "web", "AAAA")] == ["::1"]
    # a shorter interval (below the page's minimum, for the test): the next checks send nothing
    page.evaluate("""() => { const input = document.getElementById('updater-interval');
                             input.min = '1'; input.value = '1';
                             input.dispatchEvent(new Event('change')); }""")
    expect(page.locator("#updater-log li", has_text="No change")).to_have_count(2, timeout=8000)
    assert ui_app.host(fqdn).client_faults == 0  # no update without a change
    page.click("#updater-toggle")
    expect(page.locator("#updater")).to_have_attribute("data-state", "idle")
    assert page.errors == []


def test_browser_updater_sends_nothing_when_nothing_changed(owner_page: Any,
                                                           ui_app: DualStackApp) -> None:
    page = owner_page
    page.goto(f"{ui_app.url}/hosts/nochange.{DOMAIN}/browser-updater")
    expect(page.locator("#updater-log")).to_contain_text("No change (127.0.0.1, ::1)")
    host = ui_app.host(f"nochange.{DOMAIN}")
    assert host.client_faults == 0 and host.last_update_ipv4 is None


def test_browser_updater_stops_on_a_final_answer(owner_page: Any, ui_app: DualStackApp) -> None:
    page = owner_page
    page.goto(f"{ui_app.url}/hosts/blocked.{DOMAIN}/browser-updater")
    expect(page.locator("#updater")).to_have_attribute("data-state", "stopped")
    expect(page.locator("#updater-log .log-error")).to_contain_text("nohost")
    expect(page.locator("#updater-toggle")).to_have_text("Start")
    assert ui_app.host(f"blocked.{DOMAIN}").published_ipv4 == ""


def test_copy_button_copies_the_fresh_secret(browser: Any, ui_app: DualStackApp) -> None:
    page = new_page(browser, ui_app, OWNER, permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"{ui_app.url}/hosts/copy.{DOMAIN}/")
    page.click("#secret-form button[type=submit]")
    secret = page.locator("#secret").inner_text().strip()
    assert len(secret) >= 16
    page.click("#copy-secret")
    expect(page.locator("#secret-copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    assert page.errors == []
    page.context.close()


PAGES = [  # (name, path, logged in as)
    ("home", "/", None), ("login", "/login", None), ("register", "/register", None),
    ("overview", "/", OWNER), ("hosts", "/hosts/", OWNER), ("host-add", "/hosts/add", OWNER),
    ("host", f"/hosts/web.{DOMAIN}/", OWNER), ("host-config", f"/hosts/web.{DOMAIN}/config", OWNER),
    ("host-edit", f"/hosts/web.{DOMAIN}/edit", OWNER),
    ("browser-updater", f"/hosts/blocked.{DOMAIN}/browser-updater", OWNER),
    ("related", f"/hosts/web.{DOMAIN}/related/", OWNER),
    ("services", f"/hosts/web.{DOMAIN}/services/", OWNER),
    ("domains", "/domains/", OWNER), ("domain", f"/domains/{DOMAIN}/", OWNER),
    ("domain-add", "/domains/add", OWNER), ("account", "/account/", OWNER),
    ("admin", "/admin/", ADMIN),
]


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_screenshots_of_every_main_page(browser: Any, ui_app: DualStackApp, artifacts: Path,
                                        width: str) -> None:
    w, h = WIDTHS[width]
    pages = {user: new_page(browser, ui_app, user, viewport={"width": w, "height": h})
             for user in {user for _name, _path, user in PAGES}}
    try:
        for number, (name, path, user) in enumerate(PAGES, 1):
            page = pages[user]
            response = page.goto(f"{ui_app.url}{path}")
            assert response.status == 200, (path, response.status)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(artifacts / f"{width}-{number:02d}-{name}.png"), full_page=True)
            if width == "phone":  # nothing wider than the phone: tables and snippets scroll
                overflow = page.evaluate("() => document.documentElement.scrollWidth")
                assert overflow <= w + 1, (path, overflow)
        for user, page in pages.items():
            assert page.errors == [], (user, page.errors)
    finally:
        for page in pages.values():
            page.context.close()
    assert len(list(artifacts.glob(f"{width}-*.png"))) == len(PAGES)


def crawl(page: Any, base: str, start: list[str]) -> dict[str, int]:
    """Every same-site URL linked from the pages reachable from ``start``: URL -> status."""
    seen: dict[str, int] = {}
    queue = [urljoin(base, path) for path in start]
    origin = urlsplit(base).netloc
    while queue and len(seen) < CRAWL_LIMIT:
        url = queue.pop(0)
        if url in seen:
            continue
        response = page.context.request.get(url, max_redirects=5, timeout=TIMEOUT_MS)
        seen[url] = response.status
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        for href in re.findall(r'(?:href|src)="([^"]+)"', response.text()):
            target, _fragment = urldefrag(urljoin(url, href.replace("&amp;", "&")))
            if urlsplit(target).netloc == origin and target not in seen:
                queue.append(target)
    return seen


@pytest.mark.parametrize(("user", "start"), [(OWNER, ["/"]), (ADMIN, ["/", "/admin/"])])
def test_crawl_has_no_broken_links(browser: Any, ui_app: DualStackApp, user: str,
                                   start: list[str]) -> None:
    page = new_page(browser, ui_app, user)
    try:
        seen = crawl(page, ui_app.url, start)
    finally:
        page.context.close()
    broken = {url: status for url, status in seen.items() if status >= 400}
    assert broken == {}
    assert len(seen) > 10 and any("/hosts/" in url for url in seen)
    if user == ADMIN:
        assert sum("/admin/" in url for url in seen) > 3
