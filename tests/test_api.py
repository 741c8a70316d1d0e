"""The dyndns2 API contract (DESIGN.md section 6) against the in-memory backend.

The same answers against real nameservers are in test_api_nameservers.py; here
the many decision branches run fast.
"""
from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from nsupdate_pyramid.models import Host, RelatedHost, Service, ServiceConfig, utcnow
from nsupdate_pyramid.services.breaker import CircuitBreaker
from tests.conftest import AppClient

pytestmark = pytest.mark.usefixtures("fresh_api_state")


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def fresh_api_state(app: Any) -> Any:
    """Each test starts with no records and a closed circuit breaker."""
    backend = app.registry["nsupdate.dns_backends"]["memory"]
    backend.records.clear()
    settings = app.registry["nsupdate.settings"]
    app.registry["nsupdate.breaker"] = CircuitBreaker(settings.dns_breaker_failures,
                                                     settings.dns_breaker_pause)
    yield backend
    app.registry["nsupdate.thirdparty"].wait_idle()


@pytest.fixture
def memory(fresh_api_state: Any) -> Any:
    return fresh_api_state


@pytest.fixture
def alice(make_user: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def home(alice: Any, make_domain: Any, make_host: Any) -> tuple[Any, str]:
    make_domain("example.org", alice)
    return make_host("home.example.org", alice)


class Router:
    """An update client of one host."""

    def __init__(self, client: AppClient, fqdn: str, secret: str) -> None:
        self.client, self.fqdn, self.secret = client, fqdn, secret

    def update(self, path: str = "/nic/update", *, secret: str | None = None, user: str | None = None,
               method: str = "GET", headers: dict[str, str] | None = None, **params: str) -> Any:
        all_headers = {**basic(user or self.fqdn, self.secret if secret is None else secret),
                       **(headers or {})}
        if method == "GET":
            return self.client.get(path, params=params, headers=all_headers, expect_errors=True)
        return self.client.request(f"{path}?{urlencode(params)}", method=method, headers=all_headers,
                                   expect_errors=True)


@pytest.fixture
def router(client: AppClient, home: tuple[Any, str]) -> Router:
    return Router(client, "home.example.org", home[1])


def host_row(dbsession: Any, fqdn: str = "home.example.org") -> Host:
    dbsession.expire_all()
    return dbsession.scalars(select(Host).where(Host.fqdn == fqdn)).one()


def records(memory: Any, name: str = "home", rdtype: str = "A") -> list[str]:
    return memory.records.get(("example.org", name, rdtype), [])


# ---- authentication -------------------------------------------------------------------

def test_no_credentials_is_401_with_challenge(client: AppClient) -> None:
    response = client.get("/nic/update", expect_errors=True)
    assert response.status_int == 401
    assert response.text == "badauth"
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert response.content_type == "text/plain"


@pytest.mark.parametrize("header", ["Bearer abc", "Basic", "Basic !!!notbase64", "Basic " +
                                    base64.b64encode(b"no-colon").decode()])
def test_broken_credentials_are_401(client: AppClient, header: str) -> None:
    response = client.get("/nic/update", headers={"Authorization": header}, expect_errors=True)
    assert (response.status_int, response.text) == (401, "badauth")


def test_bad_hosts_are_refused_before_anything_else(client: AppClient) -> None:
    response = client.get("/nic/update", params={"hostname": "BAD.example.org."}, expect_errors=True)
    assert (response.status_int, response.text) == (403, "abuse")
    response = client.get("/nic/update", headers=basic("bad.example.org", "x"), expect_errors=True)
    assert (response.status_int, response.text) == (403, "abuse")


def test_username_without_dot_is_notfqdn(client: AppClient) -> None:
    response = client.get("/nic/update", headers=basic("home", "x"))
    assert (response.status_int, response.text) == (200, "notfqdn")


def test_unknown_host_is_badauth_and_records_nothing(router: Router, dbsession: Any) -> None:
    response = router.update(user="nobody.example.org")
    assert (response.status_int, response.text) == (401, "badauth")
    assert host_row(dbsession).api_auth_faults == 0


def test_wrong_secret_is_counted_although_the_answer_is_401(router: Router, dbsession: Any) -> None:
    response = router.update(secret="wrong", myip="192.0.2.1")
    assert (response.status_int, response.text) == (401, "badauth")
    host = host_row(dbsession)
    assert host.api_auth_faults == 1
    assert host.api_auth_result_msg.endswith(
        "api authentication failure. [hostname: home.example.org (given in basic auth)]")
    assert host.published_ipv4 == "" and host.last_seen is None


def test_host_name_is_case_insensitive_and_ignores_trailing_dot(router: Router, memory: Any) -> None:
    response = router.update(user="HOME.Example.ORG.", myip="192.0.2.1", hostname="home.example.org.")
    assert response.text == "good 192.0.2.1"
    assert records(memory) == ["192.0.2.1"]


def test_brute_force_guard(router: Router, dbsession: Any, app: Any) -> None:
    limit = app.registry["nsupdate.settings"].api_auth_max_failures
    for _ in range(limit):
        assert router.update(secret="guess").status_int == 401
    assert host_row(dbsession).api_auth_faults == limit
    # Locked: even the right secret is not checked, and nothing more is written.
    locked = router.update(myip="192.0.2.1")
    assert (locked.status_int, locked.text) == (401, "badauth")
    assert host_row(dbsession).api_auth_faults == limit
    # After a quiet period the host works again.
    dbsession.execute(update(Host).values(last_auth_failure=utcnow() - timedelta(hours=1)))
    dbsession.commit()
    assert router.update(myip="192.0.2.1").text == "good 192.0.2.1"
    assert host_row(dbsession).recent_auth_failures == 0


def test_legacy_secret_hash_is_upgraded(router: Router, dbsession: Any) -> None:
    import hashlib

    legacy = "sha1$salt$" + hashlib.sha1(b"saltold-secret").hexdigest()
    dbsession.execute(update(Host).values(update_secret_hash=legacy))
    dbsession.commit()
    assert router.update(secret="old-secret", myip="192.0.2.9").text == "good 192.0.2.9"
    assert host_row(dbsession).update_secret_hash.startswith("sha256$")


# ---- the host and the client ------------------------------------------------------------

@pytest.mark.parametrize(("hostname", "word"), [("other.example.org", "nohost"), ("home", "notfqdn"),
                                                ("", "notfqdn"),
                                                ("home.example.org,x.example.org", "nohost")])
def test_other_hostname_than_authenticated(router: Router, dbsession: Any, hostname: str,
                                           word: str) -> None:
    response = router.update(hostname=hostname, myip="192.0.2.1")
    assert (response.status_int, response.text) == (200, word)
    host = host_row(dbsession)
    assert host.client_faults == 1
    assert f"rejecting to update wrong host {hostname} (given in query string)" in host.client_result_msg


def test_bad_agent(router: Router, dbsession: Any, memory: Any) -> None:
    response = router.update(myip="192.0.2.1", headers={"User-Agent": "EvilAgent/1.0"})
    assert response.text == "badagent"
    host = host_row(dbsession)
    assert host.client_faults == 1
    assert "received update from bad user agent 'EvilAgent/1.0'" in host.client_result_msg
    assert records(memory) == []


# ---- addresses ------------------------------------------------------------------------------

def test_good_then_nochg_then_good(router: Router, dbsession: Any, memory: Any) -> None:
    assert router.update(myip="192.0.2.1").text == "good 192.0.2.1"
    first = host_row(dbsession)
    assert first.published_ipv4 == "192.0.2.1"
    assert first.last_update_ipv4 is not None and first.last_seen is not None
    assert first.client_result_msg.endswith(
        "home.example.org - received good update -> ip: 192.0.2.1 tls: False")
    assert first.client_faults == 0
    first_update, first_seen = first.last_update_ipv4, first.last_seen
    nochg = router.update(myip="192.0.2.1")
    assert nochg.text == "nochg 192.0.2.1"
    second = host_row(dbsession)
    assert second.client_faults == 1  # like nsupdate.info: repeated nochg is a client fault
    assert second.last_update_ipv4 == first_update  # no real change ...
    assert second.last_seen > first_seen  # ... but the host was seen
    assert "received no-change update, ip: 192.0.2.1 tls: False" in second.client_result_msg
    assert router.update(myip="192.0.2.2").text == "good 192.0.2.2"
    assert records(memory) == ["192.0.2.2"]


def test_other_family_is_left_alone(router: Router, memory: Any) -> None:
    assert router.update(myip="2001:db8::1").text == "good 2001:db8::1"
    assert router.update(myip="192.0.2.1").text == "good 192.0.2.1"
    assert records(memory, rdtype="AAAA") == ["2001:db8::1"]
    assert records(memory, rdtype="A") == ["192.0.2.1"]


def test_both_families_and_mixed_answers(router: Router) -> None:
    assert router.update(myip="192.0.2.1,2001:db8::1").text == "good 192.0.2.1,2001:db8::1"
    assert router.update(myip="192.0.2.1, 2001:db8::1").text == "nochg 192.0.2.1,2001:db8::1"
    assert router.update(myip="2001:db8::1,192.0.2.5").text == "good 192.0.2.5\nnochg 2001:db8::1"


def test_aliases_are_merged(router: Router, memory: Any) -> None:
    response = router.update(myipv4="192.0.2.3", myipv6="2001:db8::3")
    assert response.text == "good 192.0.2.3,2001:db8::3"
    assert router.update(ip="192.0.2.4").text == "good 192.0.2.4"
    assert router.update(ipv6="2001:db8::4").text == "good 2001:db8::4"


@pytest.mark.parametrize("bad", ["1234", "01.2.3.4", "1.2.3", "garbage", "192.0.2.1,nonsense",
                                 "fe80::1%eth0", "0.0.0.0"])
def test_invalid_address_is_dnserr_and_changes_nothing(router: Router, dbsession: Any, memory: Any,
                                                       bad: str) -> None:
    response = router.update(myip=bad)
    assert (response.status_int, response.text) == (200, "dnserr")
    host = host_row(dbsession)
    assert host.client_faults == 1
    assert "received bad ip address: '" in host.client_result_msg
    assert records(memory) == []


def test_addresses_are_canonical(router: Router, memory: Any) -> None:
    assert router.update(myip="::ffff:192.0.2.7").text == "good 192.0.2.7"
    assert router.update(myip="2001:DB8:0::0:5").text == "good 2001:db8::5"
    assert router.update(myip="2001:db8::5").text == "nochg 2001:db8::5"
    assert router.update(myip="192.0.2.8/24").text == "good 192.0.2.8"  # "/len" is cut
    assert records(memory, rdtype="AAAA") == ["2001:db8::5"]


def test_connection_address_when_none_given(router: Router, memory: Any) -> None:
    assert router.update().text == "good 192.0.2.7"  # the client's REMOTE_ADDR
    response = router.update(headers={"X-Forwarded-For": "203.0.113.50"})
    assert response.text == "nochg 192.0.2.7"  # untrusted peer: header ignored


def test_trusted_proxy_forwarded_for_and_proto(router: Router, dbsession: Any) -> None:
    response = router.client.get(
        "/nic/update", headers={**basic(router.fqdn, router.secret), "X-Forwarded-For": "203.0.113.50",
                                "X-Forwarded-Proto": "https"},
        extra_environ={"REMOTE_ADDR": "10.9.9.9"})
    assert response.text == "good 203.0.113.50"
    assert host_row(dbsession).tls_update_ipv4 is True
    assert "tls: True" in host_row(dbsession).client_result_msg


def test_abuse_and_unavailable(router: Router, dbsession: Any, memory: Any) -> None:
    dbsession.execute(update(Host).values(abuse=True))
    dbsession.commit()
    assert router.update(myip="192.0.2.1").text == "abuse"
    assert host_row(dbsession).client_faults == 0
    assert "abuse / abuse_blocked flag set" in host_row(dbsession).client_result_msg
    dbsession.execute(update(Host).values(abuse=False, available=False))
    dbsession.commit()
    assert router.update(myip="192.0.2.1").text == "nohost"
    assert "received update for unavailable host" in host_row(dbsession).client_result_msg
    assert records(memory) == []


def test_blacklisted_address_blocks_the_host(router: Router, dbsession: Any, memory: Any) -> None:
    assert router.update(myip="192.0.2.1,2001:db8::1").text.startswith("good")
    assert router.update(myip="198.18.0.5").text == "abuse"
    host = host_row(dbsession)
    assert host.abuse and host.abuse_blocked
    assert "received update to blacklisted ip address: '198.18.0.5'" in host.client_result_msg
    assert records(memory) == [] and records(memory, rdtype="AAAA") == []
    assert router.update(myip="192.0.2.1").text == "abuse"


def test_head_and_other_methods_never_update(router: Router, dbsession: Any) -> None:
    head = router.client.head("/nic/update?myip=192.0.2.1", headers=basic(router.fqdn, router.secret),
                              expect_errors=True)
    assert head.status_int == 405
    put = router.update(method="PUT", myip="192.0.2.1")
    assert put.status_int == 405
    assert host_row(dbsession).last_seen is None


def test_post_works_too(router: Router, memory: Any) -> None:
    response = router.client.post("/nic/update", {"myip": "192.0.2.11"},
                                  headers=basic(router.fqdn, router.secret))
    assert response.text == "good 192.0.2.11"


# ---- prefixes and related hosts --------------------------------------------------------------

def test_related_hosts_follow_the_address(router: Router, dbsession: Any, memory: Any) -> None:
    host = host_row(dbsession)
    host.netmask_ipv4 = 29
    dbsession.add_all([
        RelatedHost(host_id=host.id, name="nas", interface_id_ipv4="0.0.0.1", interface_id_ipv6="::1"),
        RelatedHost(host_id=host.id, name="tv", interface_id_ipv4="", interface_id_ipv6="::2"),
        RelatedHost(host_id=host.id, name="off", interface_id_ipv4="0.0.0.2", available=False),
    ])
    dbsession.commit()
    memory.records[("example.org", "tv.home", "A")] = ["192.0.2.99"]
    assert router.update(myip="192.0.2.12,2001:db8:1:2::77").text == "good 192.0.2.12,2001:db8:1:2::77"
    assert records(memory, "nas.home") == ["192.0.2.9"]
    assert records(memory, "nas.home", "AAAA") == ["2001:db8:1:2::1"]
    assert records(memory, "tv.home", "A") == []  # empty interface id: no record of that family
    assert records(memory, "tv.home", "AAAA") == ["2001:db8:1:2::2"]
    assert records(memory, "off.home") == []


def test_prefix_update(router: Router, dbsession: Any, memory: Any) -> None:
    host = host_row(dbsession)
    dbsession.add(RelatedHost(host_id=host.id, name="nas", interface_id_ipv6="::1:2"))
    dbsession.commit()
    assert router.update(myip="2001:db8::9").text == "good 2001:db8::9"
    response = router.update(myip="192.0.2.1,2001:db8:aa:bb::/64")  # FRITZ!Box: <ipaddr>,<ip6lanprefix>
    assert response.text == "good 192.0.2.1,2001:db8:aa:bb::"
    assert records(memory, rdtype="AAAA") == ["2001:db8::9"]  # the host's own record stays
    assert records(memory, "nas.home", "AAAA") == ["2001:db8:aa:bb::1:2"]
    assert host_row(dbsession).published_prefix_ipv6 == "2001:db8:aa:bb::"
    again = router.update(myip="192.0.2.1,2001:db8:aa:bb::/64")
    assert again.text == "nochg 192.0.2.1,2001:db8:aa:bb::"


# ---- delete -----------------------------------------------------------------------------------

def test_delete(router: Router, dbsession: Any, memory: Any) -> None:
    router.update(myip="192.0.2.1,2001:db8::1")
    assert router.update("/nic/delete", myip="0.0.0.0").text == "deleted A"
    assert records(memory) == [] and records(memory, rdtype="AAAA") == ["2001:db8::1"]
    assert host_row(dbsession).published_ipv4 == ""
    assert "received delete for record A, tls: False" in host_row(dbsession).client_result_msg
    assert router.update("/nic/delete", myip="::").text == "deleted AAAA"
    router.update(myip="192.0.2.1,2001:db8::1")
    assert router.update("/nic/delete", myip="0.0.0.0,::").text == "deleted A,AAAA"
    assert router.update("/nic/delete").text == "deleted A"  # the connection's family
    assert router.update(myip="192.0.2.1").text == "good 192.0.2.1"  # sent again after a delete


def test_delete_needs_auth(client: AppClient, home: Any) -> None:
    assert client.get("/nic/delete", expect_errors=True).status_int == 401


# ---- 911 ----------------------------------------------------------------------------------------

def test_unexpected_error_is_911(router: Router, dbsession: Any, caplog: Any) -> None:
    from nsupdate_pyramid.models import Domain

    dbsession.execute(update(Domain).values(backend="removed-from-the-ini"))
    dbsession.commit()
    response = router.update(myip="192.0.2.1")
    assert (response.status_int, response.text) == (200, "911")
    incident = response.headers["X-Incident"]
    assert any(incident in record.getMessage() for record in caplog.records)
    assert host_row(dbsession).last_seen is None  # the failed request changed nothing


# ---- session-authenticated updates from the host page --------------------------------------------

def test_update_authorized_needs_login(client: AppClient, home: Any) -> None:
    response = client.get("/nic/update_authorized", params={"hostname": "home.example.org"})
    assert response.status_int == 302
    assert "/login?came_from=" in response.location


def test_update_authorized_needs_the_csrf_token(client: AppClient, home: Any, memory: Any,
                                                dbsession: Any) -> None:
    client.login("alice")
    # What a link or an <img> on another site would send: the cookies, but no token.
    forged = client.get("/nic/update_authorized",
                        params={"hostname": "home.example.org", "myip": "203.0.113.66"},
                        expect_errors=True)
    assert forged.status_int == 403
    assert records(memory) == []
    token = client.csrf_token()
    response = client.get("/nic/update_authorized",
                          params={"hostname": "home.example.org", "myip": "192.0.2.21"},
                          headers={"X-CSRF-Token": token})
    assert response.text == "good 192.0.2.21"
    response = client.post("/nic/delete_authorized",
                           {"hostname": "home.example.org", "myip": "0.0.0.0", "csrf_token": token})
    assert response.text == "deleted A"


def test_update_authorized_only_for_own_hosts(client: AppClient, home: Any, make_user: Any) -> None:
    make_user("bob")
    client.login("bob")
    token = client.csrf_token()
    for params in ({"hostname": "home.example.org"}, {}, {"hostname": "nothing.example.org"}):
        response = client.get("/nic/update_authorized", params={**params, "myip": "192.0.2.1"},
                              headers={"X-CSRF-Token": token})
        assert response.text == "nohost"


# ---- the key URL of django-dynamic-dns --------------------------------------------------------------

def test_dynamicdns_key_url(client: AppClient, home: tuple[Any, str], memory: Any,
                            dbsession: Any) -> None:
    url = "/dynamicdns/update/home.example.org/"
    assert client.post(url, {"key": home[1], "ip": "192.0.2.30"}).text == "good 192.0.2.30"
    assert client.post(url, {"key": home[1]}).text == "good 192.0.2.7"
    wrong = client.post(url, {"key": "wrong"}, expect_errors=True)
    assert (wrong.status_int, wrong.text) == (401, "badauth")
    assert host_row(dbsession).api_auth_faults == 1
    assert client.get(url, expect_errors=True).status_int == 405
    assert client.post("/dynamicdns/update/nope.example.org/", {"key": "x"},
                       expect_errors=True).status_int == 401


# ---- address echo ------------------------------------------------------------------------------------

def test_myip(client: AppClient) -> None:
    response = client.get("/myip", extra_environ={"REMOTE_ADDR": "::ffff:198.51.100.1"})
    assert (response.text, response.content_type) == ("198.51.100.1", "text/plain")
    assert client.get("/myip", extra_environ={"REMOTE_ADDR": "::1"}).text == "::1"


def test_detectip(client: AppClient, app: Any) -> None:
    data = client.get("/detectip.json", extra_environ={"REMOTE_ADDR": "2001:db8::99"}).json
    assert data == {"ip": "2001:db8::99", "version": 6, "tls": False}
    token = app.registry["nsupdate.detectip"].new_token()
    assert client.get(f"/detectip/{token}/").status_int == 204
    assert client.get(f"/detectip/{token}/", extra_environ={"REMOTE_ADDR": "2001:db8::5"}).status_int == 204
    assert client.get(f"/detectip/{token}.json").json == {"ipv4": "192.0.2.7", "ipv6": "2001:db8::5"}
    assert client.get("/detectip/unknown-token/").status_int == 204
    assert client.get("/detectip/unknown-token.json").json == {"ipv4": "", "ipv6": ""}


def test_detectip_cors_only_for_our_pages(client: AppClient) -> None:
    ours = client.get("/detectip.json", headers={"Origin": "http://example.com"})
    assert ours.headers["Access-Control-Allow-Origin"] == "http://example.com"
    theirs = client.get("/detectip.json", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in theirs.headers


# ---- third-party services -------------------------------------------------------------------------

def test_services_are_told_after_the_answer(router: Router, dbsession: Any, app: Any,
                                            dyndns2_server: Any) -> None:
    host = host_row(dbsession)
    service = Service(name="other", server=f"127.0.0.1:{dyndns2_server.port}", path="/nic/update",
                      secure=False)
    dbsession.add(service)
    dbsession.flush()
    dbsession.add_all([
        ServiceConfig(host_id=host.id, service_id=service.id, hostname="me.other.example",
                      name="me", password="pw", give_ipv4=True),
        ServiceConfig(host_id=host.id, service_id=service.id, hostname="v6.other.example",
                      name="me", password="pw", give_ipv6=True),
    ])
    dbsession.commit()
    assert router.update(myip="192.0.2.40").text == "good 192.0.2.40"
    assert app.registry["nsupdate.thirdparty"].wait_idle(10)
    assert dyndns2_server.requests == [("me", "pw", "me.other.example", "192.0.2.40")]
    dbsession.expire_all()
    results = {c.hostname: c.last_result for c in dbsession.scalars(select(ServiceConfig))}
    assert results["me.other.example"].endswith("192.0.2.40: HTTP 200: good 192.0.2.40")
    assert results["v6.other.example"] == ""
    assert router.update(myip="192.0.2.40").text == "nochg 192.0.2.40"  # nochg: nobody is told
    assert app.registry["nsupdate.thirdparty"].wait_idle(10)
    assert len(dyndns2_server.requests) == 1


def test_post_reads_repeated_query_parameters_and_the_form(router: Router) -> None:
    response = router.client.post("/nic/update?myip=192.0.2.51&myip=2001:db8::51", {"myip": "192.0.2.52"},
                                   headers=basic(router.fqdn, router.secret))
    # Every address of query and body counts; the later IPv4 one wins, as in a comma list.
    assert response.text == "good 192.0.2.51,2001:db8::51,192.0.2.52"


def test_broken_encodings_get_a_proper_answer(router: Router, client: AppClient) -> None:
    assert client.get("/nic/update?%ff", expect_errors=True).text == "badauth"
    assert router.update(myip="\ufffd").text == "dnserr"
    raw = client.get("/nic/update?myip=%ff", headers=basic(router.fqdn, router.secret))
    assert raw.text == "dnserr"
    odd = client.post("/nic/update", b"myip=192.0.2.53", headers={
        **basic(router.fqdn, router.secret), "Content-Type": "text/plain"})
    assert odd.text == "good 192.0.2.7"  # a body that is not a form is ignored
    assert client.post("/dynamicdns/update/%ff/", {"key": "x"}, expect_errors=True).status_int == 400


def test_fast_path_and_views_answer_alike(router: Router) -> None:
    """GET is answered in front of Pyramid, POST by the Pyramid view: one logic, one result."""
    get = router.update(myip="192.0.2.61")
    post = router.client.post("/nic/update", {"myip": "192.0.2.61"},
                              headers=basic(router.fqdn, router.secret))
    assert (get.text, post.text) == ("good 192.0.2.61", "nochg 192.0.2.61")
    for response in (get, post):
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.content_type == "text/plain"


class RacingBackend:
    """The memory backend, plus another client's update landing while ours talks to DNS."""

    def __init__(self, memory: Any, dbsession: Any) -> None:
        self.memory, self.dbsession, self.calls = memory, dbsession, 0
        self.name = memory.name

    def update(self, zone: Any, name: str, rdtype: str, values: list[str], ttl: Any = None) -> None:
        self.calls += 1
        self.memory.update(zone, name, rdtype, values, ttl)
        if self.calls == 1:  # what a request in another process publishes meanwhile
            self.memory.update(zone, name, rdtype, ["192.0.2.99"], ttl)
            self.dbsession.execute(update(Host).where(Host.fqdn == "home.example.org")
                                   .values(published_ipv4="192.0.2.99"))

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.memory, attribute)


def test_a_lost_race_is_decided_again_on_the_fresh_row(app: Any, router: Router, dbsession: Any,
                                                       memory: Any) -> None:
    """The write of a publishing request only applies to the row it decided on: when another
    update changed the published address meanwhile, the request runs again and DNS ends up
    holding what the database says."""
    backends = app.registry["nsupdate.dns_backends"]
    racing = RacingBackend(memory, dbsession)
    backends["memory"] = racing
    try:
        assert router.update(myip="192.0.2.5").text == "good 192.0.2.5"
    finally:
        backends["memory"] = memory
    assert racing.calls == 2  # sent again after the lost race
    row = host_row(dbsession)
    assert row.published_ipv4 == "192.0.2.5"
    assert records(memory) == ["192.0.2.5"]
    assert row.client_faults == 0 and row.last_seen is not None
    assert router.update(myip="192.0.2.5").text == "nochg 192.0.2.5"


# -- split horizon: lanip= ---------------------------------------------------------------------


def test_lanip_is_kept_on_the_host(router: Router, dbsession: Any, memory: Any) -> None:
    """Backends without a split horizon keep the LAN address as a setting only."""
    assert router.update(myip="192.0.2.1", lanip="192.168.1.20").text == "good 192.0.2.1"
    assert host_row(dbsession).lan_ip == "192.168.1.20"
    assert router.update(myip="192.0.2.1", lanip="fd00::0:20").text == "nochg 192.0.2.1"
    assert host_row(dbsession).lan_ip == "fd00::20"  # canonical
    assert router.update(myip="192.0.2.1").text == "nochg 192.0.2.1"  # absent: unchanged
    assert host_row(dbsession).lan_ip == "fd00::20"
    assert router.update(myip="192.0.2.1", lanip="").text == "nochg 192.0.2.1"  # empty: removed
    assert host_row(dbsession).lan_ip == ""
    assert records(memory) == ["192.0.2.1"]


@pytest.mark.parametrize("value", ["192.168.1.300", "lan", "0.0.0.0", "ff02::1"])
def test_bad_lanip_is_dnserr(router: Router, dbsession: Any, memory: Any, value: str) -> None:
    assert router.update(myip="192.0.2.1", lanip=value).text == "dnserr"
    row = host_row(dbsession)
    assert row.lan_ip == "" and row.client_faults == 1
    assert value in row.client_result_msg
    assert records(memory) == []  # nothing published for a request with a bad piece


@pytest.fixture
def builtin(app: Any, session_factory: Any, dbsession: Any, alice: Any) -> Any:
    """A built-in backend registered for the test, with a zone of alice's."""
    from nsupdate_pyramid.dns.builtin import BuiltinBackend
    from nsupdate_pyramid.services import domains as domain_service

    backend = BuiltinBackend("builtin", session_factory=session_factory)
    backends = app.registry["nsupdate.dns_backends"]
    backends["builtin"] = backend
    domain_service.create_domain(dbsession, "lan.example.net", alice, backend="builtin",
                                 dns_backend=backend)
    dbsession.commit()
    yield backend
    del backends["builtin"]


def lan_rows(dbsession: Any, name: str, rtype: str) -> list[tuple[str, str]]:
    from nsupdate_pyramid.models import Record, Zone

    return [tuple(row) for row in dbsession.execute(
        select(Record.data, Record.lan_data).join(Zone)
        .where(Zone.name == "lan.example.net", Record.name == name, Record.rtype == rtype))]


def test_lanip_reaches_the_builtin_nameserver(client: AppClient, builtin: Any, alice: Any,
                                              make_host: Any, dbsession: Any) -> None:
    _host, secret = make_host("nas.lan.example.net", alice)
    nas = Router(client, "nas.lan.example.net", secret)
    assert nas.update(myip="203.0.113.7", lanip="192.168.1.10").text == "good 203.0.113.7"
    assert lan_rows(dbsession, "nas", "A") == [("203.0.113.7", "192.168.1.10")]
    # A new public address keeps the LAN one; an IPv6 LAN address moves to the AAAA record.
    assert nas.update(myip="203.0.113.8").text == "good 203.0.113.8"
    assert lan_rows(dbsession, "nas", "A") == [("203.0.113.8", "192.168.1.10")]
    assert nas.update(myip="2001:db8::8", lanip="fd00::10").text == "good 2001:db8::8"
    assert lan_rows(dbsession, "nas", "A") == [("203.0.113.8", "")]
    assert lan_rows(dbsession, "nas", "AAAA") == [("2001:db8::8", "fd00::10")]
    # A deleted and re-created record gets the host's LAN address back.
    assert nas.update("/nic/delete", myip="2001:db8::8").text == "deleted AAAA"
    assert nas.update(myip="2001:db8::9").text == "good 2001:db8::9"
    assert lan_rows(dbsession, "nas", "AAAA") == [("2001:db8::9", "fd00::10")]
    # django-dynamic-dns's key URL: ip stays the public address, lanip the LAN one.
    response = client.post("/dynamicdns/update/nas.lan.example.net/",
                           {"key": secret, "ip": "203.0.113.9", "lanip": "192.168.1.11"})
    assert response.text == "good 203.0.113.9"
    assert lan_rows(dbsession, "nas", "A") == [("203.0.113.9", "192.168.1.11")]
    assert host_row(dbsession, "nas.lan.example.net").lan_ip == "192.168.1.11"


def test_lan_address_set_on_the_host(client: AppClient, builtin: Any, alice: Any, make_host: Any,
                                     dbsession: Any) -> None:
    """What the host page and ``nsupdate-admin host set --lan-ip`` call: the setting, then
    (after the caller's commit) the nameserver."""
    from nsupdate_pyramid.services import domains as domain_service
    from nsupdate_pyramid.services import hosts as host_service
    from nsupdate_pyramid.services.errors import InvalidValue

    host, secret = make_host("pc.lan.example.net", alice)
    assert Router(client, "pc.lan.example.net", secret).update(myip="203.0.113.20").text \
        == "good 203.0.113.20"
    zone = domain_service.zone_info(host.domain, 60)
    lan = host_service.set_lan_address(host, " 192.168.7.7 ")
    assert lan == host.lan_ip == "192.168.7.7"
    host_service.publish_lan_address(builtin, zone, host.name, lan)
    assert lan_rows(dbsession, "pc", "A") == [("203.0.113.20", "192.168.7.7")]
    with pytest.raises(InvalidValue):
        host_service.set_lan_address(host, "192.168.7.300")
    assert host.lan_ip == "192.168.7.7"
    host_service.publish_lan_address(builtin, zone, host.name, host_service.set_lan_address(host, ""))
    assert lan_rows(dbsession, "pc", "A") == [("203.0.113.20", "")]
    host_service.publish_lan_address(None, zone, host.name, "192.168.7.8")  # no split horizon: nothing
