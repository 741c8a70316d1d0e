"""The host page's forms, through the web UI (webtest), with the memory and builtin backends."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from nsupdate_pyramid.dns.builtin import BuiltinBackend
from nsupdate_pyramid.models import Host, Record, Zone
from nsupdate_pyramid.services import domains as domain_service
from tests.conftest import AppClient


@pytest.fixture
def alice(make_user: Any) -> Any:
    return make_user("alice")


def host_row(dbsession: Any, fqdn: str) -> Host:
    dbsession.expire_all()
    return dbsession.scalars(select(Host).where(Host.fqdn == fqdn)).one()


def test_owner_sets_and_removes_the_lan_address(client: AppClient, alice: Any, make_domain: Any,
                                                make_host: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    client.login("alice")
    form = client.get("/hosts/home.example.org/").forms["lan-form"]
    form["lan_ip"] = " 192.168.10.2 "
    page = form.submit().follow()
    assert "LAN address saved." in page.text
    assert 'value="192.168.10.2"' in page.text
    assert host_row(dbsession, "home.example.org").lan_ip == "192.168.10.2"
    form = page.forms["lan-form"]
    form["lan_ip"] = ""
    assert "LAN address removed." in form.submit().follow().text
    assert host_row(dbsession, "home.example.org").lan_ip == ""


def test_a_bad_lan_address_is_shown_at_the_field(client: AppClient, alice: Any, make_domain: Any,
                                                 make_host: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    client.login("alice")
    form = client.get("/hosts/home.example.org/").forms["lan-form"]
    form["lan_ip"] = "192.168.10.300"
    page = form.submit(status=400)
    assert 'class="field-error"' in page.text and "Not a usable IP address." in page.text
    assert 'value="192.168.10.300"' in page.text  # the input is kept for correcting
    assert 'aria-invalid="true"' in page.text
    assert host_row(dbsession, "home.example.org").lan_ip == ""


def test_the_lan_form_needs_the_csrf_token(client: AppClient, alice: Any, make_domain: Any,
                                           make_host: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    client.login("alice")
    response = client.post("/hosts/home.example.org/lan", {"lan_ip": "192.168.10.2"},
                           expect_errors=True)
    assert response.status_int == 400
    assert host_row(dbsession, "home.example.org").lan_ip == ""


def test_the_lan_address_reaches_the_builtin_nameserver(app: Any, client: AppClient, alice: Any,
                                                        make_host: Any, dbsession: Any,
                                                        session_factory: Any) -> None:
    backend = BuiltinBackend("builtin", session_factory=session_factory)
    backends = app.registry["nsupdate.dns_backends"]
    backends["builtin"] = backend
    try:
        domain_service.create_domain(dbsession, "lan.example.net", alice, backend="builtin",
                                     dns_backend=backend)
        dbsession.commit()
        make_host("nas.lan.example.net", alice)
        zone = domain_service.zone_info(
            domain_service.get_domain_by_name(dbsession, "lan.example.net"), 60)
        backend.update(zone, "nas", "A", ["203.0.113.30"])
        client.login("alice")
        form = client.get("/hosts/nas.lan.example.net/").forms["lan-form"]
        form["lan_ip"] = "192.168.1.30"
        form.submit().follow()
    finally:
        del backends["builtin"]
    rows = dbsession.execute(select(Record.data, Record.lan_data).join(Zone).where(
        Zone.name == "lan.example.net", Record.name == "nas", Record.rtype == "A")).all()
    assert [tuple(row) for row in rows] == [("203.0.113.30", "192.168.1.30")]
