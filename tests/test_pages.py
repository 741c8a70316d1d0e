"""The web skeleton: pages render for the right people, errors are friendly."""
from __future__ import annotations

from typing import Any

import pytest
from pyramid.config import Configurator
from sqlalchemy import text

from nsupdate_pyramid.resources import Root
from nsupdate_pyramid.services.ipaddr import canonical, client_address_from
from tests.conftest import AppClient


def test_home_shows_the_visitor_address_prominently(client: AppClient) -> None:
    page = client.get("/", extra_environ={"REMOTE_ADDR": "2001:DB8::0:1"})
    assert '<p class="visitor-address" id="visitor-address">2001:db8::1</p>' in page.text
    page = client.get("/", extra_environ={"REMOTE_ADDR": "::ffff:198.51.100.4"})
    assert ">198.51.100.4<" in page.text


def test_home_ignores_forwarded_for_from_untrusted_peers(client: AppClient) -> None:
    page = client.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert ">192.0.2.7<" in page.text
    assert "203.0.113.9" not in page.text


def test_static_files_are_served_by_the_app(client: AppClient) -> None:
    css = client.get("/static/css/site.css")
    assert css.content_type == "text/css"
    assert "visitor-address" in css.text
    page = client.get("/")
    assert "//" not in page.text.split("stylesheet", 1)[1].split("css")[0].replace("http://example.com", "")


def test_pages_for_a_logged_in_user(client: AppClient, make_user: Any, make_domain: Any,
                                    make_host: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    make_domain("example.org", alice)
    make_domain("shared.example", bob, public=True, comment="come in")
    make_domain("private.example", bob)
    make_host("home.example.org", alice, comment="my router")
    client.login("alice")
    hosts = client.get("/hosts/")
    assert "home.example.org" in hosts.text and "my router" in hosts.text
    domains = client.get("/domains/")
    assert "example.org" in domains.text
    assert "shared.example" in domains.text and "come in" in domains.text
    assert "private.example" not in domains.text
    host = client.get("/hosts/home.example.org/")
    assert "my router" in host.text
    assert client.get("/domains/example.org/").status_int == 200
    account = client.get("/account/")
    assert "alice@example.org" in account.text
    for page in (hosts, domains, host, account):
        assert "Log out" in page.text and "Admin" not in page.text


def test_empty_lists_say_so(client: AppClient, make_user: Any) -> None:
    make_user("alice")
    client.login("alice")
    assert "No hosts yet." in client.get("/hosts/").text
    assert "You have no domains of your own." in client.get("/domains/").text


def test_admin_sees_figures(client: AppClient, make_user: Any, make_domain: Any,
                            make_host: Any) -> None:
    root = make_user("root", admin=True)
    make_domain("example.org", root)
    make_host("a.example.org", root)
    client.login("root")
    page = client.get("/admin/")
    assert "Administration" in page.text
    assert "<dt>Hosts</dt><dd>1</dd>" in page.text


def test_not_found_page(client: AppClient) -> None:
    page = client.get("/no/such/page", expect_errors=True)
    assert page.status_int == 404
    assert "Not found" in page.text
    assert page.content_type == "text/html"


def test_robots(client: AppClient) -> None:
    robots = client.get("/robots.txt")
    assert robots.content_type == "text/plain"
    assert "Disallow: /hosts/" in robots.text


def _boom(request: Any) -> Any:
    raise RuntimeError("deliberate failure")


def _bad_sql(request: Any) -> Any:
    request.dbsession.execute(text("SELECT * FROM no_such_table"))


def _admin_only(request: Any) -> Any:
    return {}


@pytest.fixture
def failing_client(settings: dict[str, str], session_factory: Any) -> AppClient:
    """The real app plus three test-only views: a crash, a database error and an admin-only page."""
    with Configurator(settings=settings) as config:
        config.include("nsupdate_pyramid")
        config.add_view(_boom, context=Root, name="boom", permission="view")
        config.add_view(_bad_sql, context=Root, name="bad-sql", permission="view")
        config.add_view(_admin_only, context=Root, name="admin-only", permission="admin",
                        renderer="json")
    app = config.make_wsgi_app()
    app.registry["dbsession_factory"] = session_factory
    return AppClient(app, extra_environ={"HTTP_HOST": "example.com"})


def test_friendly_500(failing_client: AppClient, caplog: pytest.LogCaptureFixture) -> None:
    page = failing_client.get("/boom", expect_errors=True)
    assert page.status_int == 500
    assert "Something went wrong" in page.text
    assert "deliberate failure" not in page.text  # no internals shown
    incident = page.text.split("incident number: ")[1][:12]
    assert any(incident in record.getMessage() for record in caplog.records)


def test_friendly_500_when_the_database_fails(failing_client: AppClient, make_user: Any) -> None:
    make_user("alice")
    failing_client.login("alice")
    page = failing_client.get("/bad-sql", expect_errors=True)
    assert page.status_int == 500
    assert "Something went wrong" in page.text


def test_403_for_logged_in_users_without_permission(failing_client: AppClient,
                                                    make_user: Any) -> None:
    make_user("alice")
    assert failing_client.get("/admin-only").status_int == 303  # anonymous: log in first
    failing_client.login("alice")
    page = failing_client.get("/admin-only", expect_errors=True)
    assert page.status_int == 403
    assert "Not allowed" in page.text


@pytest.mark.parametrize(("remote", "forwarded", "proxies", "expected"), [
    ("192.0.2.1", "", (), "192.0.2.1"),
    ("192.0.2.1", "203.0.113.5", (), "192.0.2.1"),
    ("10.0.0.1", "203.0.113.5", ("10.0.0.0/8",), "203.0.113.5"),
    ("10.0.0.1", "198.51.100.1, 203.0.113.5, 10.0.0.2", ("10.0.0.0/8",), "203.0.113.5"),
    ("10.0.0.1", "garbage", ("10.0.0.0/8",), "10.0.0.1"),
    ("10.0.0.1", "", ("10.0.0.0/8",), "10.0.0.1"),
    ("::ffff:10.0.0.1", "2001:DB8::1", ("10.0.0.0/8",), "2001:db8::1"),
])
def test_client_address_and_trusted_proxies(remote: str, forwarded: str, proxies: tuple[str, ...],
                                            expected: str) -> None:
    import ipaddress

    networks = tuple(ipaddress.ip_network(p) for p in proxies)
    assert client_address_from(remote, forwarded, networks) == expected


@pytest.mark.parametrize(("given", "expected"), [
    ("2001:0DB8:0000::0001", "2001:db8::1"), ("::ffff:192.0.2.1", "192.0.2.1"), ("::1", "::1"),
    (" 192.0.2.1 ", "192.0.2.1"),
])
def test_canonical_addresses(given: str, expected: str) -> None:
    assert canonical(given) == expected


@pytest.mark.parametrize("bad", ["01.2.3.4", "1.2.3", "fe80::1%eth0", "", "1234"])
def test_invalid_addresses(bad: str) -> None:
    with pytest.raises(ValueError):
        canonical(bad)
