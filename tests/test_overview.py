"""The overview (the home page of a logged-in user), the manual update form, the browser updater
page and the operator's custom templates: webtest against the app (memory backend)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pyramid.exceptions import ConfigurationError
from sqlalchemy import select

from nsupdate_pyramid import main
from nsupdate_pyramid.models import Host, get_engine, utcnow
from tests.conftest import BASE_SETTINGS, AppClient, migrate


@pytest.fixture
def memory(app: Any) -> Any:
    backend = app.registry["nsupdate.dns_backends"]["memory"]
    backend.records.clear()
    return backend


@pytest.fixture
def alice(make_user: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def home(alice: Any, make_domain: Any, make_host: Any) -> Any:
    make_domain("example.org", alice)
    host, _secret = make_host("home.example.org", alice, comment="my router")
    return host


def host_row(dbsession: Any, fqdn: str) -> Host:
    dbsession.expire_all()
    return dbsession.scalars(select(Host).where(Host.fqdn == fqdn)).one()


# --- the overview ---------------------------------------------------------------------------

def test_anonymous_home_shows_both_address_slots(client: AppClient) -> None:
    page = client.get("/", extra_environ={"REMOTE_ADDR": "192.0.2.7"})
    assert '<output class="mono address" id="ipv4-address">192.0.2.7</output>' in page.text
    assert '<output class="mono address" id="ipv6-address">\u2013</output>' in page.text
    assert 'data-ipv4-url="/detectip.json"' in page.text  # no ipv4_host: same origin
    assert "/static/js/detectip.js" in page.text
    assert "Overview" not in page.text


def test_overview_lists_hosts_and_domains(client: AppClient, home: Any, dbsession: Any,
                                          make_user: Any, make_domain: Any, make_host: Any,
                                          memory: Any) -> None:
    bob = make_user("bob")
    make_domain("shared.example", bob, public=True)
    make_domain("private.example", bob)
    make_host("other.private.example", bob)
    row = host_row(dbsession, "home.example.org")
    row.published_ipv4, row.client_faults, row.server_faults = "192.0.2.1", 3, 1
    row.last_update_ipv4, row.tls_update_ipv4 = utcnow(), False
    row.abuse = True
    dbsession.commit()
    # the nameserver serves something else than we published: the overview says so
    memory.records[("example.org", "home", "A")] = ["192.0.2.99"]
    client.login("alice")
    page = client.get("/", extra_environ={"REMOTE_ADDR": "2001:db8::5"})
    text = page.text
    assert "<h1>Overview</h1>" in text
    assert '<output class="mono address" id="ipv6-address">2001:db8::5</output>' in text
    assert "home.example.org" in text and "my router" in text
    assert "192.0.2.1" in text and "nameserver: 192.0.2.99" in text
    assert "C: 3 S: 1" in text
    assert "no TLS" in text and "second" in text  # "N seconds ago"
    assert "Abuse" in text
    assert "other.private.example" not in text
    assert "shared.example" in text and "private.example" not in text.replace("other.private", "")
    assert "example.org" in page.html.select_one("#overview-domains").text


def test_overview_without_hosts(client: AppClient, alice: Any) -> None:
    client.login("alice")
    page = client.get("/")
    assert "No hosts yet." in page.text and "No public domains." in page.text


def test_overview_nameserver_queries_are_bounded(client: AppClient, home: Any, app: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    backend = app.registry["nsupdate.dns_backends"]["memory"]

    def failing(zone: Any, name: str, rdtype: str) -> list[str]:
        calls.append(name)
        raise OSError("unreachable")

    monkeypatch.setattr(backend, "query", failing)
    client.login("alice")
    page = client.get("/")
    assert "home.example.org" in page.text and "nameserver:" not in page.text
    assert calls == ["home"]  # asked once, then the domain is left alone


# --- the manual update ----------------------------------------------------------------------

def test_manual_update_publishes_through_the_update_service(client: AppClient, home: Any,
                                                            memory: Any, dbsession: Any) -> None:
    client.login("alice")
    page = client.get("/hosts/home.example.org/")
    form = page.forms["update-form"]
    form["ipv4"] = "192.0.2.44"
    form["ipv6"] = "2001:DB8:0::44"
    done = form.submit().follow()
    assert "Update result: good 192.0.2.44,2001:db8::44" in done.text
    assert memory.records[("example.org", "home", "A")] == ["192.0.2.44"]
    assert memory.records[("example.org", "home", "AAAA")] == ["2001:db8::44"]
    row = host_row(dbsession, "home.example.org")
    assert (row.published_ipv4, row.published_ipv6) == ("192.0.2.44", "2001:db8::44")
    # the same again: what the API answers, a client fault included
    form = client.get("/hosts/home.example.org/").forms["update-form"]
    form["ipv4"] = "192.0.2.44"
    assert "Update result: nochg 192.0.2.44" in form.submit().follow().text
    assert host_row(dbsession, "home.example.org").client_faults == 1


@pytest.mark.parametrize(("ipv4", "ipv6", "message"), [
    ("", "", "Enter an IPv4 address, an IPv6 address or both."),
    ("2001:db8::1", "", "Enter an IPv4 address like 192.0.2.1."),
    ("192.0.2.1", "192.0.2.2", "Enter an IPv6 address like 2001:db8::1."),
    ("01.2.3.4", "", "Enter an IPv4 address like 192.0.2.1."),
])
def test_manual_update_field_errors_keep_the_input(client: AppClient, home: Any, memory: Any,
                                                   ipv4: str, ipv6: str, message: str) -> None:
    client.login("alice")
    form = client.get("/hosts/home.example.org/").forms["update-form"]
    form["ipv4"], form["ipv6"] = ipv4, ipv6
    page = form.submit(status=400)
    assert message in page.text
    assert page.forms["update-form"]["ipv4"].value == ipv4
    assert page.forms["update-form"]["ipv6"].value == ipv6
    assert not memory.records


def test_manual_update_refused_for_unavailable_host(client: AppClient, home: Any, memory: Any,
                                                    dbsession: Any) -> None:
    host_row(dbsession, "home.example.org").available = False
    dbsession.commit()
    client.login("alice")
    form = client.get("/hosts/home.example.org/").forms["update-form"]
    form["ipv4"] = "192.0.2.3"
    page = form.submit().follow()
    assert "Update result: nohost" in page.text and "alert-error" in page.text


def test_manual_update_needs_csrf(client: AppClient, home: Any, memory: Any) -> None:
    client.login("alice")
    client.post("/hosts/home.example.org/update", {"ipv4": "192.0.2.9"}, status=400)
    assert not memory.records


def test_admin_may_update_other_peoples_hosts(client: AppClient, home: Any, memory: Any,
                                              make_user: Any) -> None:
    make_user("root", admin=True)
    client.login("root")
    form = client.get("/hosts/home.example.org/").forms["update-form"]
    form["ipv4"] = "192.0.2.8"
    assert "Update result: good 192.0.2.8" in form.submit().follow().text


# --- permissions of the new views -----------------------------------------------------------

@pytest.mark.parametrize("who", ["owner", "other", "admin", "anonymous"])
def test_permissions(client: AppClient, home: Any, make_user: Any, memory: Any, who: str) -> None:
    if who == "owner":
        client.login("alice")
    elif who != "anonymous":
        make_user(who, admin=who == "admin")
        client.login(who)
    token = client.csrf_token()
    updater = client.get("/hosts/home.example.org/browser-updater", expect_errors=True)
    update = client.post("/hosts/home.example.org/update",
                         {"ipv4": "192.0.2.5", "csrf_token": token}, expect_errors=True)
    if who == "anonymous":
        for response in (updater, update):
            assert response.status_int in (302, 303)
            assert "/login?came_from=" in response.location
    elif who == "other":
        assert updater.status_int == update.status_int == 404
        assert not memory.records
    else:
        assert updater.status_int == 200 and update.status_int == 303
        assert ('data-enabled="true"' in updater.text) == (who == "owner")
        assert ("Only the owner" in updater.text) == (who == "admin")


def test_browser_updater_page_carries_what_the_script_needs(client: AppClient, home: Any) -> None:
    client.login("alice")
    page = client.get("/hosts/home.example.org/browser-updater")
    root = page.html.select_one("#updater")
    assert root["data-update-url"].endswith("/nic/update_authorized")
    assert root["data-hostname"] == "home.example.org"
    assert root["data-csrf-token"] == client.csrf_token()
    assert "nohost" in root["data-final-answers"].split()
    assert all(value for key, value in root.attrs.items() if key.startswith("data-msg-"))
    assert "/static/js/updater.js" in page.text and "/static/js/detectip.js" in page.text
    config = client.get("/hosts/home.example.org/config")
    assert 'href="#browser"' in config.text and "browser-updater" in config.text


def test_copy_button_only_with_a_fresh_secret(client: AppClient, home: Any) -> None:
    client.login("alice")
    assert "copy-secret" not in client.get("/hosts/home.example.org/config").text
    page = client.get("/hosts/home.example.org/").forms["secret-form"].submit()
    button = page.html.select_one("#copy-secret")
    assert button["data-copy-target"] == "secret" and button.has_attr("hidden")
    assert "/static/js/copy.js" in page.text


# --- custom templates -----------------------------------------------------------------------

def custom_app(folder: Path, db_url: str) -> AppClient:
    app = main({}, **{**BASE_SETTINGS, "sqlalchemy.url": db_url,
                      "nsupdate.custom_templates": str(folder)})
    return AppClient(app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "192.0.2.7"})


@pytest.fixture
def custom_folder(tmp_path: Path) -> Path:
    (tmp_path / "pages").mkdir()
    (tmp_path / "includes").mkdir()
    (tmp_path / "pages" / "about.jinja2").write_text(
        '{% extends "base.jinja2" %}{% block content %}<h1>About this site</h1>'
        '<p>{{ service_name }}</p>{% endblock %}')
    (tmp_path / "pages" / "privacy.jinja2").write_text(
        '{% extends "base.jinja2" %}{% block content %}<p>We keep little.</p>{% endblock %}')
    (tmp_path / "includes" / "footer.jinja2").write_text(
        '<footer><a href="/about">About</a> <a href="/privacy">Privacy</a></footer>')
    (tmp_path / "login.jinja2").write_text(
        '{% extends "base.jinja2" %}{% block content %}<p>Our own login page</p>{% endblock %}')
    return tmp_path


def test_custom_pages_and_overrides(custom_folder: Path, tmp_path_factory: Any) -> None:
    db = tmp_path_factory.mktemp("custom") / "custom.sqlite"
    migrate(get_engine({"sqlalchemy.url": f"sqlite:///{db}"}))
    client = custom_app(custom_folder, f"sqlite:///{db}")
    about = client.get("/about")
    assert "About this site" in about.text and "nsupdate test" in about.text
    assert 'href="/privacy"' in about.text  # the overridden footer
    assert "We keep little." in client.get("/privacy").text
    assert "Our own login page" in client.get("/login").text  # an overridden page
    assert client.get("/nothere", status=404)
    client.post("/about", status=404)  # GET only


def test_custom_page_must_not_hide_ours(custom_folder: Path, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'unused.sqlite'}"
    (custom_folder / "pages" / "login.jinja2").write_text("x")
    with pytest.raises(ConfigurationError, match="login would hide built-in pages"):
        custom_app(custom_folder, db_url)
    (custom_folder / "pages" / "login.jinja2").unlink()
    (custom_folder / "pages" / "hosts.jinja2").write_text("x")
    with pytest.raises(ConfigurationError, match="hosts would hide"):
        custom_app(custom_folder, db_url)


def test_custom_page_names_and_folder_are_checked(custom_folder: Path, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'unused.sqlite'}"
    with pytest.raises(ConfigurationError, match="is not a folder"):
        custom_app(custom_folder / "missing", db_url)
    (custom_folder / "pages" / "Bad Name.jinja2").write_text("x")
    with pytest.raises(ConfigurationError, match="rename Bad Name"):
        custom_app(custom_folder, db_url)


def test_overview_link_targets_exist(client: AppClient, home: Any) -> None:
    client.login("alice")
    page = client.get("/")
    for href in re.findall(r'href="(http://example.com/[^"#]*)"', page.text):
        assert client.get(href, expect_errors=True).status_int == 200, href
