"""The update API end to end through the rfc2136 backend to real nameservers on loopback.

Every request here changes real DNS, which is checked with a DNS query; the
database side is the rolled-back test transaction as elsewhere. Host labels are
unique per test because the nameservers live for the whole run.
"""
from __future__ import annotations

import base64
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from nsupdate_pyramid.models import Host, RelatedHost
from nsupdate_pyramid.services.breaker import CircuitBreaker
from tests.conftest import AppClient
from tests.fixtures.bind import TSIG_ALGORITHMS
from tests.fixtures.net import free_port

SERVERS = ["bind_server", "pdns_server", "knot_server"]


@pytest.fixture(autouse=True)
def closed_breaker(app: Any) -> None:
    settings = app.registry["nsupdate.settings"]
    app.registry["nsupdate.breaker"] = CircuitBreaker(settings.dns_breaker_failures,
                                                     settings.dns_breaker_pause)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class Setup:
    """A domain on one nameserver and helpers to update and inspect a host in it."""

    def __init__(self, client: AppClient, server: Any, make_user: Any, make_domain: Any,
                 make_host: Any, dbsession: Any, *, port: int | None = None,
                 key: tuple[str, str, str] | None = None) -> None:
        self.client, self.server, self.dbsession = client, server, dbsession
        owner = make_user("owner-" + uuid.uuid4().hex[:6])
        algorithm, key_name, secret = key or (server.algorithm, server.key_name, server.secret)
        self.domain = make_domain("ddns.test", owner, nameserver_ip="127.0.0.1",
                                  nameserver_port=port or server.port, tsig_key_name=key_name,
                                  tsig_algorithm=algorithm, tsig_secret=secret)
        self.domain.backend = "rfc2136"
        dbsession.commit()
        self.label = "h" + uuid.uuid4().hex[:10]
        self.fqdn = f"{self.label}.ddns.test"
        self.host, self.secret = make_host(self.fqdn, owner)

    def update(self, path: str = "/nic/update", **params: str) -> Any:
        return self.client.get(path, params=params, headers=basic(self.fqdn, self.secret),
                               expect_errors=True)

    def dns(self, rdtype: str = "A", name: str | None = None) -> list[str]:
        return self.server.query(f"{name or self.label}.ddns.test.", rdtype)

    def row(self) -> Host:
        self.dbsession.expire_all()
        return self.dbsession.scalars(select(Host).where(Host.fqdn == self.fqdn)).one()


@pytest.fixture
def setup_for(client: AppClient, make_user: Any, make_domain: Any, make_host: Any,
              dbsession: Any) -> Any:
    def make(server: Any, **kw: Any) -> Setup:
        return Setup(client, server, make_user, make_domain, make_host, dbsession, **kw)

    return make


@pytest.mark.parametrize("server_name", SERVERS)
def test_update_cycle(request: pytest.FixtureRequest, setup_for: Any, server_name: str) -> None:
    s = setup_for(request.getfixturevalue(server_name))
    assert s.update(myip="192.0.2.10").text == "good 192.0.2.10"
    assert s.dns("A") == ["192.0.2.10"]
    assert s.update(myip="192.0.2.10").text == "nochg 192.0.2.10"
    assert s.update(myip="2001:db8::10").text == "good 2001:db8::10"
    assert s.dns("AAAA") == ["2001:db8::10"]
    assert s.dns("A") == ["192.0.2.10"]  # the other family is left alone
    assert s.update(myip="192.0.2.11,2001:db8::10").text == "good 192.0.2.11\nnochg 2001:db8::10"
    assert s.dns("A") == ["192.0.2.11"]
    assert s.update("/nic/delete", myip="0.0.0.0").text == "deleted A"
    assert s.dns("A") == [] and s.dns("AAAA") == ["2001:db8::10"]
    assert s.update("/nic/delete", myip="::").text == "deleted AAAA"
    assert s.dns("AAAA") == []
    row = s.row()
    assert (row.client_faults, row.server_faults) == (2, 0)  # two nochg, no DNS errors


@pytest.mark.parametrize("algorithm", TSIG_ALGORITHMS)
def test_every_tsig_algorithm(bind_server: Any, setup_for: Any, algorithm: str) -> None:
    key_name, secret = bind_server.algorithm_key(algorithm)
    s = setup_for(bind_server, key=(algorithm, key_name, secret))
    assert s.update(myip="192.0.2.20").text == "good 192.0.2.20"
    assert s.dns("A") == ["192.0.2.20"]


@pytest.mark.parametrize("server_name", SERVERS)
def test_wrong_tsig_secret_is_dnserr_and_a_server_fault(request: pytest.FixtureRequest,
                                                        setup_for: Any, server_name: str) -> None:
    server = request.getfixturevalue(server_name)
    wrong = base64.b64encode(b"not the right secret at all.....").decode()
    s = setup_for(server, key=(server.algorithm, server.key_name, wrong))
    response = s.update(myip="192.0.2.30")
    assert (response.status_int, response.text) == (200, "dnserr")
    row = s.row()
    assert row.server_faults == 1 and row.client_faults == 0
    assert "resulted in a dns error [" in row.server_result_msg
    assert "TSIG key" in row.server_result_msg
    assert wrong not in row.server_result_msg
    assert row.published_ipv4 == ""
    assert s.dns("A") == []


def test_every_answer_word_with_bind(bind_server: Any, setup_for: Any, dbsession: Any) -> None:
    s = setup_for(bind_server)
    assert s.update(myip="192.0.2.40,2001:db8::40").text == "good 192.0.2.40,2001:db8::40"
    assert s.client.get("/nic/update", headers=basic(s.fqdn, "wrong"),
                        expect_errors=True).text == "badauth"
    assert s.client.get("/nic/update", headers=basic(s.label, s.secret)).text == "notfqdn"
    assert s.update(hostname="other.ddns.test").text == "nohost"
    assert s.client.get("/nic/update", params={"myip": "192.0.2.41"},
                        headers={**basic(s.fqdn, s.secret), "User-Agent": "EvilAgent/1.0"}).text == "badagent"
    assert s.update(myip="999.1.1.1").text == "dnserr"
    assert s.dns("A") == ["192.0.2.40"]  # none of the failures above touched DNS
    # An address on the bad list blocks the host and removes both records from DNS.
    assert s.update(myip="198.18.0.1").text == "abuse"
    assert s.dns("A") == [] and s.dns("AAAA") == []
    assert s.update(myip="192.0.2.42").text == "abuse"
    dbsession.execute(update(Host).where(Host.fqdn == s.fqdn).values(abuse=False, abuse_blocked=False,
                                                                    available=False))
    dbsession.commit()
    assert s.update(myip="192.0.2.42").text == "nohost"
    assert s.dns("A") == []


def test_related_hosts_in_bind(bind_server: Any, setup_for: Any, dbsession: Any) -> None:
    s = setup_for(bind_server)
    dbsession.add(RelatedHost(host_id=s.host.id, name="nas", interface_id_ipv4="0.0.0.5",
                              interface_id_ipv6="::5"))
    dbsession.execute(update(Host).where(Host.id == s.host.id).values(netmask_ipv4=24))
    dbsession.commit()
    assert s.update(myip="192.0.2.77,2001:db8:0:7::1").text == "good 192.0.2.77,2001:db8:0:7::1"
    assert s.dns("A", f"nas.{s.label}") == ["192.0.2.5"]
    assert s.dns("AAAA", f"nas.{s.label}") == ["2001:db8:0:7::5"]
    assert s.update(myip="2001:db8:0:8::/64").text == "good 2001:db8:0:8::"
    assert s.dns("AAAA", f"nas.{s.label}") == ["2001:db8:0:8::5"]
    assert s.dns("AAAA") == ["2001:db8:0:7::1"]


def test_dead_nameserver(bind_server: Any, setup_for: Any) -> None:
    """Nothing listens: dnserr at once, a server fault, and the breaker opens after two."""
    s = setup_for(bind_server, port=free_port())
    started = time.monotonic()
    for _ in range(2):
        assert s.update(myip="192.0.2.50").text == "dnserr"
    assert time.monotonic() - started < 2
    row = s.row()
    assert row.server_faults == 2
    assert "cannot reach 127.0.0.1" in row.server_result_msg
    paused = s.update(myip="192.0.2.50")
    assert paused.text == "dnserr"
    assert "nameserver paused after repeated failures" in s.row().server_result_msg
    assert s.row().available is True  # the owner's flag is not ours to change


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A UDP and TCP port that accepts queries and never answers: a hung nameserver."""
    port = free_port()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", port))
    tcp.listen(8)
    yield port
    udp.close()
    tcp.close()


def test_hung_nameserver_times_out_within_the_budget(bind_server: Any, setup_for: Any,
                                                     blackhole: int, app: Any) -> None:
    s = setup_for(bind_server, port=blackhole)
    budget = float(app.registry.settings["dns.backend.rfc2136.timeout"])
    started = time.monotonic()
    assert s.update(myip="192.0.2.60").text == "dnserr"
    assert time.monotonic() - started < budget + 0.5
    assert "timed out" in s.row().server_result_msg
    assert s.row().server_faults == 1


def test_nochg_verified_with_the_nameserver(bind_server: Any, settings: dict[str, str],
                                            session_factory: Any, make_user: Any, make_domain: Any,
                                            make_host: Any, dbsession: Any) -> None:
    """nsupdate.nochg_verify_dns: a record changed behind our back is sent again."""
    import dns.query
    import dns.update

    from nsupdate_pyramid import main

    verifying = main({}, **{**settings, "nsupdate.nochg_verify_dns": "true"})
    verifying.registry["dbsession_factory"] = session_factory
    client = AppClient(verifying, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "192.0.2.7"})
    s = Setup(client, bind_server, make_user, make_domain, make_host, dbsession)
    assert s.update(myip="192.0.2.80").text == "good 192.0.2.80"
    assert s.update(myip="192.0.2.80").text == "nochg 192.0.2.80"
    message = dns.update.UpdateMessage(bind_server.zone, keyring=bind_server.keyring())
    message.delete(s.label, "A")
    dns.query.udp(message, "127.0.0.1", port=bind_server.port, timeout=2)
    assert s.update(myip="192.0.2.80").text == "good 192.0.2.80"
    assert s.dns("A") == ["192.0.2.80"]
