"""Domains in the web UI: add (with the "domain or host?" check), view, edit, delete, check,
TSIG secret and nameserver examples; memory backend, the builtin one, and the real BIND."""
from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nsupdate_pyramid.dns.builtin import BuiltinBackend
from nsupdate_pyramid.models import Domain, Host, Zone
from nsupdate_pyramid.services import domains as domain_service
from nsupdate_pyramid.services import hosts as host_service
from nsupdate_pyramid.services import nsconfig
from tests.conftest import AppClient
from tests.fixtures.bind import BindServer


@pytest.fixture
def alice(make_user: Any) -> Any:
    return make_user("alice")


def domain_row(dbsession: Any, name: str) -> Domain | None:
    dbsession.expire_all()
    return dbsession.scalars(select(Domain).where(Domain.name == name)).one_or_none()


def add_form(client: AppClient, **values: str) -> Any:
    form = client.get("/domains/").click(href=r"/domains/add$").forms["domain-add-form"]
    for key, value in values.items():
        form[key] = value
    return form


def bind_domain(dbsession: Any, owner: Any, bind_server: BindServer, **kw: Any) -> Domain:
    values = {"nameserver_ip": bind_server.host, "nameserver_port": bind_server.port,
              "tsig_key_name": bind_server.key_name, "tsig_algorithm": bind_server.algorithm,
              "tsig_secret": bind_server.secret, **kw}
    domain = domain_service.create_domain(dbsession, bind_server.zone, owner, backend="rfc2136",
                                          **values)
    dbsession.commit()
    return domain


# --- add -------------------------------------------------------------------------------------

def test_add_a_domain_served_by_bind(client: AppClient, alice: Any, dbsession: Any,
                                     bind_server: BindServer) -> None:
    client.login("alice")
    page = add_form(client, name="DDNS.test.", backend="rfc2136", nameserver_ip=bind_server.host,
                    nameserver_port=str(bind_server.port), tsig_algorithm="hmac-sha256",
                    comment="mine").submit()
    assert page.status_int == 200 and "Domain ddns.test added." in page.text
    assert "did not confirm" not in page.text
    secret = html.unescape(re.search(r'id="tsig-secret">([^<]+)<', page.text).group(1))
    row = domain_row(dbsession, "ddns.test")
    assert (row.owner_id, row.backend, row.nameserver_port, row.tsig_algorithm, row.tsig_key_name,
            row.comment, row.public) == (alice.id, "rfc2136", bind_server.port, "hmac-sha256",
                                         "ddns.test", "mine", False)
    assert row.tsig_secret == secret and len(secret) == 44  # 32 bytes for hmac-sha256
    bind = html.unescape(re.search(r'id="ns-bind"><code>(.*?)</code>', page.text, re.S).group(1))
    assert f'secret "{secret}";' in bind and 'zone "ddns.test"' in bind
    # Shown once: later pages have a placeholder.
    later = client.get("/domains/ddns.test/nameserver")
    assert secret not in later.text and "&lt;the domain&#39;s TSIG secret&gt;" in later.text
    assert secret not in client.get("/domains/ddns.test/").text


def test_a_host_of_the_nameservers_zone_is_not_a_domain(client: AppClient, alice: Any,
                                                        dbsession: Any,
                                                        bind_server: BindServer) -> None:
    client.login("alice")
    page = add_form(client, name="myrouter.ddns.test", backend="rfc2136",
                    nameserver_ip=bind_server.host,
                    nameserver_port=str(bind_server.port)).submit(status=400)
    assert "The nameserver says that myrouter.ddns.test is a name in its zone ddns.test" in page.text
    assert 'class="field-error"' in page.text and 'value="myrouter.ddns.test"' in page.text
    assert domain_row(dbsession, "myrouter.ddns.test") is None


def test_a_name_in_one_of_our_domains_is_a_host(client: AppClient, alice: Any, make_user: Any,
                                                make_domain: Any, dbsession: Any) -> None:
    make_domain("example.org", make_user("bob"), public=True)
    client.login("alice")
    page = add_form(client, name="home.example.org", backend="memory").submit(status=400)
    assert "home.example.org lies in the domain example.org of this service: add it as a host there." \
        in page.text
    assert domain_row(dbsession, "home.example.org") is None


def test_unconfirmed_zone_is_added_with_a_warning(client: AppClient, alice: Any,
                                                  dbsession: Any) -> None:
    client.login("alice")
    page = add_form(client, name="new.test", backend="rfc2136", nameserver_ip="127.0.0.1",
                    nameserver_port="9").submit()
    assert "Domain new.test added." in page.text
    assert "Its nameserver did not confirm that it serves the zone" in page.text
    assert domain_row(dbsession, "new.test") is not None


@pytest.mark.parametrize(("values", "field_message"), [
    ({"name": ""}, "Please fill in this field."),
    ({"name": "nodot"}, "Invalid domain name."),
    ({"name": "bad..name"}, "Invalid domain name."),
    ({"name": "taken.example"}, "A domain with this name already exists."),
    ({"name": "ok.example", "nameserver_ip": "300.1.1.1"}, "Invalid nameserver address."),
    ({"name": "ok.example", "nameserver_port": "0"}, "Enter a port from 1 to 65535."),
])
def test_add_errors_at_the_field(client: AppClient, alice: Any, make_domain: Any, dbsession: Any,
                                 values: dict[str, str], field_message: str) -> None:
    make_domain("taken.example", alice)
    client.login("alice")
    page = add_form(client, backend="memory", comment="kept", **values).submit(status=400)
    assert 'class="field-error"' in page.text and field_message in page.text
    assert 'value="kept"' in page.text
    assert domain_row(dbsession, "ok.example") is None


def test_add_a_builtin_domain_creates_its_zone(app: Any, client: AppClient, alice: Any,
                                               dbsession: Any, session_factory: Any) -> None:
    backends = app.registry["nsupdate.dns_backends"]
    backends["builtin"] = BuiltinBackend("builtin", session_factory=session_factory)
    try:
        client.login("alice")
        page = add_form(client, name="zone.example", backend="builtin").submit()
    finally:
        del backends["builtin"]
    assert page.location == "http://example.com/domains/zone.example/"
    assert "Domain zone.example added." in page.follow().text
    row = domain_row(dbsession, "zone.example")
    assert row.tsig_secret == "" and row.nameserver_ip == ""
    assert dbsession.scalars(select(Zone).where(Zone.domain_id == row.id)).one().name == "zone.example"


# --- view, edit -------------------------------------------------------------------------------

def test_edit_domain(client: AppClient, alice: Any, make_domain: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    client.login("alice")
    form = client.get("/domains/example.org/").click(href=r"/edit$").forms["domain-edit-form"]
    form["comment"] = "shared"
    form["public"] = True
    form["nameserver_ip"] = "2001:DB8::53"
    form["tsig_algorithm"] = "hmac-sha384"
    form["tsig_key_name"] = "Key.Example."
    assert "Domain updated." in form.submit().follow().text
    row = domain_row(dbsession, "example.org")
    assert (row.comment, row.public, row.nameserver_ip, row.tsig_algorithm, row.tsig_key_name) == \
        ("shared", True, "2001:db8::53", "hmac-sha384", "key.example")


@pytest.mark.parametrize(("values", "message"), [
    ({"available": False, "public": True}, "A domain must be available to be public."),
    ({"nameserver_ip": "nope"}, "Invalid nameserver address."),
    ({"nameserver_port": "70000"}, "Enter a port from 1 to 65535."),
])
def test_edit_errors(client: AppClient, alice: Any, make_domain: Any, dbsession: Any,
                     values: dict[str, Any], message: str) -> None:
    make_domain("example.org", alice)
    client.login("alice")
    form = client.get("/domains/example.org/edit").forms["domain-edit-form"]
    form["comment"] = "kept"
    for key, value in values.items():
        form[key] = value
    page = form.submit(status=400)
    assert message in page.text and 'value="kept"' in page.text
    assert domain_row(dbsession, "example.org").comment == ""


# --- check ------------------------------------------------------------------------------------

def test_check_against_bind(client: AppClient, alice: Any, dbsession: Any,
                            bind_server: BindServer) -> None:
    bind_domain(dbsession, alice, bind_server)
    client.login("alice")
    page = client.get("/domains/ddns.test/").forms["check-form"].submit().follow()
    assert "The nameserver works:" in page.text and "accepts updates" in page.text
    row = domain_row(dbsession, "ddns.test")
    assert row.check_ok is True and row.last_check is not None
    assert "is authoritative" in row.check_result
    # A wrong key: the failure is shown and kept.
    row.tsig_secret = "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE="
    dbsession.commit()
    page = client.get("/domains/ddns.test/").forms["check-form"].submit().follow()
    assert "The nameserver check failed:" in page.text
    row = domain_row(dbsession, "ddns.test")
    assert row.check_ok is False and row.check_result in page.text


def test_check_with_the_memory_backend(client: AppClient, alice: Any, make_domain: Any,
                                       dbsession: Any) -> None:
    make_domain("example.org", alice)
    client.login("alice")
    assert client.get("/domains/example.org/check", expect_errors=True).status_int == 404
    client.post("/domains/example.org/check", {"csrf_token": client.csrf_token()}).follow()
    assert domain_row(dbsession, "example.org").check_result == "in-memory backend"


# --- TSIG secret and examples ------------------------------------------------------------------

def test_new_tsig_secret(client: AppClient, alice: Any, make_domain: Any, dbsession: Any) -> None:
    make_domain("example.org", alice, tsig_secret="b2xk")
    client.login("alice")
    page = client.get("/domains/example.org/").forms["tsig-form"].submit()
    assert "A new TSIG secret was made." in page.text
    secret = html.unescape(re.search(r'id="tsig-secret">([^<]+)<', page.text).group(1))
    assert domain_row(dbsession, "example.org").tsig_secret == secret != "b2xk"


def test_bind_example_is_valid_named_conf(tmp_path: Path) -> None:
    key = nsconfig.ZoneKey("dyn.example", "dyn.example", "hmac-sha512",
                           domain_service.generate_tsig_secret("hmac-sha512"), "192.0.2.53")
    (tmp_path / "dyn.example.zone").write_text(nsconfig.bind_zone_file(key))
    conf = nsconfig.bind(key).replace("/var/lib/bind/", f"{tmp_path}/")
    (tmp_path / "named.conf").write_text(conf)
    subprocess.run(["named-checkconf", "-z", str(tmp_path / "named.conf")], check=True,
                   capture_output=True, timeout=30)


def test_knot_example_is_valid_knot_conf(tmp_path: Path) -> None:
    key = nsconfig.ZoneKey("dyn.example", "dyn.example", "hmac-sha256",
                           domain_service.generate_tsig_secret("hmac-sha256"), "")
    conf = f'server:\n    rundir: "{tmp_path}"\n' + nsconfig.knot(key)
    (tmp_path / "knot.conf").write_text(conf)
    result = subprocess.run(["knotc", "-c", str(tmp_path / "knot.conf"), "conf-check"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


# --- delete -----------------------------------------------------------------------------------

def test_delete_refused_while_others_have_hosts(client: AppClient, alice: Any, make_user: Any,
                                                make_domain: Any, make_host: Any,
                                                dbsession: Any) -> None:
    make_domain("example.org", alice, public=True)
    make_host("bobs.example.org", make_user("bob"))
    client.login("alice")
    page = client.get("/domains/example.org/delete")
    assert "Other users have 1 hosts in this domain" in page.text
    assert "domain-delete-form" not in page.text
    page = client.post("/domains/example.org/delete", {"csrf_token": client.csrf_token()},
                       status=400)
    assert "it cannot be deleted while they do" in page.text
    assert domain_row(dbsession, "example.org") is not None


def test_delete_domain_with_own_hosts(client: AppClient, alice: Any, make_domain: Any,
                                      make_host: Any, dbsession: Any, app: Any) -> None:
    domain = make_domain("example.org", alice)
    make_host("home.example.org", alice)
    memory = app.registry["nsupdate.dns_backends"]["memory"]
    memory.update(domain_service.zone_info(domain, 60), "home", "A", ["192.0.2.1"])
    client.login("alice")
    page = client.get("/domains/example.org/delete")
    assert "Your hosts in it are deleted too, with their DNS records: home.example.org." in page.text
    listing = page.forms["domain-delete-form"].submit().follow()
    assert "Domain example.org deleted." in listing.text
    assert domain_row(dbsession, "example.org") is None
    assert dbsession.scalars(select(Host)).all() == []
    assert ("example.org", "home", "A") not in memory.records


def test_delete_domain_removes_records_in_bind(client: AppClient, alice: Any, dbsession: Any,
                                               bind_server: BindServer, app: Any) -> None:
    domain = bind_domain(dbsession, alice, bind_server)
    host_service.create_host(dbsession, "domdel.ddns.test", alice)
    dbsession.commit()
    backend = app.registry["nsupdate.dns_backends"]["rfc2136"]
    backend.update(domain_service.zone_info(domain, 60), "domdel", "A", ["192.0.2.77"])
    assert bind_server.query("domdel.ddns.test.", "A") == ["192.0.2.77"]
    client.login("alice")
    client.post("/domains/ddns.test/delete", {"csrf_token": client.csrf_token()}).follow()
    assert bind_server.query("domdel.ddns.test.", "A") == []


# --- permissions ------------------------------------------------------------------------------

DOMAIN_URLS = [("GET", ""), ("GET", "edit"), ("POST", "edit"), ("POST", "check"),
               ("GET", "nameserver"), ("POST", "tsig"), ("GET", "delete"), ("POST", "delete")]


def test_admin_may_use_every_domain_page(client: AppClient, alice: Any, make_user: Any,
                                         make_domain: Any, dbsession: Any) -> None:
    make_user("root", admin=True)
    make_domain("example.org", alice)
    client.login("root")
    token = client.csrf_token()
    for method, name in DOMAIN_URLS:
        url = f"/domains/example.org/{name}"
        if method == "GET":
            assert client.get(url).status_int == 200, url
        else:
            response = client.post(url, {"csrf_token": token, "nameserver_port": "53",
                                         "tsig_algorithm": "hmac-sha512", "available": "y"})
            assert response.status_int in (200, 303), url
    assert domain_row(dbsession, "example.org") is None


def test_public_domain_pages_are_404_for_its_users(client: AppClient, alice: Any,
                                                   make_user: Any, make_domain: Any) -> None:
    make_domain("example.org", alice, public=True)
    make_user("bob")
    client.login("bob")
    assert "example.org" in client.get("/domains/").text
    token = client.csrf_token()
    for method, name in DOMAIN_URLS:
        url = f"/domains/example.org/{name}"
        response = client.get(url, expect_errors=True) if method == "GET" else \
            client.post(url, {"csrf_token": token}, expect_errors=True)
        assert response.status_int == 404, url


def test_anonymous_and_csrf(client: AppClient, alice: Any, make_domain: Any,
                            dbsession: Any) -> None:
    make_domain("example.org", alice)
    for _method, name in DOMAIN_URLS:
        assert client.get(f"/domains/example.org/{name}", expect_errors=True).status_int in (303, 404)
    assert client.get("/domains/add").status_int == 303
    client.login("alice")
    for method, name in DOMAIN_URLS:
        if method == "POST":
            response = client.post(f"/domains/example.org/{name}", {}, expect_errors=True)
            assert response.status_int == 400, name
    client.post("/domains/add", {"name": "x.example", "backend": "memory"}, status=400)
    assert domain_row(dbsession, "example.org") is not None
    assert domain_row(dbsession, "x.example") is None
