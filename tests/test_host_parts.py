"""Related hosts and third-party service configurations under a host, in the web UI."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from nsupdate_pyramid.models import RelatedHost, Service, ServiceConfig
from nsupdate_pyramid.services import domains as domain_service
from tests.conftest import AppClient


@pytest.fixture
def alice(make_user: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def home(alice: Any, make_domain: Any, make_host: Any, dbsession: Any) -> Any:
    domain = make_domain("example.org", alice)
    host, _ = make_host("home.example.org", alice)
    host.netmask_ipv4 = 29
    dbsession.commit()
    return domain


@pytest.fixture
def service(dbsession: Any) -> Service:
    row = Service(name="Other DNS", server="127.0.0.1:9", path="/nic/update", secure=False)
    dbsession.add(row)
    dbsession.commit()
    return row


def related_rows(dbsession: Any) -> list[RelatedHost]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(RelatedHost).order_by(RelatedHost.name)))


def configs(dbsession: Any) -> list[ServiceConfig]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(ServiceConfig)))


# --- related hosts -----------------------------------------------------------------------------

def test_add_edit_delete_a_related_host(client: AppClient, alice: Any, home: Any,
                                        dbsession: Any, app: Any) -> None:
    client.login("alice")
    listing = client.get("/hosts/home.example.org/").click(href=r"/related/$")
    assert "No related hosts yet." in listing.text
    form = listing.click(href=r"/related/add$").forms["related-form"]
    form["name"] = "nas"
    form["interface_id_ipv4"] = "0.0.0.5"
    form["interface_id_ipv6"] = "::1234:5678:9abc:def0"
    form["comment"] = "the NAS"
    listing = form.submit().follow()
    assert "Related host nas.home.example.org added." in listing.text
    [row] = related_rows(dbsession)
    assert (row.name, row.interface_id_ipv4, row.interface_id_ipv6, row.available) == \
        ("nas", "0.0.0.5", "::1234:5678:9abc:def0", True)
    memory = app.registry["nsupdate.dns_backends"]["memory"]
    zone = domain_service.zone_info(home, 60)
    memory.update(zone, "nas.home", "A", ["192.0.2.5"])
    # Rename: the old name's records go.
    form = listing.click(href=rf"/related/{row.id}$").forms["related-form"]
    assert form["name"].value == "nas"
    form["name"] = "storage"
    form["available"] = False
    assert "Related host storage.home.example.org updated." in form.submit().follow().text
    [row] = related_rows(dbsession)
    assert (row.name, row.available) == ("storage", False)
    assert memory.query(zone, "nas.home", "A") == []
    memory.update(zone, "storage.home", "AAAA", ["2001:db8::1234:5678:9abc:def0"])
    page = client.get(f"/hosts/home.example.org/related/{row.id}/delete")
    listing = page.forms["delete-form"].submit().follow()
    assert "Related host storage.home.example.org deleted." in listing.text
    assert related_rows(dbsession) == []
    assert memory.query(zone, "storage.home", "AAAA") == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "bad name", "Invalid host name"),
    ("name", "", "Please fill in this field."),
    ("interface_id_ipv4", "0.0.0.9", "Too large for the host part of a /29 network"),
    ("interface_id_ipv4", "garbage", "Not an interface id; write it like 0.0.0.5."),
    ("interface_id_ipv6", "::1:2:3:4:5", "Too large for the host part of a /64 network"),
    ("interface_id_ipv6", "zz::1", "Not an interface id; write it like ::1234:5678:9abc:def0."),
    ("interface_id_ipv6", "x" * 40, "Field cannot be longer than 39 characters."),
])
def test_related_host_errors_at_the_field(client: AppClient, alice: Any, home: Any,
                                          dbsession: Any, field: str, value: str,
                                          message: str) -> None:
    client.login("alice")
    form = client.get("/hosts/home.example.org/related/add").forms["related-form"]
    form["name"] = "nas"
    form["comment"] = "kept"
    form[field] = value
    page = form.submit(status=400)
    assert 'class="field-error"' in page.text and message in page.text
    assert 'value="kept"' in page.text
    assert related_rows(dbsession) == []


def test_related_host_names_are_unique_per_host(client: AppClient, alice: Any, home: Any,
                                                dbsession: Any) -> None:
    client.login("alice")
    for expected in (303, 400):
        form = client.get("/hosts/home.example.org/related/add").forms["related-form"]
        form["name"] = "nas"
        page = form.submit(status=expected)
    assert "This host already has a related host of this name." in page.text
    assert len(related_rows(dbsession)) == 1


# --- third-party services ----------------------------------------------------------------------

def test_add_edit_delete_a_service_config(client: AppClient, alice: Any, home: Any,
                                          service: Service, dbsession: Any) -> None:
    client.login("alice")
    listing = client.get("/hosts/home.example.org/").click(href=r"/services/$")
    assert "No other services to update yet." in listing.text
    form = listing.click(href=r"/services/add$").forms["service-form"]
    form["service"] = str(service.id)
    form["hostname"] = "Me.Other.Example"
    form["name"] = "me"
    form["password"] = "pw-at-other"
    form["give_ipv4"] = True
    listing = form.submit().follow()
    assert "Service configuration added." in listing.text and "me.other.example" in listing.text
    [config] = configs(dbsession)
    assert (config.hostname, config.name, config.password, config.give_ipv4, config.give_ipv6,
            config.enabled) == ("me.other.example", "me", "pw-at-other", True, False, True)
    page = listing.click(href=rf"/services/{config.id}$")
    assert "pw-at-other" not in page.text  # never shown again
    form = page.forms["service-form"]
    form["give_ipv6"] = True
    form["comment"] = "both"
    assert "Service configuration updated." in form.submit().follow().text
    [config] = configs(dbsession)
    assert (config.password, config.give_ipv6, config.comment) == ("pw-at-other", True, "both")
    page = client.get(f"/hosts/home.example.org/services/{config.id}/delete")
    assert "Stop passing the updates of home.example.org on to Other DNS?" in page.text
    assert "Service configuration deleted." in page.forms["delete-form"].submit().follow().text
    assert configs(dbsession) == []


def test_service_config_errors_at_the_field(client: AppClient, alice: Any, home: Any,
                                            service: Service, dbsession: Any) -> None:
    client.login("alice")
    form = client.get("/hosts/home.example.org/services/add").forms["service-form"]
    form["hostname"] = "not a/host"
    form["name"] = "kept-name"
    form["password"] = "x"
    page = form.submit(status=400)
    assert "Not a host name." in page.text and 'value="kept-name"' in page.text
    form = page.forms["service-form"]
    form["hostname"] = "me.other.example"
    page = form.submit(status=400)  # the password is not sent back to the browser
    assert "Please fill in this field." in page.text
    page = client.post("/hosts/home.example.org/services/add", {
        "csrf_token": client.csrf_token(), "service": "99999", "password": "x"}, status=400)
    assert "Not a valid choice" in page.text
    assert configs(dbsession) == []


def test_no_services_offered(client: AppClient, alice: Any, home: Any) -> None:
    client.login("alice")
    page = client.get("/hosts/home.example.org/services/")
    assert "The administrator offers no services yet." in page.text
    assert "/services/add" not in page.text


# --- permissions -------------------------------------------------------------------------------

def _urls(related_id: int, config_id: int) -> list[tuple[str, str]]:
    base = "/hosts/home.example.org"
    return [("GET", f"{base}/related/"), ("GET", f"{base}/related/add"),
            ("POST", f"{base}/related/add"), ("GET", f"{base}/related/{related_id}"),
            ("POST", f"{base}/related/{related_id}"), ("GET", f"{base}/related/{related_id}/delete"),
            ("POST", f"{base}/related/{related_id}/delete"),
            ("GET", f"{base}/services/"), ("GET", f"{base}/services/add"),
            ("POST", f"{base}/services/add"), ("GET", f"{base}/services/{config_id}"),
            ("POST", f"{base}/services/{config_id}"), ("GET", f"{base}/services/{config_id}/delete"),
            ("POST", f"{base}/services/{config_id}/delete")]


@pytest.fixture
def parts(alice: Any, home: Any, service: Service, dbsession: Any) -> tuple[int, int]:
    from nsupdate_pyramid.services import hosts as host_service

    host = host_service.get_host_by_fqdn(dbsession, "home.example.org")
    related = RelatedHost(host_id=host.id, name="nas")
    config = ServiceConfig(host_id=host.id, service_id=service.id, password="x")
    dbsession.add_all([related, config])
    dbsession.commit()
    return related.id, config.id


def test_other_users_get_404_everywhere(client: AppClient, make_user: Any,
                                        parts: tuple[int, int], dbsession: Any) -> None:
    make_user("bob")
    client.login("bob")
    token = client.csrf_token()
    for method, url in _urls(*parts):
        if method == "GET":
            response = client.get(url, expect_errors=True)
        else:
            response = client.post(url, {"csrf_token": token, "name": "x", "service": "1",
                                         "password": "x"}, expect_errors=True)
        assert response.status_int == 404, f"{method} {url}"
    assert len(related_rows(dbsession)) == 1 and len(configs(dbsession)) == 1
    # Someone else's ids under one's own host are not found either.
    assert client.get("/hosts/home.example.org/related/999999", expect_errors=True).status_int == 404


def test_admin_may_use_every_page(client: AppClient, make_user: Any, parts: tuple[int, int],
                                  dbsession: Any) -> None:
    make_user("root", admin=True)
    client.login("root")
    token = client.csrf_token()
    for method, url in _urls(*parts):
        if method == "GET":
            assert client.get(url).status_int == 200, url
        else:
            response = client.post(url, {"csrf_token": token, "name": "other", "password": "y",
                                         "service": str(configs(dbsession)[0].service_id)
                                         if configs(dbsession) else "1"}, expect_errors=True)
            assert response.status_int in (303, 400), f"{method} {url}: {response.status}"


def test_anonymous_goes_to_login(client: AppClient, parts: tuple[int, int]) -> None:
    for _method, url in _urls(*parts):
        assert client.get(url, expect_errors=True).status_int == 303, url


def test_forms_need_csrf(client: AppClient, alice: Any, parts: tuple[int, int],
                         dbsession: Any) -> None:
    client.login("alice")
    for method, url in _urls(*parts):
        if method == "POST":
            assert client.post(url, {"name": "x"}, expect_errors=True).status_int == 400, url
    assert len(related_rows(dbsession)) == 1 and len(configs(dbsession)) == 1
