"""Managing hosts in the web UI: add, view, edit, delete, new secret, configuration help.

Memory backend (records are visible in the backend's dict); the delete path is also run against
the real BIND behind an rfc2136 domain.
"""
from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from nsupdate_pyramid.models import BlacklistedHost, Host, RelatedHost
from nsupdate_pyramid.security import secrets
from nsupdate_pyramid.services import domains as domain_service
from nsupdate_pyramid.services import hosts as host_service
from tests.conftest import AppClient
from tests.fixtures.bind import BindServer


@pytest.fixture
def alice(make_user: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def memory(app: Any) -> Any:
    backend = app.registry["nsupdate.dns_backends"]["memory"]
    backend.records.clear()
    return backend


def host_row(dbsession: Any, fqdn: str) -> Host | None:
    dbsession.expire_all()
    return dbsession.scalars(select(Host).where(Host.fqdn == fqdn)).one_or_none()


def shown_secret(page: Any) -> str:
    match = re.search(r'<p class="secret mono" id="secret">([^<]+)</p>', page.text)
    assert match, "no secret on the page"
    return html.unescape(match.group(1))


def snippet(page: Any, name: str) -> str:
    match = re.search(rf'<pre class="snippet" id="conf-{re.escape(name)}"><code>(.*?)</code></pre>',
                      page.text, re.S)
    assert match, f"no {name} snippet on the page"
    return html.unescape(match.group(1))


# --- add --------------------------------------------------------------------------------------

def test_add_a_host_shows_its_secret_once(client: AppClient, alice: Any, make_user: Any,
                                          make_domain: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    bob = make_user("bob")
    make_domain("public.example", bob, public=True)
    make_domain("private.example", bob)
    client.login("alice")
    form = client.get("/hosts/").click(href=r"/hosts/add$").forms["host-add-form"]
    options = [value for value, _selected, _text in form["domain"].options]
    assert options == ["example.org", "public.example"]
    form["name"] = "Home"
    form["domain"] = "public.example"
    form["comment"] = "the router"
    page = form.submit()
    assert page.status_int == 200
    assert "Host home.public.example added." in page.text
    secret = shown_secret(page)
    host = host_row(dbsession, "home.public.example")
    assert host is not None and host.owner_id == alice.id and host.comment == "the router"
    assert secrets.verify_secret(host.update_secret_hash, secret)
    assert secret in snippet(page, "ddclient")
    # Shown once: the configuration page afterwards has a placeholder.
    later = client.get("/hosts/home.public.example/config")
    assert secret not in later.text and "&lt;your secret&gt;" in later.text


@pytest.mark.parametrize(("name", "message"), [
    ("", "Please fill in this field."),
    ("a.b", "Invalid host name"),
    ("-bad", "Invalid host name"),
    ("x" * 64, "Field cannot be longer than 63 characters."),
    ("www", "This host name is not allowed."),
    ("taken", "A host with this name already exists."),
])
def test_add_rejects_bad_names_at_the_field(client: AppClient, alice: Any, make_domain: Any,
                                            make_host: Any, dbsession: Any, name: str,
                                            message: str) -> None:
    make_domain("example.org", alice)
    make_host("taken.example.org", alice)
    dbsession.add(BlacklistedHost(name_re="^www$"))
    dbsession.commit()
    client.login("alice")
    form = client.get("/hosts/add").forms["host-add-form"]
    form["name"] = name
    form["comment"] = "kept"
    page = form.submit(status=400)
    assert 'class="field-error"' in page.text and message in page.text
    assert 'value="kept"' in page.text
    if name and len(name) < 64:
        assert f'value="{name}"' in page.text


def test_add_refuses_someone_elses_private_domain(client: AppClient, alice: Any, make_user: Any,
                                                  make_domain: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    make_domain("private.example", make_user("bob"))
    client.login("alice")
    page = client.post("/hosts/add", {"name": "sneaky", "domain": "private.example",
                                      "csrf_token": client.csrf_token()}, status=400)
    assert "Not a valid choice" in page.text
    assert host_row(dbsession, "sneaky.private.example") is None


def test_add_without_any_domain_points_to_adding_one(client: AppClient, alice: Any) -> None:
    client.login("alice")
    page = client.get("/hosts/add")
    assert "There is no domain you could add a host to yet." in page.text
    assert "host-add-form" not in page.text


def test_add_needs_csrf(client: AppClient, alice: Any, make_domain: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    client.login("alice")
    client.post("/hosts/add", {"name": "x", "domain": "example.org"}, status=400)
    assert host_row(dbsession, "x.example.org") is None


# --- view -------------------------------------------------------------------------------------

def test_host_page_shows_results_and_warns_without_tls(client: AppClient, alice: Any,
                                                       make_domain: Any, make_host: Any,
                                                       dbsession: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    row = host_row(dbsession, "home.example.org")
    row.client_result_msg = "2024-05-01 10:00:00 home.example.org - received good update"
    row.published_ipv4 = "192.0.2.5"
    row.last_update_ipv4 = row.created
    row.tls_update_ipv4 = False
    dbsession.commit()
    client.login("alice")
    page = client.get("/hosts/home.example.org/")
    assert "2024-05-01 10:00:00 home.example.org - received good update" in page.text
    assert "The last IPv4 update did not use TLS" in page.text
    assert "IPv6 update did not use TLS" not in page.text
    assert "192.0.2.5" in page.text and "reverse DNS not available" in page.text
    row = host_row(dbsession, "home.example.org")
    row.tls_update_ipv4 = True
    dbsession.commit()
    assert "did not use TLS" not in client.get("/hosts/home.example.org/").text


# --- edit -------------------------------------------------------------------------------------

def test_edit_host(client: AppClient, alice: Any, make_domain: Any, make_host: Any,
                   dbsession: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    row = host_row(dbsession, "home.example.org")
    row.abuse = True
    dbsession.commit()
    client.login("alice")
    form = client.get("/hosts/home.example.org/edit").forms["host-edit-form"]
    form["comment"] = "new comment"
    form["available"] = False
    form["clear_abuse"] = True
    form["netmask_ipv4"] = "29"
    form["netmask_ipv6"] = "56"
    page = form.submit().follow()
    assert "Host updated." in page.text
    row = host_row(dbsession, "home.example.org")
    assert (row.comment, row.available, row.abuse, row.netmask_ipv4, row.netmask_ipv6) == \
        ("new comment", False, False, 29, 56)


def test_edit_errors_stay_at_the_field(client: AppClient, alice: Any, make_domain: Any,
                                       make_host: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    client.login("alice")
    form = client.get("/hosts/home.example.org/edit").forms["host-edit-form"]
    form["comment"] = "kept input"
    form["netmask_ipv4"] = "33"
    page = form.submit(status=400)
    assert "Enter a number from 0 to 32." in page.text
    assert 'value="kept input"' in page.text and 'value="33"' in page.text
    assert host_row(dbsession, "home.example.org").comment == ""


def test_edit_cannot_lift_abuse_blocked(client: AppClient, alice: Any, make_domain: Any,
                                        make_host: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    row = host_row(dbsession, "home.example.org")
    row.abuse = row.abuse_blocked = True
    dbsession.commit()
    client.login("alice")
    page = client.get("/hosts/home.example.org/edit")
    assert "clear_abuse" not in page.text and "only the administrator" in page.text
    client.post("/hosts/home.example.org/edit", {
        "csrf_token": client.csrf_token(), "clear_abuse": "y", "netmask_ipv4": "32",
        "netmask_ipv6": "64", "available": "y"})
    row = host_row(dbsession, "home.example.org")
    assert row.abuse_blocked


# --- secret and configuration help --------------------------------------------------------------

def test_new_secret_replaces_the_old_one(client: AppClient, alice: Any, make_domain: Any,
                                         make_host: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    _host, old = make_host("home.example.org", alice)
    client.login("alice")
    assert client.get("/hosts/home.example.org/secret", expect_errors=True).status_int == 404
    page = client.get("/hosts/home.example.org/").forms["secret-form"].submit()
    assert "A new update secret was made" in page.text
    new = shown_secret(page)
    row = host_row(dbsession, "home.example.org")
    assert secrets.verify_secret(row.update_secret_hash, new)
    assert not secrets.verify_secret(row.update_secret_hash, old)


def test_configuration_help_has_every_client(client: AppClient, alice: Any, make_domain: Any,
                                             make_host: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    client.login("alice")
    page = client.get("/hosts/home.example.org/").click(href=r"/config$")
    for section in ("general", "ddclient", "inadyn", "openwrt", "ddwrt", "pfsense", "m0n0wall",
                    "ipfire", "edgeos", "speedport", "fritzbox", "dyndnsc", "curl"):
        assert f'id="{section}"' in page.text, section
    ddclient = snippet(page, "ddclient")
    assert "server=example.com\n" in ddclient and "login=home.example.org" in ddclient
    assert "password='<your secret>'" in ddclient
    fritzbox = html.unescape(page.text)
    assert "http://example.com/nic/update?hostname=<domain>&myip=<ipaddr>,<ip6lanprefix>" in fritzbox
    assert "ssl=no" in ddclient  # this test site has no TLS
    assert "does not offer https" in page.text


def test_configuration_help_uses_the_ini_host_names(settings: dict[str, str], session_factory: Any,
                                                    alice: Any, make_domain: Any,
                                                    make_host: Any) -> None:
    from nsupdate_pyramid import main

    site = main({}, **{**settings, "nsupdate.we_have_tls": "true",
                       "nsupdate.www_host": "www.dyn.example", "nsupdate.ipv4_host": "ipv4.dyn.example",
                       "nsupdate.ipv6_host": "ipv6.dyn.example:8443"})
    site.registry["dbsession_factory"] = session_factory
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    browser = AppClient(site, extra_environ={"HTTP_HOST": "example.com", "wsgi.url_scheme": "https"})
    browser.login("alice")
    page = browser.get("/hosts/home.example.org/config")
    assert "server=ipv4.dyn.example\n" in snippet(page, "ddclient")
    assert "usev4=webv4, webv4=https://ipv4.dyn.example/myip" in snippet(page, "ddclient")
    assert "ssl=yes" in snippet(page, "ddclient")
    assert 'ddns-server     = "ipv6.dyn.example:8443"' in snippet(page, "inadyn")
    text = html.unescape(page.text)
    assert "https://www.dyn.example/nic/update?hostname=<domain>&myip=<ipaddr>,<ip6addr>" in text
    assert "does not offer https" not in page.text


# --- delete -----------------------------------------------------------------------------------

def test_delete_host_removes_its_records(client: AppClient, alice: Any, make_domain: Any,
                                         make_host: Any, dbsession: Any, memory: Any) -> None:
    domain = make_domain("example.org", alice)
    host, _ = make_host("home.example.org", alice)
    dbsession.add(RelatedHost(host_id=host.id, name="nas", interface_id_ipv6="::5"))
    dbsession.commit()
    zone = domain_service.zone_info(domain, 60)
    memory.update(zone, "home", "A", ["192.0.2.1"])
    memory.update(zone, "home", "TXT", ["hello"])
    memory.update(zone, "nas.home", "AAAA", ["2001:db8::5"])
    memory.update(zone, "other", "A", ["192.0.2.9"])
    client.login("alice")
    page = client.get("/hosts/home.example.org/").click(href=r"/delete$")
    assert "Are you sure you want to delete home.example.org?" in page.text
    listing = page.forms["host-delete-form"].submit().follow()
    assert "Host home.example.org deleted." in listing.text
    assert host_row(dbsession, "home.example.org") is None
    assert list(memory.records) == [("example.org", "other", "A")]


def test_blocked_host_cannot_be_deleted(client: AppClient, alice: Any, make_domain: Any,
                                        make_host: Any, dbsession: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    row = host_row(dbsession, "home.example.org")
    row.abuse_blocked = True
    dbsession.commit()
    client.login("alice")
    assert "host-delete-form" not in client.get("/hosts/home.example.org/delete").text
    page = client.post("/hosts/home.example.org/delete", {"csrf_token": client.csrf_token()},
                       status=400)
    assert "cannot be deleted" in page.text
    assert host_row(dbsession, "home.example.org") is not None


def test_delete_removes_records_in_bind(client: AppClient, alice: Any, dbsession: Any,
                                        bind_server: BindServer, app: Any) -> None:
    domain = domain_service.create_domain(
        dbsession, bind_server.zone, alice, backend="rfc2136", nameserver_ip=bind_server.host,
        nameserver_port=bind_server.port, tsig_key_name=bind_server.key_name,
        tsig_algorithm=bind_server.algorithm, tsig_secret=bind_server.secret)
    host, _ = host_service.create_host(dbsession, "webdel.ddns.test", alice)
    dbsession.add(RelatedHost(host_id=host.id, name="nas", interface_id_ipv4="0.0.0.5"))
    dbsession.commit()
    backend = app.registry["nsupdate.dns_backends"]["rfc2136"]
    zone = domain_service.zone_info(domain, 60)
    backend.update(zone, "webdel", "A", ["192.0.2.44"])
    backend.update(zone, "webdel", "AAAA", ["2001:db8::44"])
    backend.update(zone, "nas.webdel", "A", ["192.0.2.45"])
    assert bind_server.query("webdel.ddns.test.", "A") == ["192.0.2.44"]
    client.login("alice")
    client.post("/hosts/webdel.ddns.test/delete", {"csrf_token": client.csrf_token()}).follow()
    for name, rdtype in (("webdel", "A"), ("webdel", "AAAA"), ("nas.webdel", "A")):
        assert bind_server.query(f"{name}.ddns.test.", rdtype) == []


def test_delete_reports_records_it_could_not_remove(client: AppClient, alice: Any,
                                                    dbsession: Any) -> None:
    domain_service.create_domain(dbsession, "dead.test", alice, backend="rfc2136",
                                 nameserver_ip="127.0.0.1", nameserver_port=9,
                                 tsig_secret="c2VjcmV0")
    host_service.create_host(dbsession, "gone.dead.test", alice)
    dbsession.commit()
    client.login("alice")
    page = client.post("/hosts/gone.dead.test/delete", {"csrf_token": client.csrf_token()}).follow()
    assert "Host gone.dead.test deleted." in page.text
    assert "The DNS records of gone.dead.test could not be removed" in page.text


# --- permissions ------------------------------------------------------------------------------

HOST_URLS = [("GET", ""), ("GET", "edit"), ("POST", "edit"), ("POST", "secret"), ("GET", "config"),
             ("POST", "lan"), ("GET", "delete"), ("POST", "delete")]


def test_admin_may_use_every_host_page(client: AppClient, alice: Any, make_user: Any,
                                       make_domain: Any, make_host: Any, dbsession: Any) -> None:
    make_user("root", admin=True)
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    client.login("root")
    token = client.csrf_token()
    for method, name in HOST_URLS:
        url = f"/hosts/home.example.org/{name}"
        if method == "GET":
            assert client.get(url).status_int == 200, url
        else:
            response = client.post(url, {"csrf_token": token, "netmask_ipv4": "32",
                                         "netmask_ipv6": "64"})
            assert response.status_int in (200, 303), url
    assert host_row(dbsession, "home.example.org") is None  # the admin deleted it


def test_anonymous_is_sent_to_login(client: AppClient, alice: Any, make_domain: Any,
                                    make_host: Any) -> None:
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    for _method, name in HOST_URLS:
        response = client.get(f"/hosts/home.example.org/{name}", expect_errors=True)
        assert response.status_int in (303, 404)
    assert client.get("/hosts/add").status_int == 303


# --- reverse DNS through a resolver of our own ---------------------------------------------------

@pytest.fixture
def ptr_server() -> Any:
    """A one-socket DNS server on loopback: PTR for 192.0.2.5, NXDOMAIN for anything else."""
    import socket
    import threading

    import dns.message
    import dns.rcode
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except OSError:
                continue
            query = dns.message.from_wire(wire)
            reply = dns.message.make_response(query)
            qname = query.question[0].name
            if qname.to_text() == "5.2.0.192.in-addr.arpa.":
                reply.answer.append(dns.rrset.from_text(qname, 60, "IN", "PTR", "router.example.net."))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    sock.close()


def test_reverse_names_of_the_published_addresses(settings: dict[str, str], session_factory: Any,
                                                  ptr_server: int, alice: Any, make_domain: Any,
                                                  make_host: Any, dbsession: Any) -> None:
    from nsupdate_pyramid import main

    site = main({}, **{**settings, "nsupdate.resolvers": f"127.0.0.1:{ptr_server}"})
    site.registry["dbsession_factory"] = session_factory
    make_domain("example.org", alice)
    make_host("home.example.org", alice)
    row = host_row(dbsession, "home.example.org")
    row.published_ipv4, row.published_ipv6 = "192.0.2.5", "2001:db8::5"
    dbsession.commit()
    browser = AppClient(site, extra_environ={"HTTP_HOST": "example.com"})
    browser.login("alice")
    page = browser.get("/hosts/home.example.org/")
    assert "reverse DNS: router.example.net" in page.text
    assert "no reverse DNS name" in page.text  # the IPv6 address has none
